"""Benchmark of the near-real-time loop: per-batch cost and latency, and how they grow with history.

Usage: ``python -m chargerlogs.bench_live`` (``make bench-live``; ``--help`` explains every option).

Each scenario generates one live run (``chargerlogs-generate --live --no-wait``: one set of files
per one-minute batch period, late and re-sent uploads included) of ``history days + batches``
minutes. The history's periods are joined into one file per day, stream and layout (lines in
arrival order, ids as generated) and loaded with a cold build; then the remaining periods are
delivered one at a time into the landing folder and each gets one turn of the live loop
(:func:`chargerlogs.live_loop.turn`: land, build the dashboard's marts incrementally, publish).
Printed: the cold build, and per batch the wall time and the landed-to-published latency, p50 and
p95. The history comparison runs the same fleet with two history lengths, in this one run, and
prints the ratio of their per-batch medians (a cost flat in history gives 1).
"""

from __future__ import annotations

import argparse
import gzip
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from chargerlogs import land, publish
from chargerlogs.cli import OneLineErrorParser, positive_int
from chargerlogs.live_loop import BatchReport, LoopSummary, Warehouse, turn

PROG = "python -m chargerlogs.bench_live"
PERIOD = re.compile(r"part-(\d{6})")
MINUTES_PER_DAY = 1440


@dataclass
class ScenarioResult:
    """One scenario's figures."""

    chargers: int
    history_days: int
    history_lines: int
    cold_build_s: float
    batches: list[BatchReport]

    def wall(self) -> list[float]:
        return [b.land_s + b.build_s + b.publish_s for b in self.batches]

    def lines(self) -> list[str]:
        summary = LoopSummary(self.batches)
        wall = self.wall()
        latency = [b.latency_s for b in self.batches]
        return [
            f"{self.chargers:,} chargers, {self.history_days} day(s) of history "
            f"({self.history_lines:,} lines), cold build {self.cold_build_s:.1f} s; "
            f"{len(self.batches)} one-minute batches "
            f"({statistics.mean(b.lines for b in self.batches):,.0f} lines each on average)",
            f"  per-batch wall time: p50 {statistics.median(wall):.2f} s, "
            f"p95 {summary.percentile(wall, 0.95):.2f} s "
            f"(land {statistics.median(b.land_s for b in self.batches):.2f}, "
            f"dbt {statistics.median(b.build_s for b in self.batches):.2f}, "
            f"publish {statistics.median(b.publish_s for b in self.batches):.2f} s at p50)",
            f"  landed-to-published latency: p50 {statistics.median(latency):.2f} s, "
            f"p95 {summary.percentile(latency, 0.95):.2f} s",
        ]


def generate(out: Path, chargers: int, minutes: int, seed: int) -> None:
    """The live run's files, written at once."""
    generator = Path(sys.executable).parent / "chargerlogs-generate"
    command = [str(generator) if generator.exists() else "chargerlogs-generate"]
    command += ["--out", str(out), "--seed", str(seed), "--chargers", str(chargers), "--live"]
    command += ["--no-wait", "--start", "2026-03-02", "--duration-minutes", str(minutes)]
    subprocess.run([*command, "--quiet"], check=True)


def periods(folder: Path) -> dict[int, list[tuple[str, Path]]]:
    """(stream, file) of every batch period, by period number."""
    found: dict[int, list[tuple[str, Path]]] = defaultdict(list)
    for stream in land.STREAMS:
        for path in sorted((folder / stream).iterdir()):
            match = PERIOD.match(path.name)
            if match:
                found[int(match.group(1))].append((stream, path))
    return found


def join_history(files: list[tuple[str, Path]], landing: Path, day: int) -> int:
    """Append a day's period files into one file per stream and layout; the lines written."""
    joined: dict[Path, list[bytes]] = defaultdict(list)
    for stream, path in files:
        layout = path.name.split(".", 1)[0].rsplit("-", 1)[-1]
        layout = layout if layout in ("flat", "nested") else "events"
        suffix = ".json.gz" if path.name.endswith(".gz") else ".json"
        target = landing / stream / f"history-day{day:02d}-{layout}{suffix}"
        data = path.read_bytes()
        joined[target].append(gzip.decompress(data) if suffix == ".json.gz" else data)
    lines = 0
    for target, parts in joined.items():
        data = b"".join(parts)
        lines += data.count(b"\n")
        target.write_bytes(gzip.compress(data, 1) if target.name.endswith(".gz") else data)
    return lines


def scenario(
    work: Path, chargers: int, history_days: int, batches: int, seed: int, say
) -> ScenarioResult:
    """Generate, load the history with a cold build, then deliver and build batch by batch."""
    generated, landing, lake = work / "generated", work / "landing", work / "lake"
    history_minutes = history_days * MINUTES_PER_DAY
    say(f"generating {chargers} chargers x {history_minutes + batches} minutes")
    generate(generated, chargers, history_minutes + batches, seed)
    by_period = periods(generated)
    for stream in land.STREAMS:
        (landing / stream).mkdir(parents=True)
    history_lines = 0
    for day in range(history_days):
        files = [
            item
            for number in range(day * MINUTES_PER_DAY + 1, (day + 1) * MINUTES_PER_DAY + 1)
            for item in by_period.get(number, [])
        ]
        history_lines += join_history(files, landing, day)
    os.environ["CHARGER_DATA_DIR"] = str(landing)
    os.environ["CHARGER_LAKE_DIR"] = str(lake)
    warehouse_file = work / "warehouse.duckdb"
    published = work / "published" / "warehouse.duckdb"
    published.parent.mkdir()
    os.environ["CHARGER_DUCKDB_PATH"] = str(warehouse_file)
    warehouse = Warehouse(work / "dbt" / "target", work / "dbt" / "logs")
    say(f"cold build of {history_lines:,} history lines")
    began = time.monotonic()
    land.land(str(landing), lake, say=False)
    warehouse.invoke("seed")
    warehouse.build(whole=True)
    publish.publish(warehouse_file, published, scope=warehouse.publication_scope)
    cold_build_s = time.monotonic() - began
    reports = []
    for number in range(history_minutes + 1, history_minutes + batches + 1):
        for stream, path in by_period.get(number, []):
            shutil.copy(path, landing / stream / path.name)  # arrives now (mtime: now)
        report = turn(
            landing,
            lake,
            warehouse,
            warehouse_file,
            published,
            number=len(reports) + 1,
            whole=False,
        )
        if report is not None:
            reports.append(report)
            say(f"  {report.line()}")
    return ScenarioResult(chargers, history_days, history_lines, cold_build_s, reports)


def build_parser() -> OneLineErrorParser:
    """The command line."""
    parser = OneLineErrorParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument(
        "--chargers", type=positive_int, default=1000, help="fleet of the latency scenario (1000)"
    )
    parser.add_argument(
        "--batches", type=positive_int, default=15, help="one-minute batches per scenario (15)"
    )
    parser.add_argument(
        "--history-chargers",
        type=positive_int,
        default=100,
        help="fleet of the history comparison (100)",
    )
    parser.add_argument(
        "--long-history-days",
        type=positive_int,
        default=30,
        help="history of the comparison's second run, in days, against 1 (30)",
    )
    parser.add_argument("--seed", type=int, default=42, help="generator seed (42)")
    parser.add_argument(
        "--work",
        type=Path,
        default=None,
        help="folder under which the scenarios' temporary folder goes, created if missing "
        "(default: the system's temporary folder); the scenarios' folder is removed at the end",
    )
    return parser


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The checked arguments; the --work folder exists afterwards; a usage error exits 2."""
    parser = build_parser()
    options = parser.parse_args(argv)
    if options.work is not None:
        try:
            options.work.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            parser.error(f"--work {options.work}: {error.strerror or error}")
    return options


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: run the three scenarios and print their figures."""
    options = parse_args(argv)

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(dir=options.work) as folder:
        work = Path(folder)
        latency = scenario(
            work / "latency", options.chargers, 1, options.batches, options.seed, say
        )
        short = scenario(
            work / "short", options.history_chargers, 1, options.batches, options.seed, say
        )
        long = scenario(
            work / "long",
            options.history_chargers,
            options.long_history_days,
            options.batches,
            options.seed,
            say,
        )
    print("Live loop benchmark (one-minute batches; land, incremental dbt, publish):")
    for result in (latency, short, long):
        for line in result.lines():
            print(line)
    ratio = statistics.median(long.wall()) / statistics.median(short.wall())
    print(
        f"history cost ratio ({options.long_history_days} days / 1 day, "
        f"{options.history_chargers} chargers, per-batch p50): {ratio:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
