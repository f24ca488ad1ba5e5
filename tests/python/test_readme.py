"""The README's recipes run as written: its SQL samples on the default build, its one-liner."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import PROJECT_DIR, VENV_BIN, DefaultWarehouse, query

README = (PROJECT_DIR / "README.md").read_text(encoding="utf-8")
SQL_SAMPLES = re.findall(r"```sql\n(.*?)```", README, flags=re.S)


def test_the_readme_has_its_sql_samples() -> None:
    assert len(SQL_SAMPLES) >= 4


@pytest.mark.parametrize("sql", SQL_SAMPLES, ids=[f"sample{i}" for i in range(len(SQL_SAMPLES))])
def test_sql_sample_runs_and_returns_rows(default_warehouse: DefaultWarehouse, sql: str) -> None:
    rows = query(default_warehouse.db_path, sql)
    assert rows, sql


def test_python_one_liner_runs(default_warehouse: DefaultWarehouse, tmp_path: Path) -> None:
    command = re.search(r"\.venv/bin/python -c \"(.*?)\"\n", README).group(1)
    # the recipe reads the serving copy; here a copy of the test build stands in for it
    published = tmp_path / "build" / "published" / "charger_telemetry.duckdb"
    published.parent.mkdir(parents=True)
    shutil.copy(default_warehouse.db_path, published)
    result = subprocess.run(
        [str(VENV_BIN / "python"), "-c", command],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "avg_session_duration_h" in result.stdout
