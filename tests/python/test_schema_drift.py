"""Schema changes through the warehouse, and the check that runs before deploying them.

The drift cases of ``chargerlogs.schema_drift_cases`` (one file each: a new optional field, a
number written as a string, a renamed field, a unit change, ...) are built once with the defaults
and once with var ``strict_json_types``; every line must end as docs/schema_policy.md says. The
compatibility checker of ``chargerlogs.schema_compat`` runs on the repository's schemas and on
fixture versions that break them.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import PROJECT_DIR, query, query_dicts, run_dbt

from chargerlogs import schema_check, schema_compat
from chargerlogs.schema_drift_cases import (
    ACCEPTED,
    FLAGGED,
    drift_cases,
    markdown_table,
    quarantined,
    write_case_files,
)

SCHEMAS = PROJECT_DIR / "schemas"
CASES = drift_cases()
BY_NAME = {case.name: case for case in CASES}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("drift") / "data"
    write_case_files(CASES, root)
    return root


@pytest.fixture(scope="module")
def default_build(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The data-quality models on the case files, with the defaults (their tests run too)."""
    tmp = tmp_path_factory.mktemp("drift_default")
    db_path = tmp / "warehouse.duckdb"
    args = ["build", "--select", *schema_check.DEFAULT_SELECTION]
    run_dbt([*args, "--indirect-selection", "cautious"], data_dir, db_path, tmp)
    return db_path


@pytest.fixture(scope="module")
def strict_build(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The line ledger and the quarantine report on the case files, var strict_json_types true."""
    tmp = tmp_path_factory.mktemp("drift_strict")
    db_path = tmp / "warehouse.duckdb"
    args = ["build", "--select", *schema_check.STRICT_SELECTION, "--indirect-selection", "cautious"]
    run_dbt([*args, "--vars", "{strict_json_types: true}"], data_dir, db_path, tmp)
    return db_path


def file_outcomes(db_path: Path, case_name: str) -> list[str]:
    """The outcome of each line of a case's file, in line order."""
    outcomes = schema_check.line_outcomes(db_path)
    file_name = BY_NAME[case_name].file_name
    return [outcomes[key] for key in sorted(outcomes) if key[0] == file_name]


# Every case, as documented


def test_every_line_of_every_case_ends_as_documented(default_build: Path) -> None:
    assert (
        schema_check.compare_outcomes(CASES, schema_check.line_outcomes(default_build), False) == []
    )


def test_with_strict_json_types_string_numbers_are_type_mismatches(strict_build: Path) -> None:
    assert (
        schema_check.compare_outcomes(CASES, schema_check.line_outcomes(strict_build), True) == []
    )


def test_alerts_values_and_reconciliation_as_documented(default_build: Path) -> None:
    target = default_build.parent / "target"
    assert schema_check.compare_alerts_and_values(CASES, default_build, target) == []


def test_the_case_outcomes_cover_every_schema_drift_reason_of_the_seed(default_build: Path) -> None:
    drift_reasons = {
        row[0]
        for row in query(
            default_build, "select reason_code from quarantine_reasons where is_schema_drift"
        )
    }
    documented = {
        case.outcome.split(":", 1)[1]
        for case in CASES
        if not case.compatible and ":" in case.outcome
    }
    assert documented == drift_reasons


# A stream of numbers written as strings no longer stops


def test_a_file_of_numbers_all_written_as_strings_lands_clean_and_flagged(
    default_build: Path,
) -> None:
    rows = query_dicts(
        default_build,
        "select reading_id, current_l1_a, voltage_l1_v, temperature_l3_c, received_epoch_s"
        " from int_readings_deduplicated where source_file like '%/number_as_string.json'"
        " order by reading_id",
    )
    assert len(rows) == 12
    assert rows[0]["current_l1_a"] == pytest.approx(16.01)
    assert rows[0]["voltage_l1_v"] == pytest.approx(229.5)
    assert rows[0]["temperature_l3_c"] == 40
    assert rows[1]["received_epoch_s"] == pytest.approx(1614861271.512)
    flags = query(
        default_build,
        "select disposition, has_string_number, count(*) from int_log_lines_classified"
        " where source_file like '%/number_as_string.json' group by all",
    )
    assert flags == [("clean", True, 12)]
    drift = query(
        default_build,
        "select drift_kind, is_breaking, line_count, raises_alert from rpt_schema_drift"
        " where source_file like '%/number_as_string.json'",
    )
    assert drift == [("string_number", False, 12, False)]


def test_with_strict_json_types_that_file_is_quarantined(strict_build: Path) -> None:
    assert file_outcomes(strict_build, "number_as_string") == [quarantined("type_mismatch")] * 12
    raw = query(
        strict_build,
        "select reason_code, count(*) from rpt_quarantined_lines"
        " where source_file like '%/number_as_string.json' and raw_line like '%\"229.5\"%'"
        " group by all",
    )
    assert raw == [("type_mismatch", 12)]


def test_breaking_changes_quarantine_their_lines_and_the_others_flow(default_build: Path) -> None:
    assert file_outcomes(default_build, "current_in_amperes") == [quarantined("unit_mismatch")] * 12
    assert (
        file_outcomes(default_build, "measurement_renamed") == [quarantined("renamed_field")] * 12
    )
    stray = file_outcomes(default_build, "stray_bad_line")
    assert stray == [ACCEPTED] * 5 + [quarantined("type_mismatch")] + [ACCEPTED] * 6
    kept = query(
        default_build,
        "select regexp_extract(source_file, '[^/]+$'), count(*)"
        " from int_readings_deduplicated group by 1",
    )
    kept_files = dict(kept)
    assert kept_files["stray_bad_line.json"] == 11
    assert kept_files["new_optional_field.json"] == 12
    assert "current_in_amperes.json" not in kept_files


def test_the_operator_is_warned_of_each_systematic_break(default_build: Path) -> None:
    results = json.loads((default_build.parent / "target" / "run_results.json").read_text())
    alert = next(
        result
        for result in results["results"]
        if result["unique_id"].endswith(schema_check.ALERT_TEST)
    )
    assert alert["status"] == "warn"
    assert alert["failures"] == sum(case.alert for case in CASES) == 12


# The checker itself can fail


def test_a_wrong_expectation_is_reported(default_build: Path) -> None:
    case = BY_NAME["number_as_string"]
    wrong = replace(case, lines=[replace(line, outcome=ACCEPTED) for line in case.lines])
    problems = schema_check.compare_outcomes(
        [wrong], schema_check.line_outcomes(default_build), False
    )
    assert len(problems) == 12
    assert problems[0] == f"number_as_string line 1 by default: {FLAGGED}, expected {ACCEPTED}"


def test_a_missing_alert_is_reported(default_build: Path) -> None:
    quiet = replace(BY_NAME["voltage_in_kilovolts"], alert=False)
    cases = [*CASES[:-1], quiet]
    problems = schema_check.compare_alerts_and_values(
        cases, default_build, default_build.parent / "target"
    )
    assert "voltage_in_kilovolts: alert raised is True" in problems


# The documentation


def test_the_policy_documents_every_case_as_tested() -> None:
    policy = (PROJECT_DIR / "docs" / "schema_policy.md").read_text(encoding="utf-8")
    assert markdown_table(CASES) in policy


# Compatibility of schema versions


def test_the_repository_schemas_are_compatible_and_the_cases_valid_as_documented() -> None:
    assert schema_check.check_compatibility(SCHEMAS) == []
    assert schema_check.check_against_schemas(CASES, SCHEMAS) == []
    assert schema_check.main(["--skip-samples", "--quiet"]) == 0


def breaking_v3(folder: Path) -> Path:
    """A copy of the schemas with a v3 of the flat status layout that breaks v2 five ways."""
    shutil.copytree(SCHEMAS, folder)
    schema = json.loads((folder / "charger_log_status.flat.v2.json").read_text())
    schema["$id"] = schema["$id"].replace(":v2", ":v3")
    schema["x-version"] = 3
    properties = schema["properties"]
    properties["measured_at"] = properties.pop("charger_timestamp")  # a required field renamed
    schema["required"] = ["id", "charger_id", "measured_at", "server_timestamp"]
    properties["ac_voltage_rms_1"]["type"] = ["integer", "null"]  # number narrowed to integer
    properties["ac_current_rms_2"]["x-unit"] = "A"  # unit changed
    properties["firmware_version"] = {"type": "string"}
    schema["required"].append("firmware_version")  # a new required field
    path = folder / "charger_log_status.flat.v3.json"
    path.write_text(json.dumps(schema, indent=2))
    return path


def test_a_breaking_schema_version_fails_the_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "schemas"
    breaking_v3(folder)
    assert schema_check.main(["--schemas", str(folder), "--skip-samples", "--quiet"]) == 1
    printed = capsys.readouterr().out.splitlines()
    assert sorted(printed) == sorted(
        [
            "schema-check: charger_log_status.flat.v3.json: ac_current_rms_2: unit changed,"
            " cA -> A",
            "schema-check: charger_log_status.flat.v3.json: ac_voltage_rms_1: type narrowed,"
            " null|number -> integer|null",
            "schema-check: charger_log_status.flat.v3.json: charger_timestamp: field removed"
            " (it was required)",
            "schema-check: charger_log_status.flat.v3.json: measured_at: new required field",
            "schema-check: charger_log_status.flat.v3.json: firmware_version: new required field",
        ]
    )


def test_two_schema_files_compared_from_the_command_line(tmp_path: Path) -> None:
    folder = tmp_path / "schemas"
    v3 = breaking_v3(folder)
    command = [sys.executable, "-m", "chargerlogs.schema_check"]
    old = folder / "charger_log_status.flat.v2.json"
    result = subprocess.run(
        [*command, "--old", str(old), "--new", str(v3)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 1
    assert "measured_at: new required field" in result.stdout
    v1 = folder / "charger_log_status.flat.v1.json"
    result = subprocess.run(
        [*command, "--old", str(v1), "--new", str(old)], capture_output=True, text=True, check=False
    )
    assert (result.returncode, result.stdout.strip()) == (
        0,
        "schema-check: charger_log_status.flat.v2.json is backward compatible with"
        " charger_log_status.flat.v1.json",
    )
    help_text = subprocess.run([*command, "--help"], capture_output=True, text=True, check=True)
    for option in (
        "--schemas",
        "--old",
        "--new",
        "--skip-samples",
        "--work",
        "--print-table",
        "--quiet",
    ):
        assert option in help_text.stdout


def test_compatible_changes_pass(tmp_path: Path) -> None:
    old = json.loads((SCHEMAS / "charger_log_status.nested.v1.json").read_text())
    new = json.loads(json.dumps(old))
    element = new["properties"]["charger_phases"]["items"]["properties"]
    element["power_factor"] = {"type": ["number", "null"]}  # a new optional field per phase
    new["properties"]["firmware_version"] = {"type": "string"}  # a new optional top-level field
    element["temperature"]["type"] = ["number", "null"]  # integer widened to number
    assert schema_compat.breaking_changes(old, new) == []
    element["id"]["enum"] = [1, 2, 3, 4]  # a phase id outside 1-3
    new["additionalProperties"] = False
    assert schema_compat.breaking_changes(old, new) == [
        "charger_phases[].id: allowed values changed, (1, 2, 3) -> (1, 2, 3, 4)",
        "the event: closed to new fields (additionalProperties false)",
    ]


def test_a_misnamed_or_misnumbered_schema_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "schemas"
    shutil.copytree(SCHEMAS, folder)
    (folder / "charger_log_session.flat.v1.json").rename(
        folder / "charger_log_session.flat.v2.json"
    )
    problems = schema_check.check_compatibility(folder)
    assert problems == [
        "charger_log_session.flat.v2.json: x-stream, x-layout, x-version say"
        " ('charger_log_session', 'flat', 1)"
    ]
