"""The near-real-time loop: land new files, build incrementally, publish, one line per batch.

Usage: ``python -m chargerlogs.live_loop --data DIR --lake DIR --warehouse FILE --published FILE``
(``--help`` explains every option); ``make live`` runs it next to the live generator.

Each turn of the loop lands the files that arrived in the data folder since the last turn
(:mod:`chargerlogs.land`: each file once, into the lake's bronze layer), builds the warehouse
incrementally with dbt, invoked in this one long-lived process (the project is parsed once, not per
batch), publishes the serving copy (:mod:`chargerlogs.publish`, an atomic swap that readers never
see half-done), and prints one progress line: the batch's files and lines, the seconds of each
step, and the latency from the moment its oldest file landed in the folder to the moment the
published copy held it. The dashboard's marts are built every batch; every ``--full-every``
batches the whole project is (the fleet, data-quality and anomaly marts); each incremental model
takes in all the changes since its own last build, so a model built less often catches up exactly.

dbt-duckdb keeps its database open between invocations; the loop closes it after each build so that
the publication (and any other process) can read the file.
"""

from __future__ import annotations

import os
import signal
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from chargerlogs import land, publish
from chargerlogs.cli import OneLineErrorParser, non_negative_int, positive_int

PROG = "python -m chargerlogs.live_loop"
PROJECT_DIR = Path(__file__).resolve().parents[1]
# What the per-session dashboard reads, with every model upstream of it, and the line ledger.
HOT_SELECTION = (
    "+fct_session_briefings",
    "+fct_charging_profiles",
    "+rpt_big_changes",
    "+rpt_compressed_charging_profiles",
    "+fct_sessions_in_progress",
    "int_log_lines_classified",
)

Say = Callable[[str], None]


class LoopError(Exception):
    """A build or a publication that failed: the message names the step."""


@dataclass
class BatchReport:
    """What one turn of the loop did and how long each step took."""

    number: int
    files: int
    lines: int
    selection: str
    land_s: float
    build_s: float
    publish_s: float
    latency_s: float

    def line(self) -> str:
        return (
            f"batch {self.number}: {self.files} files, {self.lines:,} lines, "
            f"land {self.land_s:.2f} s, "
            f"dbt {self.selection} {self.build_s:.2f} s, publish {self.publish_s:.2f} s, "
            f"landed-to-published {self.latency_s:.2f} s"
        )


@dataclass
class LoopSummary:
    """Every batch of a run of the loop."""

    batches: list[BatchReport] = field(default_factory=list)

    def percentile(self, values: list[float], share: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]

    def lines(self) -> list[str]:
        if not self.batches:
            return ["no batch arrived"]
        latency = [batch.latency_s for batch in self.batches]
        wall = [batch.land_s + batch.build_s + batch.publish_s for batch in self.batches]
        return [
            f"{len(self.batches)} batches, {sum(b.lines for b in self.batches):,} lines",
            f"per-batch wall time: p50 {statistics.median(wall):.2f} s, "
            f"p95 {self.percentile(wall, 0.95):.2f} s",
            f"landed-to-published latency: p50 {statistics.median(latency):.2f} s, "
            f"p95 {self.percentile(latency, 0.95):.2f} s, max {max(latency):.2f} s",
        ]


class Warehouse:
    """dbt on this project in this process: parsed once, its database released after each build."""

    def __init__(self, target_path: Path, log_path: Path, vars_yaml: str | None = None) -> None:
        from dbt.cli.main import dbtRunner

        self.common = [
            "--project-dir",
            str(PROJECT_DIR),
            "--profiles-dir",
            str(PROJECT_DIR),
            "--target-path",
            str(target_path),
            "--log-path",
            str(log_path),
            "--quiet",
        ]
        if vars_yaml:
            self.common += ["--vars", vars_yaml]
        parsed = dbtRunner().invoke(["parse", *self.common])
        if not parsed.success:
            raise LoopError(f"dbt parse failed: {parsed.exception}")
        self.runner = dbtRunner(manifest=parsed.result)

    def invoke(self, *args: str) -> None:
        try:
            result = self.runner.invoke([*args, *self.common])
        finally:
            _release_database()
        if not result.success:
            failed = [
                f"{item.node.name}: {str(item.message).splitlines()[0] if item.message else ''}"
                for item in (result.result or [])
                if str(item.status) in ("error", "fail")
            ]
            raise LoopError(f"dbt {args[0]} failed: {'; '.join(failed) or result.exception}")


def _release_database() -> None:
    """Close the DuckDB database dbt-duckdb keeps open, so that other readers can open the file."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    environment = DuckDBConnectionManager._ENV
    DuckDBConnectionManager.close_all_connections()
    if environment is not None:
        environment.close()


def turn(
    data: Path,
    lake: Path,
    warehouse: Warehouse,
    warehouse_file: Path,
    published: Path,
    *,
    number: int,
    whole: bool,
) -> BatchReport | None:
    """One turn: land what arrived, build, publish; None when nothing arrived."""
    folders = [data / stream for stream in land.STREAMS]
    if not any(folder.is_dir() for folder in folders):
        return None  # the feed has not started (it refuses a folder it did not create)
    for folder in folders:
        folder.mkdir(exist_ok=True)
    started = time.monotonic()
    landed = land.land(str(data), lake, say=False)
    land_s = time.monotonic() - started
    if not landed:
        return None
    oldest_arrival = min(os.stat(row.source_file).st_mtime for row in landed)
    build_started = time.monotonic()
    if whole:
        warehouse.invoke("run")
    else:
        warehouse.invoke("run", "--select", *HOT_SELECTION)
    build_s = time.monotonic() - build_started
    publish_started = time.monotonic()
    publish.publish(warehouse_file, published)
    publish_s = time.monotonic() - publish_started
    return BatchReport(
        number=number,
        files=len(landed),
        lines=sum(row.line_count for row in landed),
        selection="all" if whole else "dashboard",
        land_s=land_s,
        build_s=build_s,
        publish_s=publish_s,
        latency_s=time.time() - oldest_arrival,
    )


def run_loop(
    data: Path,
    lake: Path,
    warehouse: Warehouse,
    published: Path,
    warehouse_file: Path,
    *,
    seconds: float,
    poll_s: float,
    full_every: int,
    until_idle_s: float | None,
    say: Say,
) -> LoopSummary:
    """Turn until ``seconds`` have passed (or no file came for ``until_idle_s``); the summary."""
    summary = LoopSummary()
    stop = {"now": False}

    def on_signal(number: int, frame: FrameType | None) -> None:
        stop["now"] = True

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        warehouse.invoke("seed")
        began = last_arrival = time.monotonic()
        while not stop["now"] and time.monotonic() - began < seconds:
            number = len(summary.batches) + 1
            whole = full_every > 0 and number % full_every == 0
            report = turn(
                data, lake, warehouse, warehouse_file, published, number=number, whole=whole
            )
            if report is None:
                if until_idle_s is not None and time.monotonic() - last_arrival > until_idle_s:
                    break
                time.sleep(poll_s)
                continue
            last_arrival = time.monotonic()
            summary.batches.append(report)
            say(report.line())
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return summary


def build_parser() -> OneLineErrorParser:
    """The command line."""
    parser = OneLineErrorParser(
        prog=PROG,
        description="Land new files, build the warehouse incrementally, publish; batch by batch.",
    )
    parser.add_argument(
        "--data", required=True, type=Path, help="the landing (data) folder to watch"
    )
    parser.add_argument("--lake", required=True, type=Path, help="the lake folder (bronze, ledger)")
    parser.add_argument("--warehouse", required=True, type=Path, help="dbt's DuckDB file")
    parser.add_argument(
        "--published", required=True, type=Path, help="the serving copy swapped in after each batch"
    )
    parser.add_argument(
        "--seconds", type=positive_int, default=120, help="how long to run, in seconds (120)"
    )
    parser.add_argument(
        "--until-idle",
        type=positive_int,
        default=None,
        help="stop earlier when no file has arrived for this many seconds",
    )
    parser.add_argument(
        "--poll", type=float, default=0.5, help="seconds between two looks at the folder (0.5)"
    )
    parser.add_argument(
        "--full-every",
        type=non_negative_int,
        default=10,
        help="build the whole project every this many batches, the dashboard's marts in "
        "between (10; 0: never)",
    )
    parser.add_argument("--vars", default=None, help="dbt vars, as for dbt --vars")
    parser.add_argument(
        "--dbt-dir", type=Path, default=Path("build/live_dbt"), help="dbt's target and log folder"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (1 with one line on stderr when a step fails)."""
    options = build_parser().parse_args(argv)
    options.lake.mkdir(parents=True, exist_ok=True)
    options.published.parent.mkdir(parents=True, exist_ok=True)
    os.environ["CHARGER_DATA_DIR"] = str(options.data.resolve())
    os.environ["CHARGER_LAKE_DIR"] = str(options.lake.resolve())
    os.environ["CHARGER_DUCKDB_PATH"] = str(options.warehouse.resolve())

    def say(line: str) -> None:
        print(line, flush=True)

    try:
        warehouse = Warehouse(options.dbt_dir / "target", options.dbt_dir / "logs", options.vars)
        say(f"{PROG}: watching {options.data} for {options.seconds} s")
        summary = run_loop(
            options.data,
            options.lake,
            warehouse,
            options.published,
            options.warehouse,
            seconds=options.seconds,
            poll_s=options.poll,
            full_every=options.full_every,
            until_idle_s=options.until_idle,
            say=say,
        )
    except (LoopError, land.LandingError, publish.PublishError, ValueError, OSError) as error:
        print(f"{PROG}: error: {str(error).splitlines()[0]}", file=sys.stderr)
        return 1
    for line in summary.lines():
        say(f"{PROG}: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
