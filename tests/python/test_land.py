"""Landing into the lake's bronze layer: each file once, a ledger, the same marts from bronze."""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from conftest import DefaultWarehouse, file_lines, run_dbt, table_fingerprint, write_lines
from test_marts import MARTS

from chargerlogs import land


def run_land(data: Path, lake: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chargerlogs.land", "--data", str(data), "--lake", str(lake)],
        capture_output=True,
        text=True,
        check=False,
    )


def bronze_lines(lake: Path, source_file: str) -> list[tuple[int, str]]:
    con = duckdb.connect()
    try:
        return con.execute(
            f"select line_number, raw_line from read_parquet('{lake}/bronze/*/*/*.parquet')"
            " where source_file = ? order by line_number",
            [source_file],
        ).fetchall()
    finally:
        con.close()


@pytest.fixture()
def small_folder(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    write_lines(data / "charger_log_status" / "a.json", ['{"id": 1}', "", "  ", '{"id": 2'])
    write_lines(data / "charger_log_status" / "part-00000-x.json.gz", ['{"id": 3}', '{"id": 4}'])
    write_lines(data / "charger_log_session" / "s.json", ['{"id": 3500001}'])
    (data / "charger_log_status" / "notes.json.bak").write_text("not read\n")
    return data


def test_every_line_lands_with_its_number(small_folder: Path, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    result = run_land(small_folder, lake)
    assert result.returncode == 0, result.stderr
    assert "landed 3 new files, 7 lines" in result.stderr
    for name in ("a.json", "part-00000-x.json.gz"):
        path = small_folder / "charger_log_status" / name
        expected = list(enumerate(file_lines(path), 1))
        assert bronze_lines(lake, f"{small_folder}/charger_log_status/{name}") == expected
    ledger = land.read_ledger(lake)
    assert sorted(Path(row.source_file).name for row in ledger.values()) == [
        "a.json",
        "part-00000-x.json.gz",
        "s.json",
    ]
    row = ledger[f"{small_folder}/charger_log_status/part-00000-x.json.gz"]
    assert row.line_count == 2 and Path(row.bronze_file).exists()
    assert (
        row.size_bytes
        == (small_folder / "charger_log_status" / "part-00000-x.json.gz").stat().st_size
    )


def test_a_file_lands_once_and_a_new_one_alone(small_folder: Path, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    assert run_land(small_folder, lake).returncode == 0
    bronze = {path: path.stat().st_mtime_ns for path in lake.rglob("*.parquet")}
    again = run_land(small_folder, lake)
    assert again.returncode == 0 and "landed 0 new files" in again.stderr
    assert {path: path.stat().st_mtime_ns for path in lake.rglob("*.parquet")} == bronze
    write_lines(small_folder / "charger_log_status" / "b.json", ['{"id": 5}'])
    third = run_land(small_folder, lake)
    assert "landed 1 new files, 1 lines" in third.stderr
    assert len(land.read_ledger(lake)) == 4


def test_a_changed_file_is_refused_with_one_line(small_folder: Path, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    assert run_land(small_folder, lake).returncode == 0
    ledger_bytes = (lake / land.LEDGER).read_bytes()
    path = small_folder / "charger_log_status" / "part-00000-x.json.gz"
    path.write_bytes(gzip.compress(b'{"id": 3}\n{"id": 44}\n'))
    write_lines(small_folder / "charger_log_session" / "t.json", ['{"id": 3500002}'])
    result = run_land(small_folder, lake)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "part-00000-x.json.gz changed since it was landed" in result.stderr
    # nothing was landed, not even the new file
    assert (lake / land.LEDGER).read_bytes() == ledger_bytes
    assert not list(lake.rglob("t.json.parquet"))


def test_marts_built_from_bronze_equal_the_marts_built_from_json(
    default_warehouse: DefaultWarehouse, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    data = str(default_warehouse.data_dir)
    assert land.main(["--data", data, "--lake", str(lake), "--quiet"]) == 0
    db = tmp_path / "warehouse.duckdb"
    run_dbt(
        ["build"], default_warehouse.data_dir, db, tmp_path, env={"CHARGER_LAKE_DIR": str(lake)}
    )
    for mart in MARTS:
        assert table_fingerprint(db, mart) == table_fingerprint(default_warehouse.db_path, mart), (
            mart
        )
    shutil.rmtree(lake)


def test_a_landed_file_is_read_again_only_when_its_size_or_time_changed(
    small_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = tmp_path / "lake"
    land.land(str(small_folder), lake, say=False)
    hashed: list[str] = []
    real_sha256 = land.sha256

    def counting_sha256(path: str) -> str:
        hashed.append(Path(path).name)
        return real_sha256(path)

    monkeypatch.setattr(land, "sha256", counting_sha256)
    assert land.land(str(small_folder), lake, say=False) == []
    assert hashed == []  # nothing new: no file read

    touched = small_folder / "charger_log_status" / "a.json"
    os.utime(touched, ns=(touched.stat().st_atime_ns, touched.stat().st_mtime_ns + 10**9))
    assert land.land(str(small_folder), lake, say=False) == []
    assert hashed == ["a.json"]  # touched: read once, same bytes, its new time recorded
    assert land.read_ledger(lake)[str(touched)].modified_ns == touched.stat().st_mtime_ns
    assert land.land(str(small_folder), lake, say=False) == []
    assert hashed == ["a.json"]

    write_lines(touched, ['{"id": 1}', '{"id": 2}', '{"id": 99}'])
    with pytest.raises(land.LandingError, match="a.json changed since it was landed"):
        land.land(str(small_folder), lake, say=False)
