"""Benchmark of the dbt models against one plain DuckDB statement.

Run as ``python -m chargerlogs.bench_models``.

The command generates a dataset (or reuses one), builds the models with ``dbt run`` into a
temporary DuckDB file, then runs a single reference statement that does the same briefing work
from the same files in a fresh DuckDB process with the same thread count. It checks that both
agree on the sessions' telemetry and prints the throughput of each, their ratio and the costliest
models. Every subprocess writes under one temporary folder, never into the repository.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from string import Template

import duckdb
import yaml

from chargerlogs.cli import OneLineErrorParser, positive_int

PROG = "python -m chargerlogs.bench_models"
PROJECT_DIR = Path(__file__).resolve().parents[1]
DEFAULT_CHARGERS = 125
DEFAULT_DAYS = 14
TOP_MODELS = 5

# Agreement thresholds between the models and the reference statement.
ENERGY_TOLERANCE = 0.005  # share of the total telemetry energy
SAMPLE_COUNT_AGREEMENT = 0.99  # share of sessions whose sample counts must be equal
SHOWN_DIFFERENCES = 10  # sessions listed when sample counts differ

# Runs the reference statement in a fresh process: argv = database, threads, SQL file.
_REFERENCE_RUNNER = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1], config={"threads": int(sys.argv[2])})
sql = open(sys.argv[3], encoding="utf-8").read()
began = time.perf_counter()
con.execute(sql)
print(time.perf_counter() - began)
con.close()
"""

# The whole briefing job in one statement. Status lines are read once with explicit types: key
# fields as integers, measurements as raw JSON so that a number written as a string is seen and the
# row rejected, as the models reject it (malformed lines come back as all-null rows and are dropped
# by the key filter). Only the per-session aggregates are materialised.
_REFERENCE_SQL = Template(
    """
create table reference_briefings as
with

status_lines as (
    select *
    from read_json(
        '$status_files',
        format = 'newline_delimited',
        ignore_errors = true,
        columns = {
            'id': 'BIGINT', 'charger_id': 'BIGINT', 'charger_timestamp': 'BIGINT',
            'server_timestamp': 'VARCHAR',
            'ac_current_rms_1': 'JSON', 'ac_current_rms_2': 'JSON', 'ac_current_rms_3': 'JSON',
            'ac_voltage_rms_1': 'JSON', 'ac_voltage_rms_2': 'JSON', 'ac_voltage_rms_3': 'JSON',
            'temperature_1': 'JSON', 'temperature_2': 'JSON', 'temperature_3': 'JSON',
            'charger_phases':
                'STRUCT(id BIGINT, ac_current_rms JSON, ac_voltage_rms JSON, temperature JSON)[]'
        }
    )
    where id is not null and charger_id is not null and charger_timestamp is not null
),

-- the nested layout names each phase by the element's own id, in any order
phases_picked as (
    select
        *,
        $pick_phases
    from status_lines
),

raw_measurements as (
    select
        id as event_id,
        charger_id,
        charger_timestamp as charger_epoch_s,
        coalesce(
            try_cast(server_timestamp as double),
            epoch(try_cast(server_timestamp as timestamptz))
        ) as server_epoch_s,
        $unify_layouts
    from phases_picked
),

-- a measurement written as a string is type drift, a negative current or voltage is impossible:
-- both reject the row
valid_measurements as (
    select
        event_id,
        charger_id,
        charger_epoch_s,
        server_epoch_s,
        $cast_measurements
    from raw_measurements
    where not coalesce($any_string, false)
    and not coalesce($any_negative, false)
),

-- the earliest arrival of an event id wins, then the earliest arrival of a charger's measurement
first_by_event_id as (
    select * from valid_measurements
    qualify row_number() over (
        partition by event_id order by server_epoch_s asc nulls last
    ) = 1
),

first_by_measurement as (
    select * from first_by_event_id
    qualify row_number() over (
        partition by charger_id, charger_epoch_s
        order by server_epoch_s asc nulls last, event_id asc
    ) = 1
),

session_lines as (
    select *
    from read_json(
        '$session_files',
        format = 'newline_delimited',
        ignore_errors = true,
        columns = {
            'id': 'BIGINT', 'charger_id': 'BIGINT', 'user_id': 'JSON', 'energy': 'JSON',
            'total_cost': 'JSON', 'start_time': 'BIGINT', 'end_time': 'BIGINT'
        }
    )
),

sessions as (
    select
        id as session_id,
        charger_id,
        start_time as start_epoch_s,
        end_time as end_epoch_s
    from session_lines
    where id is not null and charger_id is not null and start_time is not null
    and end_time is not null and end_time >= start_time
    and not coalesce(
        starts_with(user_id, '"') or starts_with(energy, '"') or starts_with(total_cost, '"'),
        false
    )
    qualify row_number() over (partition by id) = 1
),

-- the latest-started session wins: a session's window ends where the next one on its charger
-- starts (of two starting at the same second, the higher id)
session_windows as (
    select
        session_id,
        charger_id,
        start_epoch_s,
        least(
            end_epoch_s,
            lead(start_epoch_s) over (partition by charger_id order by start_epoch_s asc) - 1
        ) as window_end_epoch_s
    from sessions
    qualify row_number() over (
        partition by charger_id, start_epoch_s order by session_id desc
    ) = 1
),

session_readings as (
    select
        session_windows.session_id,
        first_by_measurement.charger_id,
        first_by_measurement.charger_epoch_s,
        $readings_columns
    from first_by_measurement
    inner join session_windows
        on first_by_measurement.charger_id = session_windows.charger_id
        and first_by_measurement.charger_epoch_s
        between session_windows.start_epoch_s and session_windows.window_end_epoch_s
),

powered as (
    select
        *,
        coalesce(power_l1_w, 0) + coalesce(power_l2_w, 0) + coalesce(power_l3_w, 0) as power_w
    from session_readings
),

lagged as (
    select
        *,
        charger_epoch_s - lag(charger_epoch_s) over by_session as interval_s,
        lag(power_w) over by_session as previous_power_w
    from powered
    window by_session as (partition by session_id order by charger_epoch_s asc)
),

-- trapezoidal rule; no energy across a gap longer than the integration limit
integrated as (
    select
        *,
        case
            when interval_s <= $max_gap_s
                then (previous_power_w + power_w) / 2.0 * interval_s / 3600.0
            else 0.0
        end as interval_energy_wh
    from lagged
),

accumulated as (
    select
        *,
        sum(interval_energy_wh) over (
            partition by session_id
            order by charger_epoch_s asc
            rows between unbounded preceding and current row
        ) as accumulated_energy_wh
    from integrated
)

select
    session_id,
    any_value(charger_id) as charger_id,
    count(*) as sample_count,
    sum(interval_energy_wh) as telemetry_energy_wh,
    max(accumulated_energy_wh) as final_accumulated_energy_wh,
    max(power_w) as peak_power_w,
    $phase_aggregates
from accumulated
group by session_id
"""
)

_PHASES = (1, 2, 3)
# (reference column stem, nested field, flat field stem, unit suffix)
_MEASURES = (
    ("current", "ac_current_rms", "ac_current_rms", "a"),
    ("voltage", "ac_voltage_rms", "ac_voltage_rms", "v"),
    ("temperature", "temperature", "temperature", "c"),
)


class BenchError(Exception):
    """A step of the benchmark failed; the message is one line."""


@dataclass(frozen=True)
class StepResult:
    """Wall time and peak resident memory of one subprocess."""

    seconds: float
    max_rss_mib: float


@dataclass(frozen=True)
class ModelTiming:
    """Execution time of one model from dbt's run_results.json."""

    name: str
    seconds: float


@dataclass(frozen=True)
class Agreement:
    """How the models' session briefings compare with the reference statement's."""

    model_sessions: int
    reference_sessions: int
    model_energy_wh: float
    reference_energy_wh: float
    equal_sample_counts: int
    compared_sessions: int
    differences: list[tuple[int, int, int]]

    @property
    def energy_difference(self) -> float:
        """Relative difference of the total telemetry energy (models against reference)."""
        if self.reference_energy_wh == 0:
            return 0.0 if self.model_energy_wh == 0 else float("inf")
        return abs(self.model_energy_wh / self.reference_energy_wh - 1)

    @property
    def sample_count_share(self) -> float:
        """Share of sessions whose sample counts are equal."""
        return self.equal_sample_counts / self.compared_sessions if self.compared_sessions else 1.0

    @property
    def ok(self) -> bool:
        """True when the three checks pass."""
        return (
            self.model_sessions == self.reference_sessions
            and self.energy_difference <= ENERGY_TOLERANCE
            and self.sample_count_share >= SAMPLE_COUNT_AGREEMENT
        )


def build_parser() -> argparse.ArgumentParser:
    """The command line of the benchmark."""
    parser = OneLineErrorParser(
        prog=PROG,
        description=(
            "Build the dbt models on a large dataset with `dbt run` and compare their wall time "
            "with one plain DuckDB statement doing the same briefing work from the same files. "
            "Prints status lines, seconds, rows per second, the ratio models/reference, the "
            "costliest models and peak memory; checks that both agree on the session briefings. "
            "Exit code 0 when they agree, 1 when a step fails or they disagree, 2 on bad input."
        ),
    )
    parser.add_argument(
        "--chargers",
        type=positive_int,
        default=None,
        help=f"chargers of the generated dataset (default {DEFAULT_CHARGERS}: with the default "
        "days, about 5 million status lines)",
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
        help="also time `dbt build` (models and data tests) into a second DuckDB file",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the temporary folder (dataset, DuckDB files, dbt target and logs) and print "
        "its path; by default it is removed at the end",
    )
    return parser


def _sql_path(path: Path) -> str:
    """A path as a SQL string literal body."""
    return str(path).replace("'", "''")


def reference_sql(data_dir: Path, max_gap_s: float) -> str:
    """The reference statement for a data folder: one CREATE TABLE reference_briefings AS."""
    pick_phases = ",\n        ".join(
        "case "
        + " ".join(
            f"when charger_phases[{position}].id = {phase} then charger_phases[{position}]"
            for position in _PHASES
        )
        + f" end as nested_l{phase}"
        for phase in _PHASES
    )
    unify_layouts = ",\n        ".join(
        f"case when charger_phases is null then {flat}_{phase} else nested_l{phase}.{nested} end"
        f" as raw_{stem}_l{phase}"
        for phase in _PHASES
        for stem, nested, flat, _ in _MEASURES
    )
    # currents stay integer cA until after the de-duplication: narrower rows to sort and hash
    cast_measurements = ",\n        ".join(
        f"try_cast(raw_{stem}_l{phase} as integer) as "
        + (f"current_l{phase}_ca" if stem == "current" else f"{stem}_l{phase}_{unit}")
        for phase in _PHASES
        for stem, _, _, unit in _MEASURES
    )
    raw_columns = [f"raw_{stem}_l{phase}" for phase in _PHASES for stem, *_ in _MEASURES]
    any_string = " or ".join(f"starts_with({column}, '\"')" for column in raw_columns)
    any_negative = " or ".join(
        f"try_cast(raw_{stem}_l{phase} as integer) < 0"
        for phase in _PHASES
        for stem in ("current", "voltage")
    )
    readings_columns = ",\n        ".join(
        [
            f"first_by_measurement.current_l{phase}_ca / 100.0 as current_l{phase}_a"
            for phase in _PHASES
        ]
        + [
            f"first_by_measurement.{stem}_l{phase}_{unit}"
            for phase in _PHASES
            for stem, _, _, unit in _MEASURES[1:]
        ]
        + [
            f"first_by_measurement.voltage_l{phase}_v * first_by_measurement.current_l{phase}_ca"
            f" / 100.0 as power_l{phase}_w"
            for phase in _PHASES
        ]
    )
    phase_aggregates = ",\n    ".join(
        f"{stat}({stem}_l{phase}_{unit}) as {stat}_{stem}_l{phase}_{unit}"
        for phase in _PHASES
        for stem, _, _, unit in _MEASURES
        for stat in ("min", "avg", "max")
    )
    return _REFERENCE_SQL.substitute(
        status_files=_sql_path(data_dir / "charger_log_status" / "*.json*"),
        session_files=_sql_path(data_dir / "charger_log_session" / "*.json*"),
        pick_phases=pick_phases,
        unify_layouts=unify_layouts,
        cast_measurements=cast_measurements,
        any_string=any_string,
        any_negative=any_negative,
        readings_columns=readings_columns,
        max_gap_s=max_gap_s,
        phase_aggregates=phase_aggregates,
    )


def project_var(name: str) -> float:
    """A var of dbt_project.yml (the reference uses the models' thresholds)."""
    with (PROJECT_DIR / "dbt_project.yml").open(encoding="utf-8") as handle:
        project = yaml.safe_load(handle)
    return float(project["vars"][name])


def _say(message: str) -> None:
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)


def _dbt_executable() -> str:
    candidate = Path(sys.executable).parent / "dbt"
    return str(candidate) if candidate.exists() else "dbt"


def run_step(command: Sequence[str], log_path: Path, cwd: Path, env: dict[str, str]) -> StepResult:
    """Run one subprocess with its output in ``log_path``; its wall time and peak RSS."""
    with log_path.open("w", encoding="utf-8") as log:
        began = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
        # wait4 reports this child's own resource usage, not the sum over all children
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - began
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        tail = log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-15:]
        sys.stderr.write("\n".join(tail) + "\n")
        raise BenchError(
            f"{Path(command[0]).name} exited with {process.returncode}"
            f" (its output above; the whole log is {log_path} with --keep)"
        )
    return StepResult(seconds=seconds, max_rss_mib=usage.ru_maxrss / 1024)


def generate_data(data_dir: Path, chargers: int, days: int, work: Path) -> StepResult:
    """Write a dataset with the generator's command line in a subprocess."""
    command = [
        sys.executable,
        "-m",
        "chargerlogs.generate",
        "--out",
        str(data_dir),
        "--chargers",
        str(chargers),
        "--days",
        str(days),
        "--quiet",
    ]
    return run_step(command, work / "generate.log", work, dict(os.environ))


def run_dbt(
    command: str, data_dir: Path, db_path: Path, work: Path, threads: int
) -> tuple[StepResult, Path]:
    """``dbt <command>`` of the project into ``db_path``; its wall time and its target folder."""
    target = work / f"target-{command}"
    env = {
        **os.environ,
        "CHARGER_DATA_DIR": str(data_dir),
        "CHARGER_DUCKDB_PATH": str(db_path),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    args = [
        _dbt_executable(),
        command,
        "--profiles-dir",
        str(PROJECT_DIR),
        "--project-dir",
        str(PROJECT_DIR),
        "--target-path",
        str(target),
        "--log-path",
        str(work / f"logs-{command}"),
        "--threads",
        str(threads),
        "--no-partial-parse",
    ]
    return run_step(args, work / f"dbt-{command}.log", work, env), target


def model_timings(target: Path) -> list[ModelTiming]:
    """Execution time of every model in a dbt target's run_results.json, costliest first."""
    results = json.loads((target / "run_results.json").read_text(encoding="utf-8"))["results"]
    timings = [
        ModelTiming(
            name=result["unique_id"].split(".")[-1], seconds=float(result["execution_time"])
        )
        for result in results
        if result["unique_id"].startswith("model.")
    ]
    return sorted(timings, key=lambda timing: timing.seconds, reverse=True)


def run_reference(
    data_dir: Path, db_path: Path, work: Path, threads: int
) -> tuple[StepResult, float]:
    """Run the reference statement in a fresh DuckDB process; wall time and statement seconds."""
    sql_path = work / "reference.sql"
    sql_path.write_text(
        reference_sql(data_dir, project_var("max_integration_gap_s")), encoding="utf-8"
    )
    command = [
        sys.executable,
        "-c",
        _REFERENCE_RUNNER,
        str(db_path),
        str(threads),
        str(sql_path),
    ]
    log_path = work / "reference.log"
    step = run_step(command, log_path, work, dict(os.environ))
    statement_seconds = float(log_path.read_text(encoding="utf-8").split()[-1])
    return step, statement_seconds


def compare(models_db: Path, reference_db: Path) -> tuple[Agreement, int, int]:
    """Compare the briefings; also return the status and session line counts of staging."""
    con = duckdb.connect(str(reference_db), read_only=True)
    try:
        con.execute(f"attach '{_sql_path(models_db)}' as models (read_only)")
        status_lines, session_lines = con.execute(
            "select (select count(*) from models.main.stg_charger_logs__status_events),"
            " (select count(*) from models.main.stg_charger_logs__sessions)"
        ).fetchall()[0]
        model_sessions, model_energy = con.execute(
            "select count(*), coalesce(sum(telemetry_energy_wh), 0)"
            " from models.main.fct_session_briefings where sample_count > 0"
        ).fetchall()[0]
        reference_sessions, reference_energy = con.execute(
            "select count(*), coalesce(sum(telemetry_energy_wh), 0) from reference_briefings"
        ).fetchall()[0]
        rows = con.execute(
            """
            select
                coalesce(models_side.session_id, reference_briefings.session_id) as session_id,
                coalesce(models_side.sample_count, 0) as model_samples,
                coalesce(reference_briefings.sample_count, 0) as reference_samples
            from (
                select session_id, sample_count from models.main.fct_session_briefings
                where sample_count > 0
            ) as models_side
            full outer join reference_briefings
                on models_side.session_id = reference_briefings.session_id
            order by session_id
            """
        ).fetchall()
    finally:
        con.close()
    differences = [(int(s), int(m), int(r)) for s, m, r in rows if m != r]
    agreement = Agreement(
        model_sessions=int(model_sessions),
        reference_sessions=int(reference_sessions),
        model_energy_wh=float(model_energy),
        reference_energy_wh=float(reference_energy),
        equal_sample_counts=len(rows) - len(differences),
        compared_sessions=len(rows),
        differences=differences,
    )
    return agreement, int(status_lines), int(session_lines)


def _check_data_dir(data: Path) -> str | None:
    """Why a --data folder cannot be used, or None."""
    if not data.is_dir():
        return f"--data {data} is not a folder"
    for stream in ("charger_log_status", "charger_log_session"):
        if not (data / stream).is_dir():
            return f"--data {data} has no {stream}/ folder"
    return None


def _print_report(
    status_lines: int,
    session_lines: int,
    models: StepResult,
    timings: list[ModelTiming],
    reference: StepResult,
    statement_seconds: float,
    build: StepResult | None,
    agreement: Agreement,
) -> None:
    models_sum = sum(timing.seconds for timing in timings)
    print(f"status lines: {status_lines}")
    print(f"session lines: {session_lines}")
    print(f"models wall seconds: {models.seconds:.2f}")
    print(f"models rows per second: {status_lines / models.seconds:.0f}")
    print(f"models execution seconds (sum over models): {models_sum:.2f}")
    print(f"models peak rss MiB: {models.max_rss_mib:.0f}")
    print(f"reference wall seconds: {reference.seconds:.2f}")
    print(f"reference statement seconds: {statement_seconds:.2f}")
    print(f"reference rows per second: {status_lines / reference.seconds:.0f}")
    print(f"reference peak rss MiB: {reference.max_rss_mib:.0f}")
    print(f"ratio models/reference: {models.seconds / reference.seconds:.2f}")
    if build is not None:
        print(f"build with tests wall seconds: {build.seconds:.2f}")
    print(f"load average 1 min at end: {os.getloadavg()[0]:.2f}")
    print(f"costliest {min(TOP_MODELS, len(timings))} models (run_results.json):")
    for timing in timings[:TOP_MODELS]:
        share = timing.seconds / models_sum if models_sum else 0.0
        print(f"  {timing.name}: {timing.seconds:.2f} s, {share:.1%}")
    print(
        f"sessions with telemetry: models {agreement.model_sessions}, reference "
        f"{agreement.reference_sessions}"
    )
    print(
        f"telemetry energy kWh: models {agreement.model_energy_wh / 1000:.3f}, reference "
        f"{agreement.reference_energy_wh / 1000:.3f}, difference {agreement.energy_difference:.4%}"
    )
    print(
        f"equal sample counts: {agreement.equal_sample_counts} of {agreement.compared_sessions} "
        f"sessions ({agreement.sample_count_share:.2%})"
    )
    for session_id, model_samples, reference_samples in agreement.differences[:SHOWN_DIFFERENCES]:
        print(f"  session {session_id}: models {model_samples}, reference {reference_samples}")
    if len(agreement.differences) > SHOWN_DIFFERENCES:
        print(f"  ... {len(agreement.differences) - SHOWN_DIFFERENCES} more")
    print(f"agreement: {'ok' if agreement.ok else 'FAILED'}")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the benchmark; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.data is not None:
        if args.chargers is not None or args.days is not None:
            parser.error("--data reuses a dataset; --chargers and --days only size a generated one")
        problem = _check_data_dir(args.data)
        if problem:
            parser.error(problem)
    if args.threads != (os.cpu_count() or 1):
        _say(
            f"warning: DuckDB inside dbt uses {os.cpu_count()} threads whatever --threads; "
            "the ratio is not like for like"
        )
    work = Path(tempfile.mkdtemp(prefix="chargerlogs-bench-models-"))
    try:
        if args.data is None:
            data_dir = work / "data"
            chargers = args.chargers or DEFAULT_CHARGERS
            days = args.days or DEFAULT_DAYS
            _say(f"generating {chargers} chargers x {days} days into {data_dir}")
            generated = generate_data(data_dir, chargers, days, work)
            _say(f"generated in {generated.seconds:.1f} s")
        else:
            data_dir = args.data.resolve()
        _say(f"dbt run (models only) into {work / 'models.duckdb'}")
        models, target = run_dbt("run", data_dir, work / "models.duckdb", work, args.threads)
        _say(f"dbt run took {models.seconds:.1f} s")
        _say(f"reference statement into {work / 'reference.duckdb'}")
        reference, statement_seconds = run_reference(
            data_dir, work / "reference.duckdb", work, args.threads
        )
        _say(f"reference took {reference.seconds:.1f} s")
        build = None
        if args.with_tests:
            _say(f"dbt build (models and tests) into {work / 'build.duckdb'}")
            build, _ = run_dbt("build", data_dir, work / "build.duckdb", work, args.threads)
            _say(f"dbt build took {build.seconds:.1f} s")
        agreement, status_lines, session_lines = compare(
            work / "models.duckdb", work / "reference.duckdb"
        )
        _print_report(
            status_lines,
            session_lines,
            models,
            model_timings(target),
            reference,
            statement_seconds,
            build,
            agreement,
        )
    except BenchError as error:
        sys.stderr.write(f"{PROG}: error: {error}\n")
        return 1
    finally:
        if args.keep:
            _say(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0 if agreement.ok else 1


if __name__ == "__main__":
    sys.exit(main())
