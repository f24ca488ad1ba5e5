"""The check of the dbt vars given for one build (make run VARS=..., the live loop's --vars)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from chargerlogs import project_vars

PROJECT_DIR = Path(__file__).resolve().parents[2]


def test_declared_vars_pass_with_values_of_their_kind() -> None:
    given = project_vars.check_vars(
        "{big_change_threshold_pct: 12.5, strict_json_types: true, "
        "fleet_default_time_zone: Europe/Lisbon, brief_session_id: 3580880}"
    )
    assert given["big_change_threshold_pct"] == 12.5
    assert project_vars.check_vars("") == {}


@pytest.mark.parametrize(
    ("vars_yaml", "message"),
    [
        (
            "{big_change_treshold_pct: 20}",
            "unknown var 'big_change_treshold_pct'; did you mean big_change_threshold_pct?",
        ),
        (
            "{no_such_setting_at_all: 1}",
            "unknown var 'no_such_setting_at_all'; see vars in dbt_project.yml",
        ),
        (
            "{big_change_threshold_pct: abc}",
            "var big_change_threshold_pct must be a number (as its default 10), got abc",
        ),
        (
            "{strict_json_types: 1}",
            "var strict_json_types must be true or false (as its default false), got 1",
        ),
        (
            "{fleet_default_time_zone: 3}",
            "var fleet_default_time_zone must be text (as its default Europe/Madrid), got 3",
        ),
        ("[1, 2]", "vars must be a mapping such as '{name: value}', got '[1, 2]'"),
    ],
)
def test_a_wrong_var_is_named(vars_yaml: str, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        project_vars.check_vars(vars_yaml)
    assert str(raised.value) == message


def test_command_exits_2_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert project_vars.main(["{big_change_threshold_pct: abc}"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith(f"{project_vars.PROG}: error: var ")
    assert project_vars.main(["{big_change_threshold_pct: 20}"]) == 0


def test_make_run_stops_on_a_misspelt_var_before_building(tmp_path: Path) -> None:
    build = tmp_path / "build"
    result = subprocess.run(
        ["make", "-o", ".venv/.installed", "-o", "data", "run"]
        + [f"BUILD_DIR={build}", "VARS={big_change_treshold_pct: 20}"],
        capture_output=True,
        text=True,
        cwd=PROJECT_DIR,
        env={**os.environ, "CHARGER_DUCKDB_PATH": str(build / "charger_telemetry.duckdb")},
    )
    assert result.returncode != 0
    assert "unknown var 'big_change_treshold_pct'; did you mean big_change_threshold_pct?" in (
        result.stderr
    )
    assert "dbt build" not in result.stdout
    assert not (build / "charger_telemetry.duckdb").exists()


def test_live_loop_refuses_a_misspelt_var_with_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "chargerlogs.live_loop", "--data", str(tmp_path)]
        + ["--lake", str(tmp_path / "lake"), "--warehouse", str(tmp_path / "w.duckdb")]
        + ["--published", str(tmp_path / "p.duckdb"), "--vars", "{big_change_treshold_pct: 20}"],
        capture_output=True,
        text=True,
        cwd=PROJECT_DIR,
    )
    assert result.returncode == 2
    assert result.stderr == (
        "python -m chargerlogs.live_loop: error: --vars: unknown var 'big_change_treshold_pct'; "
        "did you mean big_change_threshold_pct?\n"
    )
