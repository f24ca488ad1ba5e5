"""Benchmark of the dbt models against one plain DuckDB statement.

Run as ``python -m chargerlogs.bench_models`` (see docs/benchmark.md).

The command generates a dataset (or reuses one), builds the seeds and models with dbt into a
temporary DuckDB file, then runs the reference statement, ``bench/reference_briefings.sql``, on the
same files in a fresh Python process with the same thread count. It checks that both agree on the
sessions' readings and energy and prints the throughput of each, their ratio and the costliest
models. Every subprocess writes under one temporary folder, never into the repository.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

from chargerlogs import dbt_runner, project_vars
from chargerlogs.cli import OneLineErrorParser, positive_int
from chargerlogs.dbt_runner import MeasuredProcess, ProcessError

PROG = "python -m chargerlogs.bench_models"
REFERENCE_SQL = Path(__file__).resolve().parent / "bench" / "reference_briefings.sql"
DEFAULT_CHARGERS = 125
DEFAULT_DAYS = 14
TOP_MODELS = 5
# the mart the comparison reads (its latest version); its lineage is the models' briefing path
COMPARED_MODEL = "fct_session_briefings"
# seeds and models, no tests: what the warehouse needs to hold the marts
MODELS_ONLY = ("build", "--resource-type", "seed", "--resource-type", "model")

# Agreement thresholds between the models and the reference statement.
ENERGY_TOLERANCE = 0.005  # share of the total measured energy
READING_COUNT_AGREEMENT = 0.99  # share of sessions whose reading counts must be equal
SHOWN_DIFFERENCES = 10  # sessions listed when reading counts differ

# Runs the reference statement in a fresh process (argv: data folder, DuckDB file, threads) and
# prints the seconds of the statement alone as its last line (no progress bar: nobody watches it).
_REFERENCE_PROCESS = """
import sys, time, duckdb
from pathlib import Path
from chargerlogs.bench_models import create_reference_briefings, reference_variables
variables = reference_variables(Path(sys.argv[1]))
con = duckdb.connect(sys.argv[2], config={"threads": int(sys.argv[3])})
con.execute("set enable_progress_bar = false")
began = time.perf_counter()
create_reference_briefings(con, variables)
print(time.perf_counter() - began)
con.close()
"""


@dataclass(frozen=True)
class ModelTiming:
    """Execution time of one model from dbt's run_results.json."""

    name: str
    seconds: float


@dataclass(frozen=True)
class Agreement:
    """How the models' session briefings compare with the reference statement's.

    ``differences`` holds (session id, models' readings, reference's readings) for every session
    whose reading counts differ; a session missing on one side has 0 readings there.
    """

    model_sessions: int
    reference_sessions: int
    model_energy_wh: float
    reference_energy_wh: float
    compared_sessions: int
    differences: list[tuple[int, int, int]]

    @property
    def energy_difference(self) -> float:
        """Relative difference of the total measured energy (models against reference)."""
        if self.reference_energy_wh == 0:
            return 0.0 if self.model_energy_wh == 0 else float("inf")
        return abs(self.model_energy_wh / self.reference_energy_wh - 1)

    @property
    def equal_reading_counts(self) -> int:
        """Sessions whose reading counts are equal."""
        return self.compared_sessions - len(self.differences)

    @property
    def reading_count_share(self) -> float:
        """Share of sessions whose reading counts are equal."""
        if not self.compared_sessions:
            return 1.0
        return self.equal_reading_counts / self.compared_sessions

    @property
    def ok(self) -> bool:
        """True when the three checks pass."""
        return (
            self.model_sessions == self.reference_sessions
            and self.energy_difference <= ENERGY_TOLERANCE
            and self.reading_count_share >= READING_COUNT_AGREEMENT
        )


def build_parser() -> argparse.ArgumentParser:
    """The command line of the benchmark."""
    parser = OneLineErrorParser(
        prog=PROG,
        description=(
            "Build the dbt seeds and models on a large dataset and compare their wall time with "
            "one plain DuckDB statement (chargerlogs/bench/reference_briefings.sql) doing the same "
            "briefing work from the same files. Prints status lines, seconds, lines per second, "
            "the ratio models/reference, the costliest models and peak memory; checks that both "
            "agree on the sessions' readings and energy. Exit code 0 when they agree, 1 when a "
            "step fails or they disagree, 2 on bad input."
        ),
    )
    add_dataset_options(parser)
    parser.add_argument(
        "--threads",
        type=positive_int,
        default=os.cpu_count() or 1,
        help="threads of the reference statement's DuckDB and dbt's --threads (default: the "
        "number of cores, which is also what DuckDB inside dbt uses)",
    )
    parser.add_argument(
        "--with-tests",
        action="store_true",
        help="also time the whole `dbt build` (models and every test) into a second DuckDB file",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the temporary folder (dataset, DuckDB files, dbt target and logs) and print "
        "its path; by default it is removed at the end",
    )
    return parser


def add_dataset_options(parser: argparse.ArgumentParser, size_note: str = "") -> None:
    """--chargers, --days and --data: the dataset a benchmark generates or reuses."""
    parser.add_argument(
        "--chargers",
        type=positive_int,
        default=None,
        help=f"chargers of the generated dataset (default {DEFAULT_CHARGERS}: with the default "
        f"days, about 5 million status lines{size_note})",
    )
    parser.add_argument(
        "--days",
        type=positive_int,
        default=None,
        help=f"simulated days of the generated dataset (default {DEFAULT_DAYS})",
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help="reuse an existing data folder (with charger_log_status/ and charger_log_session/) "
        "instead of generating one; it is never removed; excludes --chargers and --days",
    )


def parse_dataset_args(
    parser: argparse.ArgumentParser, argv: Sequence[str] | None
) -> argparse.Namespace:
    """The arguments of a parser with the dataset options, checked; a usage error exits 2."""
    args = parser.parse_args(argv)
    if args.data is not None:
        if args.chargers is not None or args.days is not None:
            parser.error("--data reuses a dataset; --chargers and --days only size a generated one")
        for stream in ("charger_log_status", "charger_log_session"):
            if not (args.data / stream).is_dir():
                parser.error(f"--data {args.data} has no {stream}/ folder")
    return args


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The checked arguments; a usage error exits 2 with one line."""
    return parse_dataset_args(build_parser(), argv)


def reference_variables(data_dir: Path) -> dict[str, str | int | float]:
    """The values of the reference statement's DuckDB variables for a data folder.

    The two input globs, and for every other variable the statement reads, the value of the dbt
    var of the same name in dbt_project.yml: the statement applies the models' thresholds.
    """
    variables: dict[str, str | int | float] = {
        "status_files": str(data_dir / "charger_log_status" / "*.json*"),
        "session_files": str(data_dir / "charger_log_session" / "*.json*"),
    }
    declared = project_vars.declared_vars()
    names = re.findall(r"getvariable\('(\w+)'\)", REFERENCE_SQL.read_text(encoding="utf-8"))
    for name in sorted(set(names) - variables.keys()):
        if name not in declared:
            raise ValueError(f"{REFERENCE_SQL.name} reads {name}, which no dbt var gives")
        variables[name] = declared[name]
    return variables


def create_reference_briefings(
    con: duckdb.DuckDBPyConnection, variables: dict[str, str | int | float]
) -> None:
    """Set the statement's variables on ``con`` and create its table ``reference_briefings``."""
    for name, value in variables.items():
        con.execute(f"set variable {name} = ?", [value])
    con.execute(REFERENCE_SQL.read_text(encoding="utf-8"))


def _say(message: str) -> None:
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)


def generate_data(data_dir: Path, chargers: int, days: int, work: Path) -> MeasuredProcess:
    """Write a dataset with the generator's command line in a subprocess."""
    command = [sys.executable, "-m", "chargerlogs.generate", "--out", str(data_dir)]
    command += ["--chargers", str(chargers), "--days", str(days), "--quiet"]
    return dbt_runner.check(
        dbt_runner.run_measured(command, label="the generator", cwd=work, env=os.environ)
    )


def run_dbt(
    args: Sequence[str], name: str, data_dir: Path, work: Path, threads: int
) -> tuple[MeasuredProcess, Path]:
    """dbt ``args`` into ``work/<name>.duckdb``; its target folder (run_results.json)."""
    target = work / f"target-{name}"
    result = dbt_runner.run_dbt(
        [*args, "--threads", str(threads)],
        data_dir=data_dir,
        db_path=work / f"{name}.duckdb",
        target_path=target,
        log_path=work / f"logs-{name}",
    )
    return dbt_runner.check(result), target


def model_name(unique_id: str) -> str:
    """A model's name from its unique id, with its version if it has one (``name.v2``)."""
    return unique_id.split(".", 2)[2]


def model_timings(target: Path) -> list[ModelTiming]:
    """Execution time of every model in a dbt target's run_results.json, costliest first."""
    results = json.loads((target / "run_results.json").read_text(encoding="utf-8"))["results"]
    timings = [
        ModelTiming(name=model_name(result["unique_id"]), seconds=float(result["execution_time"]))
        for result in results
        if result["unique_id"].startswith("model.")
    ]
    return sorted(timings, key=lambda timing: timing.seconds, reverse=True)


def compared_model_lineage(target: Path) -> list[str]:
    """The model the comparison reads (COMPARED_MODEL, its latest version) and every model it reads.

    Taken from the target's manifest.json: these are the models the briefing job needs, the rest
    (anomaly detection, quality reports, other marts) is what the models do beyond the statement.
    """
    nodes = json.loads((target / "manifest.json").read_text(encoding="utf-8"))["nodes"]
    compared = [
        unique_id
        for unique_id, node in nodes.items()
        if node["resource_type"] == "model"
        and node["name"] == COMPARED_MODEL
        and node.get("version") == node.get("latest_version")
    ]
    lineage: set[str] = set()
    pending = list(compared)
    while pending:
        unique_id = pending.pop()
        if unique_id in lineage:
            continue
        lineage.add(unique_id)
        pending += [parent for parent in nodes[unique_id]["depends_on"]["nodes"] if parent in nodes]
    return sorted(model_name(unique_id) for unique_id in lineage if unique_id.startswith("model."))


def run_reference(data_dir: Path, db_path: Path, work: Path, threads: int) -> MeasuredProcess:
    """Run the reference statement in a fresh process; stdout holds the statement's seconds."""
    command = [sys.executable, "-c", _REFERENCE_PROCESS, str(data_dir), str(db_path), str(threads)]
    return dbt_runner.check(
        dbt_runner.run_measured(command, label="the reference statement", cwd=work, env=os.environ)
    )


def statement_seconds(reference: MeasuredProcess) -> float:
    """The statement's own seconds: the last line the reference process printed."""
    return float(reference.stdout.splitlines()[-1])


def compare(models_db: Path, reference_db: Path) -> tuple[Agreement, dict[str, int]]:
    """Compare the briefings; also return the raw lines per stream counted by the models."""
    con = duckdb.connect(str(reference_db), read_only=True)
    try:
        con.execute("attach ? as models (read_only)", [str(models_db)])
        lines = dict(
            con.execute(
                "select log_stream, cast(sum(raw_lines) as bigint)"
                " from models.marts.rpt_ingestion_reconciliation group by log_stream"
            ).fetchall()
        )
        rows = con.execute(
            """
            with model_briefings as (
                select session_id, reading_count, measured_energy_wh
                from models.marts.fct_session_briefings
                where reading_count > 0
            )
            select
                coalesce(model_briefings.session_id, reference_briefings.session_id),
                coalesce(model_briefings.reading_count, 0),
                coalesce(reference_briefings.reading_count, 0),
                coalesce(model_briefings.measured_energy_wh, 0),
                coalesce(reference_briefings.measured_energy_wh, 0)
            from model_briefings
            full outer join reference_briefings
                on model_briefings.session_id = reference_briefings.session_id
            order by 1
            """
        ).fetchall()
    finally:
        con.close()
    agreement = Agreement(
        model_sessions=sum(1 for row in rows if row[1] > 0),
        reference_sessions=sum(1 for row in rows if row[2] > 0),
        model_energy_wh=float(sum(row[3] for row in rows)),
        reference_energy_wh=float(sum(row[4] for row in rows)),
        compared_sessions=len(rows),
        differences=[(int(row[0]), int(row[1]), int(row[2])) for row in rows if row[1] != row[2]],
    )
    return agreement, lines


def print_timings(
    status_lines: int,
    models: MeasuredProcess,
    timings: list[ModelTiming],
    lineage: list[str],
    reference: MeasuredProcess,
    build: MeasuredProcess | None,
) -> None:
    """The throughput figures, one ``name: value`` line each, and the costliest models.

    ``lineage`` names the models of the briefing path (:func:`compared_model_lineage`): the sum
    of their execution seconds, against the statement's wall time, is what the briefing job alone
    costs in the models (run_results.json times, which overlap on two threads).
    """
    models_sum = sum(timing.seconds for timing in timings)
    path_sum = sum(timing.seconds for timing in timings if timing.name in lineage)
    print(f"models wall seconds: {models.seconds:.2f}")
    print(f"models lines per second: {status_lines / models.seconds:.0f}")
    print(f"models execution seconds (sum over models): {models_sum:.2f}")
    print(f"models peak rss MiB: {models.max_rss_mib:.0f}")
    print(f"reference wall seconds: {reference.seconds:.2f}")
    print(f"reference statement seconds: {statement_seconds(reference):.2f}")
    print(f"reference lines per second: {status_lines / reference.seconds:.0f}")
    print(f"reference peak rss MiB: {reference.max_rss_mib:.0f}")
    print(f"ratio models/reference: {models.seconds / reference.seconds:.2f}")
    print(
        f"briefing path execution seconds ({COMPARED_MODEL} and the models it reads, "
        f"{len(lineage)} models): {path_sum:.2f}"
    )
    print(f"ratio briefing path/reference: {path_sum / reference.seconds:.2f}")
    if build is not None:
        print(f"build with tests wall seconds: {build.seconds:.2f}")
    print(f"load average 1 min at end: {os.getloadavg()[0]:.2f}")
    print(f"costliest {min(TOP_MODELS, len(timings))} models (run_results.json):")
    for timing in timings[:TOP_MODELS]:
        share = timing.seconds / models_sum if models_sum else 0.0
        print(f"  {timing.name}: {timing.seconds:.2f} s, {share:.1%}")


def print_agreement(agreement: Agreement) -> None:
    """The agreement figures, the first differing sessions, and the verdict."""
    print(
        f"sessions with readings: models {agreement.model_sessions}, reference "
        f"{agreement.reference_sessions}"
    )
    print(
        f"measured energy kWh: models {agreement.model_energy_wh / 1000:.3f}, reference "
        f"{agreement.reference_energy_wh / 1000:.3f}, difference {agreement.energy_difference:.4%}"
    )
    print(
        f"equal reading counts: {agreement.equal_reading_counts} of "
        f"{agreement.compared_sessions} sessions ({agreement.reading_count_share:.2%})"
    )
    for session_id, model_readings, reference_readings in agreement.differences[:SHOWN_DIFFERENCES]:
        print(f"  session {session_id}: models {model_readings}, reference {reference_readings}")
    if len(agreement.differences) > SHOWN_DIFFERENCES:
        print(f"  ... {len(agreement.differences) - SHOWN_DIFFERENCES} more")
    print(f"agreement: {'ok' if agreement.ok else 'FAILED'}")


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
    _say(f"dbt {' '.join(MODELS_ONLY)} into {work / 'models.duckdb'}")
    models, target = run_dbt(MODELS_ONLY, "models", data_dir, work, args.threads)
    _say(f"dbt took {models.seconds:.1f} s")
    _say(f"reference statement into {work / 'reference.duckdb'}")
    reference = run_reference(data_dir, work / "reference.duckdb", work, args.threads)
    _say(f"reference took {reference.seconds:.1f} s")
    build = None
    if args.with_tests:
        _say(f"dbt build (models and tests) into {work / 'build.duckdb'}")
        build, _ = run_dbt(["build"], "build", data_dir, work, args.threads)
        _say(f"dbt build took {build.seconds:.1f} s")
    agreement, lines = compare(work / "models.duckdb", work / "reference.duckdb")
    print(f"status lines: {lines.get('status', 0)}")
    print(f"session lines: {lines.get('session', 0)}")
    print_timings(
        lines.get("status", 0),
        models,
        model_timings(target),
        compared_model_lineage(target),
        reference,
        build,
    )
    print_agreement(agreement)
    return agreement.ok


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the benchmark; returns the exit code."""
    args = parse_args(argv)
    if args.threads != (os.cpu_count() or 1):
        _say(
            f"warning: DuckDB inside dbt uses {os.cpu_count()} threads whatever --threads; "
            "the ratio is not like for like"
        )
    work = Path(tempfile.mkdtemp(prefix="chargerlogs-bench-models-"))
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
