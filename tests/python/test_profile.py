"""The DuckDB profile: where a build larger than memory spills."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import run_dbt

SHOW_TEMP_DIRECTORY = [
    "show",
    "--inline",
    "select current_setting('temp_directory') as temp_directory",
    "--output",
    "json",
    "--log-format",
    "text",
]


def _temp_directory(tmp_path: Path, env: dict[str, str] | None = None) -> str:
    """The temp directory of a dbt connection to a warehouse file in a folder of its own."""
    warehouse_dir = tmp_path / "elsewhere"
    warehouse_dir.mkdir()
    result = run_dbt(
        SHOW_TEMP_DIRECTORY, tmp_path / "no-data", warehouse_dir / "warehouse.duckdb", tmp_path, env
    )
    match = re.search(r"\{\s*\"show\".*\}", result.stdout, re.DOTALL)
    assert match, result.stdout
    return str(json.loads(match.group(0))["show"][0]["temp_directory"])


def test_spill_folder_is_beside_the_warehouse_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """By default the spill folder is the warehouse file's, not one under the working folder.

    DuckDB creates the folder but not its parents: a folder relative to dbt's working folder fails
    a large build wherever that folder's parent does not exist yet.
    """
    monkeypatch.delenv("CHARGER_DUCKDB_TEMP_DIR", raising=False)
    assert _temp_directory(tmp_path) == str(tmp_path / "elsewhere" / "warehouse.duckdb.tmp")


def test_spill_folder_follows_its_variable(tmp_path: Path) -> None:
    """CHARGER_DUCKDB_TEMP_DIR names the spill folder."""
    spill = tmp_path / "spill"
    assert _temp_directory(tmp_path, {"CHARGER_DUCKDB_TEMP_DIR": str(spill)}) == str(spill)
