"""``chargerlogs-generate``: write a deterministic EV-charger fleet dataset into a data folder."""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from chargerlogs.ground_truth import (
    anomaly_counts,
    clock_summary,
    write_anomalies,
    write_clock_periods,
)
from chargerlogs.live import LiveStopped, run_live
from chargerlogs.options import PROG, Options, parse_command
from chargerlogs.ownership import FolderRefused
from chargerlogs.plan import SESSION_DIR, STATUS_DIR, in_chunk_order, plan_run, prepare_folder
from chargerlogs.sessions import write_sessions
from chargerlogs.status import STATUS_DEFECT_KEYS, ChunkResult, build_chunk


@dataclass(frozen=True)
class RunSummary:
    """Totals of one run."""

    status_rows: int
    session_rows: int
    seconds: float


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``chargerlogs-generate``; returns the exit code."""
    options, live = parse_command(argv)
    try:
        if live is not None:
            run_live(options, live, lambda message: _say(options, message))
            return 0
        summary = generate(options)
    except FolderRefused as refused:
        print(f"{PROG}: error: {refused}", file=sys.stderr)
        return 2
    except LiveStopped as stopped:
        print(f"{PROG}: {stopped}", file=sys.stderr)
        return 128 + stopped.signal
    _say(
        options,
        f"{PROG}: wrote {summary.status_rows:,} status lines and "
        f"{summary.session_rows:,} session lines to {options.out} "
        f"in {summary.seconds:.1f} s",
    )
    return 0


def generate(options: Options) -> RunSummary:
    """Write the whole data folder for validated options; returns the totals."""
    began = time.perf_counter()
    status_dir, session_dir, generator_dir = prepare_folder(options.out, options.force)
    plan = plan_run(options, status_dir)
    results = []
    written = 0
    for result in in_chunk_order(build_chunk, plan.tasks, options.workers):
        results.append(result)
        written += result.rows
        elapsed = time.perf_counter() - began
        _say(
            options,
            f"{PROG}: chunk {result.index + 1}/{len(plan.tasks)}: {result.rows:,} status "
            f"rows, {written:,} in total, {written / elapsed:,.0f} rows/s",
        )
    status = _name_status_files(results, status_dir, plan.job)
    if any(meta["layout"] == "nested" for meta in status["files"].values()):
        (status_dir / "_SUCCESS").write_bytes(b"")
    records = [s for r in results for s in r.sessions]
    sessions = write_sessions(records, options, session_dir)
    anomalies = [a for r in results for a in r.anomalies]
    write_anomalies(generator_dir / "anomalies.csv", anomalies, sessions.ids)
    periods = [p for r in results for p in r.clock_periods]
    write_clock_periods(generator_dir / "clock_periods.csv", periods)
    manifest = {
        "generator": {"name": PROG, "version": version("chargerlogs")},
        "arguments": options.to_json(),
        "window": {
            "start": options.start_epoch,
            "end": options.start_epoch + options.days * 86_400,
        },
        "chargers": [spec.to_json() for spec in plan.fleet],
        STATUS_DIR: status,
        SESSION_DIR: {
            "files": sessions.files,
            "lines": sessions.lines,
            "clean_rows": sessions.clean_rows,
            "defects": sessions.defects,
        },
        "anomalies": anomaly_counts(anomalies),
        "clock_periods": clock_summary(periods, records),
    }
    text = json.dumps(manifest, indent=2) + "\n"
    (generator_dir / "manifest.json").write_text(text, encoding="utf-8")
    return RunSummary(written, sessions.lines, time.perf_counter() - began)


def _name_status_files(
    results: list[ChunkResult], folder: Path, job: uuid.UUID
) -> dict[str, object]:
    """Rename the chunks' files to their final names, numbered in chunk order."""
    files: dict[str, dict[str, object]] = {}
    number = 0
    for result in results:
        for temporary, lines, layout, compress in result.files:
            if layout == "nested":
                name = f"part-{number:05d}-{job}.json" + (".gz" if compress else "")
            else:
                name = f"charger_log_status-{number:05d}.json"
            (folder / temporary).rename(folder / name)
            files[f"{folder.name}/{name}"] = {"lines": lines, "layout": layout, "gzip": compress}
            number += 1
    defects = {key: sum(r.defects[key] for r in results) for key in STATUS_DEFECT_KEYS}
    return {
        "files": files,
        "lines": sum(r.rows for r in results),
        "clean_rows": sum(r.clean_rows for r in results),
        "defects": defects,
        "clock_reset_chargers": sorted(
            {p.charger_id for r in results for p in r.clock_periods if p.offset_s}
        ),
        "unknown_fields": sorted({f for r in results for f in r.unknown_fields}),
    }


def _say(options: Options, message: str) -> None:
    if not options.quiet:
        print(message, file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
