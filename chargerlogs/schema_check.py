"""The check before deploying a schema change: ``make schema-check``.

1. Every schema file of ``schemas/`` is a valid JSON Schema, versions numbered 1, 2, ... and the
   latest version of each stream layout is backward compatible with the one before it
   (``chargerlogs.schema_compat``).
2. Each drift case (``chargerlogs.schema_drift_cases``) is validated against the latest schema of
   its stream and layout, then fed through staging and the line ledger with ``dbt build``, once
   with the defaults and once with var ``strict_json_types``; every line must end as the case
   says (accepted, flagged or quarantined with its reason), the alert of ``rpt_schema_drift`` must
   be raised for exactly the cases that expect it, and every file must be reconciled.

Exits 0 when everything holds, else 1 with one line per difference; 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
from jsonschema import Draft202012Validator

from chargerlogs import dbt_runner, schema_compat
from chargerlogs.schema_drift_cases import ACCEPTED, FLAGGED, DriftCase, drift_cases, quarantined

SCHEMAS_DIR = dbt_runner.PROJECT_DIR / "schemas"
# Staging, the line ledger and the data-quality marts (their data and unit tests included).
DEFAULT_SELECTION = (
    "quarantine_reasons",
    "+rpt_schema_drift",
    "+rpt_ingestion_reconciliation",
    "assert_no_systematic_schema_drift",
)
STRICT_SELECTION = ("quarantine_reasons", "+rpt_quarantined_lines")
ALERT_TEST = "assert_no_systematic_schema_drift"


def check_compatibility(schemas_dir: Path) -> list[str]:
    """One line per breaking change of a latest schema version, or per unreadable schema file."""
    try:
        results = schema_compat.check_latest_versions(schemas_dir)
    except schema_compat.SchemaError as error:
        return [str(error)]
    return [f"{name}: {problem}" for name, problems in results.items() for problem in problems]


def check_against_schemas(cases: list[DriftCase], schemas_dir: Path) -> list[str]:
    """One line per case line whose validity under its latest schema is not the expected one."""
    latest = schema_compat.latest_schemas(schemas_dir)
    problems = []
    for case in cases:
        for number, line in enumerate(case.lines, start=1):
            if isinstance(line.event, str):
                continue
            layout = "nested" if "charger_phases" in line.event else "flat"
            schema = latest[(case.stream, layout)]
            valid = Draft202012Validator(schema.schema).is_valid(line.event)
            if valid != line.schema_valid:
                problems.append(
                    f"{case.name} line {number}: valid under {schema.path.name} is {valid},"
                    f" expected {line.schema_valid}"
                )
    return problems


def build(data_dir: Path, work: Path, name: str, selection: Sequence[str], vars_: str) -> Path:
    """``dbt build`` of ``selection`` on ``data_dir`` into ``work/<name>.duckdb``."""
    db_path = work / f"{name}.duckdb"
    args = ["build", "--select", *selection, "--indirect-selection", "cautious"]
    if vars_:
        args += ["--vars", vars_]
    result = dbt_runner.run_dbt(
        args,
        data_dir=data_dir,
        db_path=db_path,
        target_path=work / f"{name}_target",
        log_path=work / f"{name}_logs",
        env={"CHARGER_LAKE_DIR": ""},
    )
    dbt_runner.check(result)
    return db_path


def line_outcomes(db_path: Path) -> dict[tuple[str, int], str]:
    """(file name, line number) -> outcome of every line of the ledger."""
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        rows = con.execute(
            "select source_file, line_number, disposition, reason_code, has_string_number"
            " from intermediate.int_log_lines_classified"
        ).fetchall()
    finally:
        con.close()
    outcomes = {}
    for source_file, line_number, disposition, reason, has_string_number in rows:
        if disposition == "clean":
            outcome = FLAGGED if has_string_number else ACCEPTED
        else:
            outcome = quarantined(reason)
        outcomes[(Path(source_file).name, line_number)] = outcome
    return outcomes


def compare_outcomes(
    cases: list[DriftCase], outcomes: dict[tuple[str, int], str], strict: bool
) -> list[str]:
    """One line per case line whose outcome differs from the expected one."""
    label = "with strict_json_types" if strict else "by default"
    problems = []
    for case in cases:
        for number, line in enumerate(case.lines, start=1):
            expected = line.strict_outcome if strict else line.outcome
            found = outcomes.get((case.file_name, number), "missing from the ledger")
            if found != expected:
                problems.append(f"{case.name} line {number} {label}: {found}, expected {expected}")
    return problems


def compare_alerts_and_values(cases: list[DriftCase], db_path: Path, target: Path) -> list[str]:
    """The alert per file and the values read for the first line of the accepted cases; every
    file reconciled; the warning test warned with one row per alert."""
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        alerted = {
            Path(row[0]).name
            for row in con.execute(
                "select source_file from marts.rpt_schema_drift where raises_alert"
            ).fetchall()
        }
        unreconciled = con.execute(
            "select source_file from marts.rpt_ingestion_reconciliation where not is_reconciled"
        ).fetchall()
        problems = [f"{Path(row[0]).name}: not reconciled" for row in unreconciled]
        for case in cases:
            if (case.file_name in alerted) != case.alert:
                problems.append(f"{case.name}: alert raised is {case.file_name in alerted}")
            if case.values:
                table = (
                    "int_readings_classified"
                    if case.stream == "charger_log_status"
                    else "int_sessions_classified"
                )
                columns = ", ".join(case.values)
                row = con.execute(
                    f"select {columns} from intermediate.{table}"
                    " where source_file like '%/' || ? and line_number = 1",
                    [case.file_name],
                ).fetchone()
                found = dict(zip(case.values, row or [None] * len(case.values), strict=True))
                for column, expected in case.values.items():
                    if not _same(found[column], expected):
                        problems.append(
                            f"{case.name}: {column} is {found[column]!r}, expected {expected!r}"
                        )
    finally:
        con.close()
    results = json.loads((target / "run_results.json").read_text())
    alert_runs = [r for r in results["results"] if r["unique_id"].split(".")[-1] == ALERT_TEST]
    expected_status = "warn" if any(case.alert for case in cases) else "pass"
    expected_failures = sum(case.alert for case in cases)
    for run in alert_runs or [{"status": "not run", "failures": None}]:
        if (run["status"], run["failures"]) != (expected_status, expected_failures):
            problems.append(
                f"{ALERT_TEST}: {run['status']} with {run['failures']} rows,"
                f" expected {expected_status} with {expected_failures}"
            )
    return problems


def _same(found: Any, expected: Any) -> bool:
    if isinstance(expected, float) and isinstance(found, int | float):
        return math.isclose(found, expected, rel_tol=1e-9, abs_tol=1e-9)
    return found == expected


def check_samples(cases: list[DriftCase], work: Path, *, quiet: bool = False) -> list[str]:
    """Write the cases under ``work/data``, build them twice and compare; the differences."""
    from chargerlogs.schema_drift_cases import write_case_files

    data_dir = work / "data"
    write_case_files(cases, data_dir)
    _say(f"built {len(cases)} drift cases into {data_dir}; dbt build (defaults)...", quiet)
    default_db = build(data_dir, work, "default", DEFAULT_SELECTION, "")
    problems = compare_outcomes(cases, line_outcomes(default_db), strict=False)
    problems += compare_alerts_and_values(cases, default_db, work / "default_target")
    _say("dbt build (strict_json_types: true)...", quiet)
    strict_db = build(data_dir, work, "strict", STRICT_SELECTION, "{strict_json_types: true}")
    problems += compare_outcomes(cases, line_outcomes(strict_db), strict=True)
    return problems


def _say(message: str, quiet: bool) -> None:
    if not quiet:
        print(message, file=sys.stderr, flush=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m chargerlogs.schema_check",
        description=(
            "Check schema changes before deploying: the latest version of each schema in "
            "--schemas must be backward compatible with the one before it, and each drift case "
            "(a kind of change a producer can make) must end as docs/schema_policy.md says "
            "when fed through staging with dbt. Exits 1 with one line per difference."
        ),
    )
    parser.add_argument(
        "--schemas",
        type=Path,
        default=SCHEMAS_DIR,
        help="folder of the schema files <stream>.<layout>.v<N>.json (default: schemas/)",
    )
    parser.add_argument(
        "--old",
        type=Path,
        help="compare only this schema file with --new (no drift cases, no dbt)",
    )
    parser.add_argument("--new", type=Path, help="the newer schema file compared with --old")
    parser.add_argument(
        "--skip-samples",
        action="store_true",
        help="check the schema versions only, without feeding the drift cases through dbt",
    )
    parser.add_argument(
        "--work",
        type=Path,
        help="folder for the case files and the DuckDB files, kept after the run "
        "(default: a temporary folder, removed)",
    )
    parser.add_argument(
        "--print-table",
        action="store_true",
        help="print the drift cases as the markdown table of docs/schema_policy.md and exit",
    )
    parser.add_argument("--quiet", action="store_true", help="print only the differences")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the checks; 0 when all hold, 1 with the differences printed, 2 on bad arguments."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if (args.old is None) != (args.new is None):
        parser.error("--old and --new go together")
    cases = drift_cases()
    if args.print_table:
        from chargerlogs.schema_drift_cases import markdown_table

        print(markdown_table(cases), end="")
        return 0
    if args.old is not None:
        try:
            old, new = schema_compat.load_schema(args.old), schema_compat.load_schema(args.new)
        except (OSError, schema_compat.SchemaError) as error:
            print(f"schema-check: {error}", file=sys.stderr)
            return 2
        problems = [
            f"{new.path.name}: {p}" for p in schema_compat.breaking_changes(old.schema, new.schema)
        ]
        return _report(problems, f"{new.path.name} is backward compatible with {old.path.name}")
    if not args.schemas.is_dir():
        print(f"schema-check: {args.schemas} is not a folder", file=sys.stderr)
        return 2
    problems = check_compatibility(args.schemas)
    if not problems:
        problems = check_against_schemas(cases, args.schemas)
    _say(f"schema versions checked: {_describe(args.schemas)}", args.quiet)
    if not args.skip_samples:
        try:
            if args.work is not None:
                args.work.mkdir(parents=True, exist_ok=True)
                problems += check_samples(cases, args.work, quiet=args.quiet)
            else:
                with tempfile.TemporaryDirectory(prefix="schema_check_") as work:
                    problems += check_samples(cases, Path(work), quiet=args.quiet)
        except dbt_runner.ProcessError as error:
            problems.append(f"{error}\n{error.output_tail}")
    lines = sum(len(case.lines) for case in cases)
    summary = f"schemas compatible; {len(cases)} drift cases ({lines} lines) as documented"
    if args.skip_samples:
        summary = "schemas compatible; drift cases valid as documented under the latest schemas"
    return _report(problems, summary)


def _describe(schemas_dir: Path) -> str:
    try:
        groups = schema_compat.load_schemas(schemas_dir)
    except schema_compat.SchemaError:
        return "unreadable"
    return ", ".join(
        f"{stream}.{layout} v{len(versions)}" for (stream, layout), versions in groups.items()
    )


def _report(problems: list[str], summary: str) -> int:
    if problems:
        for problem in problems:
            print(f"schema-check: {problem}")
        return 1
    print(f"schema-check: {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
