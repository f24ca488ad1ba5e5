"""A user's own export is read, never written: by the generator (any flags) and by make.

Only the project's own folder, data/default, is ever generated; the generator itself refuses any
non-empty folder that does not carry its marker.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PROJECT_DIR, write_lines

from chargerlogs.ownership import MARKER_PATH, SIGNATURE

JOB = "5f0c3a52-8e1d-4c7b-9a36-0d2f4b6e8a11"
# Variables a calling make (``make test``) may pass down; each test sets its own.
MAKE_VARIABLES = (
    "MAKEFLAGS",
    "MFLAGS",
    "MAKELEVEL",
    "MAKEOVERRIDES",
    "DATA_DIR",
    "DEFAULT_DATA_DIR",
    "CHARGER_DATA_DIR",
    "CHARGER_DUCKDB_PATH",
    "BUILD_DIR",
)


def write_export(folder: Path) -> Path:
    """A small export as a Spark job writes it: gzip part files, _SUCCESS, session part files."""
    status = [
        {
            "id": 912345678 + n,
            "charger_id": 14502,
            "charger_phases": [
                {"id": p, "temperature": 38, "ac_current_rms": 1600, "ac_voltage_rms": 231}
                for p in (1, 2, 3)
            ],
            "charger_timestamp": 1614860030 + 30 * n,
            "server_timestamp": f"2021-03-04T12:34:{n + 1:02d}.512Z",
        }
        for n in range(4)
    ]
    write_lines(folder / "charger_log_status" / f"part-00000-{JOB}.json.gz", status)
    write_lines(folder / "charger_log_status" / f"part-00001-{JOB}.json.gz", status[:1])
    (folder / "charger_log_status" / "_SUCCESS").write_bytes(b"")
    sessions = [
        {
            "id": 3521877 + n,
            "charger_id": 14502,
            "user_id": 88121,
            "energy": 12873,
            "total_cost": 2.57,
            "start_time": 1614860000 + 86_400 * n,
            "end_time": 1614888000 + 86_400 * n,
        }
        for n in range(3)
    ]
    write_lines(folder / "charger_log_session" / f"part-00000-{JOB}.json", sessions)
    return folder


def snapshot(folder: Path) -> dict[str, str]:
    """Every entry under ``folder``: sha256 of each file, "dir" for each folder."""
    return {
        path.relative_to(folder).as_posix(): (
            "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
        )
        for path in folder.rglob("*")
    }


@pytest.fixture
def export(tmp_path: Path) -> Path:
    return write_export(tmp_path / "my_export")


def generator(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chargerlogs.generate", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def make(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run make in the project with a clean environment plus ``env``."""
    clean = {k: v for k, v in os.environ.items() if k not in MAKE_VARIABLES}
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=PROJECT_DIR,
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )


def planned_generator_commands(output: str) -> list[str]:
    return [line for line in output.splitlines() if "chargerlogs-generate --out" in line]


# The generator


@pytest.mark.parametrize("flags", [(), ("--force",), ("--force", "--clean", "--workers", "1")])
def test_generator_refuses_an_export(export: Path, flags: tuple[str, ...]) -> None:
    before = snapshot(export)
    result = generator("--out", str(export), "--chargers", "2", "--days", "1", *flags)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"chargerlogs-generate: error: --out {export} is not empty")
    assert MARKER_PATH in result.stderr
    assert snapshot(export) == before


def test_generator_refuses_any_unmarked_folder(tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "README.txt").write_text("mine\n")
    (folder / "_generator").mkdir()
    (folder / MARKER_PATH).write_text("something else\n")
    before = snapshot(folder)
    result = generator("--out", str(folder), "--force", "--chargers", "2", "--days", "1")
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert snapshot(folder) == before
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    result = generator("--out", str(a_file), "--force", "--chargers", "2", "--days", "1")
    assert result.returncode == 2 and "is not a directory" in result.stderr
    assert a_file.read_text() == "x"


@pytest.mark.parametrize("exists", [False, True])
def test_generator_marks_a_new_or_empty_folder(tmp_path: Path, exists: bool) -> None:
    out = tmp_path / "data"
    if exists:
        out.mkdir()
    result = generator("--out", str(out), "--chargers", "2", "--days", "1", "--quiet")
    assert result.returncode == 0, result.stderr
    assert (out / MARKER_PATH).read_text().splitlines()[0] == SIGNATURE
    assert (out / "_generator" / "manifest.json").is_file()


def test_force_regenerates_only_a_marked_folder(tmp_path: Path) -> None:
    out = tmp_path / "data"
    args = ("--out", str(out), "--chargers", "2", "--days", "1", "--quiet")
    assert generator(*args).returncode == 0
    first = snapshot(out)
    refused = generator(*args)
    assert refused.returncode == 2 and "--force regenerates it" in refused.stderr
    assert snapshot(out) == first
    status = sorted((out / "charger_log_status").glob("*.json*"))
    status[0].unlink()
    (out / "charger_log_status" / "stray.json").write_text("{}\n")
    (out / "_generator" / "manifest.json").unlink()
    (out / "notes.txt").write_text("kept\n")
    assert generator(*args, "--force").returncode == 0
    after = snapshot(out)
    assert after.pop("notes.txt") == hashlib.sha256(b"kept\n").hexdigest()
    assert after == first


# make


@pytest.mark.parametrize(
    "how",
    ["DATA_DIR on the command line", "CHARGER_DATA_DIR in the environment", "both variables"],
)
def test_make_run_plans_no_generation_for_an_export(export: Path, how: str) -> None:
    args, env = ["-n", "-B", "run"], {}
    if how != "CHARGER_DATA_DIR in the environment":
        args.append(f"DATA_DIR={export}")
    if how != "DATA_DIR on the command line":
        env["CHARGER_DATA_DIR"] = str(export)
    result = make(*args, env=env)
    assert result.returncode == 0, result.stderr
    assert planned_generator_commands(result.stdout) == []
    assert "chargerlogs.generate" not in result.stdout
    assert ".venv/bin/dbt build" in result.stdout
    assert f"input data (your own folder, read only): {export}" in result.stdout


@pytest.mark.parametrize(
    "how", ["DATA_DIR on the command line", "CHARGER_DATA_DIR in the environment"]
)
def test_make_data_leaves_an_export_untouched(export: Path, how: str) -> None:
    before = snapshot(export)
    if how == "DATA_DIR on the command line":
        result = make("data", f"DATA_DIR={export}")
    else:
        result = make("data", env={"CHARGER_DATA_DIR": str(export)})
    assert result.returncode == 0, result.stderr
    assert planned_generator_commands(result.stdout + result.stderr) == []
    assert snapshot(export) == before


def test_make_data_refuses_a_folder_without_streams(tmp_path: Path) -> None:
    missing = tmp_path / "typo"
    result = make("data", f"DATA_DIR={missing}")
    assert result.returncode != 0
    assert f"make: {missing} has no charger_log_status/" in result.stderr
    assert not missing.exists()


def test_make_plans_the_default_dataset() -> None:
    for args in (["-n", "-B", "run"], ["-n", "-B", "run", "DATA_DIR=data/default/"]):
        result = make(*args)
        assert result.returncode == 0, result.stderr
        commands = planned_generator_commands(result.stdout)
        assert commands == [".venv/bin/chargerlogs-generate --out data/default --seed 42 --force"]
        assert "input data (generated, seed 42): " in result.stdout


def test_make_generates_the_default_folder_and_regenerates_it(tmp_path: Path) -> None:
    # DEFAULT_DATA_DIR moves the project's own folder to a temporary one for this test.
    default = tmp_path / "default"
    planned = make("-n", "data", f"DEFAULT_DATA_DIR={default}")
    assert planned_generator_commands(planned.stdout) == [
        f".venv/bin/chargerlogs-generate --out {default} --seed 42 --force"
    ]
    first = make("data", f"DEFAULT_DATA_DIR={default}")
    assert first.returncode == 0, first.stderr
    manifest = json.loads((default / "_generator" / "manifest.json").read_text())
    assert manifest["arguments"]["seed"] == 42 and manifest["arguments"]["chargers"] == 25
    assert (default / MARKER_PATH).read_text().splitlines()[0] == SIGNATURE
    generated = snapshot(default)
    again = make("data", f"DEFAULT_DATA_DIR={default}")
    assert again.returncode == 0 and planned_generator_commands(again.stdout) == []
    assert snapshot(default) == generated
    (default / "_generator" / "manifest.json").unlink()
    shutil.rmtree(default / "charger_log_session")
    regenerated = make("data", f"DEFAULT_DATA_DIR={default}")
    assert regenerated.returncode == 0, regenerated.stderr
    assert len(planned_generator_commands(regenerated.stdout)) == 1
    assert snapshot(default) == generated
