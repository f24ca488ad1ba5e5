"""Benchmark of the same dbt build on DuckDB and on a local Spark.

Run as ``python -m chargerlogs.bench_spark`` (``make bench-spark``; see docs/spark.md).

The command generates the benchmark dataset of ``make bench`` (or reuses one), then builds the
seeds and models with dbt twice from the same files: into a DuckDB file, and with
``--target spark`` into a Spark warehouse (session method, ``local[*]``). It prints, per stage of
the pipeline, each engine's seconds (dbt's own timing of the stage's models), status lines per
second and per second and core, then the wall time of each build, and checks that both built
every mart with the same row counts. Every file goes under one temporary folder.
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

from chargerlogs import dbt_runner
from chargerlogs.bench_models import (
    DEFAULT_CHARGERS,
    DEFAULT_DAYS,
    MODELS_ONLY,
    add_dataset_options,
    generate_data,
    parse_dataset_args,
)
from chargerlogs.cli import OneLineErrorParser, positive_int
from chargerlogs.dbt_runner import MeasuredProcess, ProcessError

PROG = "python -m chargerlogs.bench_spark"

# The stages of the pipeline, each the models whose names start with one of its prefixes (the first
# stage that matches wins). On DuckDB the staging views cost nothing and their parsing is timed in
# the classification that reads them; on Spark the parsed readings are a table: both are "ingest".
STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "ingest: parse, classify, de-duplicate",
        ("base_", "stg_", "int_log_lines", "int_readings_classified", "int_sessions_classified",
         "int_readings_deduplicated", "int_sessions_deduplicated"),
    ),
    (
        "clock correction",
        ("int_charger_upload_batches", "int_charger_clock_periods", "int_readings_clock",
         "int_sessions_clock"),
    ),
    ("session attribution (ASOF)", ("int_session_readings_attributed",)),
    ("energy integration", ("int_session_readings_integrated", "int_in_progress")),
    (
        "anomaly detection",
        ("int_phase_readings", "int_charger_baselines", "int_readings_", "int_anomaly",
         "fct_anomalies"),
    ),
    ("marts", ("fct_", "dim_", "rpt_")),
)  # fmt: skip


@dataclass(frozen=True)
class EngineRun:
    """One engine's build: the dbt process, and dbt's execution seconds per model."""

    name: str
    process: MeasuredProcess
    model_seconds: dict[str, float]


def build_parser() -> argparse.ArgumentParser:
    """The command line of the benchmark."""
    parser = OneLineErrorParser(
        prog=PROG,
        description=(
            "Build the dbt seeds and models from one dataset on DuckDB and on a local Spark "
            "(dbt --target spark, session method) and print, per pipeline stage, each engine's "
            "seconds, status lines per second and per second and core, the wall time of each "
            "build and whether both built every mart with the same row counts. Exit code 0 when "
            "they agree, 1 when a step fails or they disagree, 2 on bad input."
        ),
    )
    add_dataset_options(parser, ", the dataset of make bench")
    parser.add_argument(
        "--cores",
        type=positive_int,
        default=os.cpu_count() or 1,
        help="cores both engines use: dbt's threads and DuckDB's, Spark's local[N] (default: "
        "the machine's cores); the per-core figures divide by it",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the temporary folder (dataset, DuckDB file, Spark warehouse, dbt target and "
        "logs) and print its path; by default it is removed at the end",
    )
    return parser


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The checked arguments; a usage error exits 2 with one line."""
    return parse_dataset_args(build_parser(), argv)


def _say(message: str) -> None:
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)


def model_seconds(target: Path) -> dict[str, float]:
    """dbt's execution seconds of every model in a target's run_results.json."""
    results = json.loads((target / "run_results.json").read_text(encoding="utf-8"))["results"]
    # model.<project>.<name>, or model.<project>.<name>.v<version> for a versioned model
    return {
        ".".join(result["unique_id"].split(".")[2:]): float(result["execution_time"])
        for result in results
        if result["unique_id"].startswith("model.")
    }


def stage_of(model: str) -> str:
    """The stage a model belongs to (see STAGES)."""
    for stage, prefixes in STAGES:
        if model.startswith(prefixes):
            return stage
    raise ValueError(f"model {model} belongs to no stage of the benchmark")


def stage_seconds(run: EngineRun) -> dict[str, float]:
    """Seconds per stage: the sum of its models' execution seconds."""
    totals = {stage: 0.0 for stage, _ in STAGES}
    for model, seconds in run.model_seconds.items():
        totals[stage_of(model)] += seconds
    return totals


def build(engine: str, data_dir: Path, work: Path, cores: int) -> EngineRun:
    """dbt's seeds and models on one engine (``duckdb`` or ``spark``) under ``work``."""
    target = work / f"target-{engine}"
    # DuckDB: as many dbt threads as cores (DuckDB's own threads are the machine's cores); Spark:
    # one model at a time, each query spread over local[cores]
    args = [*MODELS_ONLY, "--threads", str(cores)]
    env: dict[str, str] = {}
    if engine == "spark":
        args = [*MODELS_ONLY, "--target", "spark", "--threads", "1"]
        env = {"CHARGER_SPARK_DIR": str(work / "spark"), "CHARGER_SPARK_MASTER": f"local[{cores}]"}
    process = dbt_runner.check(
        dbt_runner.run_dbt(
            args,
            data_dir=data_dir,
            db_path=work / "warehouse.duckdb",
            target_path=target,
            log_path=work / f"logs-{engine}",
            env=env,
        )
    )
    return EngineRun(engine, process, model_seconds(target))


def mart_row_counts(work: Path) -> dict[str, tuple[int, int]]:
    """Rows of every mart: (DuckDB, Spark); the Spark tables are read as their Parquet files."""
    con = duckdb.connect(str(work / "warehouse.duckdb"), read_only=True)
    try:
        tables = [
            row[0]
            for row in con.execute(
                "select table_name from information_schema.tables where table_schema = 'marts' "
                "order by table_name"
            ).fetchall()
        ]
        counts = {}
        for table in tables:
            files = work / "spark" / "warehouse" / "marts.db" / table
            duckdb_rows = con.execute(f"select count(*) from marts.{table}").fetchone()[0]
            spark_rows = (
                con.execute(f"select count(*) from read_parquet('{files}/*.parquet')").fetchone()[0]
                if files.is_dir()
                else -1
            )
            counts[table] = (duckdb_rows, spark_rows)
        return counts
    finally:
        con.close()


def status_line_count(work: Path) -> int:
    """Non-blank status lines the DuckDB build read."""
    con = duckdb.connect(str(work / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute(
            "select count(*) from intermediate.int_log_lines_classified where log_stream = 'status'"
        ).fetchone()[0]
    finally:
        con.close()


def print_report(lines: int, runs: Sequence[EngineRun], cores: int) -> None:
    """The table of stages, the builds' wall time and memory."""
    print(f"status lines: {lines}, cores: {cores}")
    header = f"{'stage':<40}" + "".join(
        f"{run.name + ' s':>12}{run.name + ' lines/s':>18}{'per core':>12}" for run in runs
    )
    print(header)
    per_stage = [stage_seconds(run) for run in runs]
    for stage, _ in STAGES:
        row = f"{stage:<40}"
        for seconds in per_stage:
            rate = lines / seconds[stage] if seconds[stage] else float("inf")
            row += f"{seconds[stage]:>12.2f}{rate:>18,.0f}{rate / cores:>12,.0f}"
        print(row)
    row = f"{'all models (sum of stages)':<40}"
    for seconds in per_stage:
        total = sum(seconds.values())
        row += f"{total:>12.2f}{lines / total:>18,.0f}{lines / total / cores:>12,.0f}"
    print(row)
    for run in runs:
        print(
            f"{run.name} build wall seconds: {run.process.seconds:.2f} "
            f"({lines / run.process.seconds:,.0f} lines/s), peak rss MiB: "
            f"{run.process.max_rss_mib:.0f}"
        )


def run_benchmark(args: argparse.Namespace, work: Path) -> bool:
    """Every step of the benchmark in ``work``; prints the report and returns the agreement."""
    if args.data is None:
        data_dir = work / "data"
        chargers = args.chargers or DEFAULT_CHARGERS
        days = args.days or DEFAULT_DAYS
        _say(f"generating {chargers} chargers x {days} days into {data_dir}")
        _say(f"generated in {generate_data(data_dir, chargers, days, work).seconds:.1f} s")
    else:
        data_dir = args.data.resolve()
    runs = []
    for engine in ("duckdb", "spark"):
        _say(f"dbt {' '.join(MODELS_ONLY)} on {engine}")
        runs.append(build(engine, data_dir, work, args.cores))
        _say(f"{engine} took {runs[-1].process.seconds:.1f} s")
    print_report(status_line_count(work), runs, args.cores)
    counts = mart_row_counts(work)
    unequal = {table: rows for table, rows in counts.items() if rows[0] != rows[1]}
    for table, (duckdb_rows, spark_rows) in unequal.items():
        print(f"  {table}: DuckDB {duckdb_rows} rows, Spark {spark_rows}")
    print(f"marts with equal row counts: {len(counts) - len(unequal)} of {len(counts)}")
    return not unequal


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the benchmark; returns the exit code."""
    args = parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="chargerlogs-bench-spark-"))
    try:
        return 0 if run_benchmark(args, work) else 1
    except ProcessError as error:
        sys.stderr.write(error.output_tail + "\n")
        sys.stderr.write(f"{PROG}: error: {error} (its output above)\n")
        return 1
    finally:
        if args.keep:
            _say(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
