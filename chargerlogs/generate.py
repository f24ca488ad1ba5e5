"""``chargerlogs-generate``: write a deterministic EV-charger fleet dataset into a data folder."""

from __future__ import annotations

import csv
import json
import multiprocessing
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import numpy as np

from chargerlogs.anomalies import KINDS, Anomaly
from chargerlogs.clock import CLOCK_PATTERNS, ClockPeriod
from chargerlogs.fleet import build_fleet
from chargerlogs.options import PROG, Options, parse_options
from chargerlogs.ownership import GENERATOR_DIR, FolderRefused, claim
from chargerlogs.sessions import write_sessions
from chargerlogs.status import ChunkResult, ChunkTask, build_chunk

CHARGERS_PER_CHUNK = 3
STATUS_DIR = "charger_log_status"
SESSION_DIR = "charger_log_session"
STATUS_DEFECT_KEYS = (
    "exact_duplicate",
    "resent_duplicate",
    "conflicting_duplicate",
    "malformed_json",
    "missing_key_field",
    "type_mismatch",
    "out_of_range",
    "null_measurement",
    "unknown_field",
    "late_batch_rows",
    "clock_reset_rows",
    "glitch_rows",
)


@dataclass(frozen=True)
class RunSummary:
    """Totals of one run."""

    status_rows: int
    session_rows: int
    seconds: float


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``chargerlogs-generate``; returns the exit code."""
    options = parse_options(argv)
    try:
        summary = generate(options)
    except FolderRefused as refused:
        print(f"{PROG}: error: {refused}", file=sys.stderr)
        return 2
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
    status_dir, session_dir, generator_dir = _prepare(options.out, options.force)
    fleet = build_fleet(options)
    rng = np.random.default_rng([options.seed, 4])
    chosen = rng.choice(len(fleet), size=options.clock_reset_chargers, replace=False)
    patterns = {
        fleet[int(i)].charger_id: CLOCK_PATTERNS[k % len(CLOCK_PATTERNS)]
        for k, i in enumerate(chosen)
    }
    job = uuid.UUID(int=int(rng.integers(0, 2**63)) << 64 | int(rng.integers(0, 2**63)), version=4)
    tasks = [
        ChunkTask(
            options, k, tuple(fleet[first : first + CHARGERS_PER_CHUNK]), patterns, status_dir
        )
        for k, first in enumerate(range(0, len(fleet), CHARGERS_PER_CHUNK))
    ]
    results = []
    written = 0
    for result in _run(tasks, options.workers):
        results.append(result)
        written += result.rows
        elapsed = time.perf_counter() - began
        _say(
            options,
            f"{PROG}: chunk {result.index + 1}/{len(tasks)}: {result.rows:,} status "
            f"rows, {written:,} in total, {written / elapsed:,.0f} rows/s",
        )
    status = _name_status_files(results, status_dir, job)
    if any(meta["layout"] == "nested" for meta in status["files"].values()):
        (status_dir / "_SUCCESS").write_bytes(b"")
    sessions = write_sessions([s for r in results for s in r.sessions], options, session_dir)
    anomalies = [a for r in results for a in r.anomalies]
    _write_anomalies(generator_dir / "anomalies.csv", anomalies, sessions.ids)
    periods = [p for r in results for p in r.clock_periods]
    _write_clock_periods(generator_dir / "clock_periods.csv", periods)
    manifest = {
        "generator": {"name": PROG, "version": version("chargerlogs")},
        "arguments": options.to_json(),
        "window": {
            "start": options.start_epoch,
            "end": options.start_epoch + options.days * 86_400,
        },
        "chargers": [spec.to_json() for spec in fleet],
        STATUS_DIR: status,
        SESSION_DIR: {
            "files": sessions.files,
            "lines": sessions.lines,
            "clean_rows": sessions.clean_rows,
            "defects": sessions.defects,
        },
        "anomalies": {kind: sum(a.kind == kind for a in anomalies) for kind in KINDS},
        "clock_periods": {
            "periods": len(periods),
            "synced_chargers": sorted(
                {p.charger_id for p in periods if p.offset_s}
                & {p.charger_id for p in periods if p.offset_s == 0}
            ),
            "reset_sessions": sum(1 for r in results for s in r.sessions if s.clock_offset_s),
        },
    }
    text = json.dumps(manifest, indent=2) + "\n"
    (generator_dir / "manifest.json").write_text(text, encoding="utf-8")
    return RunSummary(written, sessions.lines, time.perf_counter() - began)


def _prepare(out: Path, force: bool) -> tuple[Path, Path, Path]:
    """Claim the data folder (or raise ``FolderRefused``) and create its empty stream folders."""
    claim(out, force, (STATUS_DIR, SESSION_DIR))
    folders = (out / STATUS_DIR, out / SESSION_DIR)
    for folder in folders:
        folder.mkdir()
    return folders[0], folders[1], out / GENERATOR_DIR


def _run(tasks: list[ChunkTask], workers: int) -> Iterator[ChunkResult]:
    """Chunk results in chunk order, computed in ``workers`` processes."""
    if workers == 1 or len(tasks) == 1:
        yield from map(build_chunk, tasks)
        return
    context = multiprocessing.get_context("fork")
    with context.Pool(min(workers, len(tasks))) as pool:
        yield from pool.imap(build_chunk, tasks)


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


def _write_anomalies(path: Path, anomalies: list[Anomaly], ids: dict[tuple[int, int], int]) -> None:
    """The ground truth of the labelled anomalies, ordered by start time."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("charger_id", "session_id", "phase", "start_time", "end_time", "kind"))
        for a in sorted(anomalies, key=lambda a: (a.start, a.charger_id, a.kind)):
            writer.writerow(
                (
                    a.charger_id,
                    ids[(a.charger_id, a.session)],
                    "" if a.phase is None else a.phase,
                    a.start,
                    a.end,
                    a.kind,
                )
            )


def _write_clock_periods(path: Path, periods: list[ClockPeriod]) -> None:
    """The ground truth of every charger's clock: its periods of true time and their offsets."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(
            ("charger_id", "period_start_server_time", "period_end_server_time", "offset_s")
        )
        for p in sorted(periods, key=lambda p: (p.charger_id, p.start)):
            writer.writerow((p.charger_id, p.start, p.end, p.offset_s))


def _say(options: Options, message: str) -> None:
    if not options.quiet:
        print(message, file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
