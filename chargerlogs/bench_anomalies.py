"""Score the anomaly detectors on generated fleets: ``python -m chargerlogs.bench_anomalies``.

Two datasets are generated with the project's generator, outside the repository: a labelled one
(its default defect and anomaly rates) and one with every data-quality defect and no anomaly
(``--anomaly-rate 0``). The seeds and models that ``fct_anomalies`` needs are built on each with
dbt, and the anomalies are scored against the generator's labels (``_generator/anomalies.csv``) by
:mod:`chargerlogs.anomaly_scoring`: per kind precision, recall and F1, and false alarms per 1,000
charger-days on both datasets. The labels come from the generator alone; nothing here knows a
detector's rule or threshold.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

from chargerlogs import anomaly_scoring, dbt_runner
from chargerlogs.cli import OneLineErrorParser, non_negative_int, positive_int
from chargerlogs.dbt_runner import ProcessError
from chargerlogs.options import Options

PROG = "python -m chargerlogs.bench_anomalies"
DEFAULT_CHARGERS = 100
DEFAULT_DAYS = 30
DEFAULT_SEED = 42
BUILD_ARGS = (
    "build",
    "--select",
    "+fct_anomalies",
    "--resource-type",
    "seed",
    "--resource-type",
    "model",
)


@dataclass(frozen=True)
class Dataset:
    """One generated dataset of the benchmark and what it is for."""

    name: str
    description: str
    anomaly_rate: float

    def options(self, folder: Path, chargers: int, days: int, seed: int) -> Options:
        """The generator's options for this dataset; every other option at its default."""
        return Options(
            out=folder, chargers=chargers, days=days, seed=seed, anomaly_rate=self.anomaly_rate
        )


LABELLED = Dataset(
    "labelled", "default defect and anomaly rates", Options(out=Path(".")).anomaly_rate
)
NO_ANOMALY = Dataset("no_anomaly", "every defect at its default rate, --anomaly-rate 0", 0.0)


def build_parser() -> argparse.ArgumentParser:
    """The command line of the benchmark."""
    parser = OneLineErrorParser(
        prog=PROG,
        description=(
            "Generate a labelled fleet dataset and one with every data-quality defect and no "
            "anomaly, build fct_anomalies (and the seeds and models it reads) on each with dbt, "
            "and print per kind precision, recall and F1 against the generator's labels, and "
            "false alarms per 1,000 charger-days on both. A detection matches a label when both "
            "are on the same charger and of the same kind, their true-time spans overlap, and, "
            "where the label names a phase, on that phase. Exit code 0 when it ran, 1 when a "
            "step fails, 2 on bad input."
        ),
    )
    parser.add_argument(
        "--chargers",
        type=positive_int,
        default=DEFAULT_CHARGERS,
        help=f"chargers of each dataset (default {DEFAULT_CHARGERS})",
    )
    parser.add_argument(
        "--days",
        type=positive_int,
        default=DEFAULT_DAYS,
        help=f"simulated days of each dataset (default {DEFAULT_DAYS})",
    )
    parser.add_argument(
        "--seed",
        type=non_negative_int,
        default=DEFAULT_SEED,
        help=f"generator seed of both datasets (default {DEFAULT_SEED})",
    )
    parser.add_argument(
        "--work",
        type=Path,
        default=None,
        help="folder for the datasets, DuckDB files and dbt logs, kept afterwards; a dataset "
        "already there with the same generator options is reused instead of generated again "
        "(default: a temporary folder, removed at the end)",
    )
    parser.add_argument(
        "--threads",
        type=positive_int,
        default=os.cpu_count() or 1,
        help="dbt threads (default: the number of cores)",
    )
    return parser


def _say(message: str) -> None:
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)


def prepare_dataset(dataset: Dataset, folder: Path, args: argparse.Namespace) -> None:
    """Generate ``dataset`` into ``folder`` unless the same options already wrote it there."""
    options = dataset.options(folder, args.chargers, args.days, args.seed)
    manifest = folder / "_generator" / "manifest.json"
    if manifest.exists():
        recorded = json.loads(manifest.read_text(encoding="utf-8"))["arguments"]
        if {**recorded, "out": ""} == {**options.to_json(), "out": ""}:
            _say(f"reusing {folder} ({dataset.description})")
            return
    _say(f"generating {folder}: {args.chargers} chargers x {args.days} days, {dataset.description}")
    command = [sys.executable, "-m", "chargerlogs.generate", "--out", str(folder)]
    command += ["--chargers", str(args.chargers), "--days", str(args.days)]
    command += ["--seed", str(args.seed), "--anomaly-rate", str(dataset.anomaly_rate)]
    command += ["--force", "--quiet"]
    result = dbt_runner.run_measured(
        command, label="the generator", cwd=folder.parent, env=os.environ
    )
    dbt_runner.check(result)
    _say(f"generated in {result.seconds:.1f} s")


def build(data_dir: Path, db_path: Path, work: Path, threads: int) -> None:
    """Build fct_anomalies and everything it reads into ``db_path``."""
    _say(f"dbt {' '.join(BUILD_ARGS)} into {db_path}")
    name = db_path.stem
    result = dbt_runner.run_dbt(
        [*BUILD_ARGS, "--threads", str(threads)],
        data_dir=data_dir,
        db_path=db_path,
        target_path=work / f"target-{name}",
        log_path=work / f"logs-{name}",
    )
    dbt_runner.check(result)
    _say(f"dbt took {result.seconds:.1f} s, peak {result.max_rss_mib:.0f} MiB")


def status_lines(data_dir: Path) -> int:
    """Status lines the generator wrote, from its manifest."""
    manifest = json.loads((data_dir / "_generator" / "manifest.json").read_text(encoding="utf-8"))
    return int(manifest["charger_log_status"]["lines"])


def detector_version(db_path: Path) -> str:
    """The detector version stamped on the anomalies (``-`` when there are none)."""
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        rows = con.execute("select distinct detector_version from marts.fct_anomalies").fetchall()
    finally:
        con.close()
    return ", ".join(sorted(row[0] for row in rows)) or "-"


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def print_scores(scores: list[anomaly_scoring.KindScore]) -> None:
    """The per-kind table, as Markdown."""
    print("| kind | labels | detections | matched labels | precision | recall | F1 |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for item in scores:
        print(
            f"| {item.kind} | {item.labels} | {item.detections} | {item.matched_labels} | "
            f"{_rate(item.precision)} | {_rate(item.recall)} | {_rate(item.f1)} |"
        )


def print_false_alarms(label: str, scores: list[anomaly_scoring.KindScore], days: int) -> None:
    """False alarms of one dataset: the total per 1,000 charger-days, and by kind."""
    overall = scores[-1]
    per_1000 = anomaly_scoring.false_alarms_per_1000_charger_days(overall.false_alarms, days)
    by_kind = ", ".join(f"{s.kind} {s.false_alarms}" for s in scores[:-1] if s.false_alarms)
    print(
        f"false alarms, {label}: {overall.false_alarms} in {days:,} charger-days = "
        f"{per_1000:.2f} per 1,000 charger-days" + (f" ({by_kind})" if by_kind else "")
    )


def run_benchmark(args: argparse.Namespace, work: Path) -> None:
    """Every step in ``work``; prints the report."""
    charger_days = args.chargers * args.days
    results = {}
    for dataset in (LABELLED, NO_ANOMALY):
        data_dir = work / dataset.name
        prepare_dataset(dataset, data_dir, args)
        db_path = work / f"{dataset.name}.duckdb"
        build(data_dir, db_path, work, args.threads)
        labels = anomaly_scoring.read_labels(data_dir / "_generator" / "anomalies.csv")
        detections = anomaly_scoring.read_detections(db_path)
        results[dataset.name] = (data_dir, db_path, anomaly_scoring.score(labels, detections))
    data_dir, db_path, scores = results[LABELLED.name]
    print(
        f"labelled dataset: {args.chargers} chargers x {args.days} days "
        f"({charger_days:,} charger-days), seed {args.seed}, {LABELLED.description}, "
        f"{status_lines(data_dir):,} status lines; detector version {detector_version(db_path)}"
    )
    print()
    print_scores(scores)
    print()
    print_false_alarms("labelled dataset", scores, charger_days)
    print_false_alarms(
        f"no-anomaly dataset ({NO_ANOMALY.description})", results[NO_ANOMALY.name][2], charger_days
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the benchmark; returns the exit code."""
    args = build_parser().parse_args(argv)
    if args.work is not None:
        work = args.work.resolve()
        work.mkdir(parents=True, exist_ok=True)
    else:
        work = Path(tempfile.mkdtemp(prefix="chargerlogs-bench-anomalies-"))
    try:
        run_benchmark(args, work)
        return 0
    except ProcessError as error:
        sys.stderr.write(error.output_tail + "\n")
        sys.stderr.write(f"{PROG}: error: {error} (its output above)\n")
        return 1
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
