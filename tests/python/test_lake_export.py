"""The lake's silver and gold layers: every table exported whole, readings partitioned by day."""

from __future__ import annotations

from pathlib import Path

import duckdb
from conftest import DefaultWarehouse, query

from chargerlogs import lake_export


def test_every_table_is_exported_whole_and_by_day(
    default_warehouse: DefaultWarehouse, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    assert (
        lake_export.main(["--warehouse", str(default_warehouse.db_path), "--lake", str(lake)]) == 0
    )
    marts = {
        row[0]
        for row in query(
            default_warehouse.db_path,
            "select table_name from duckdb_tables() where schema_name = 'marts'",
        )
    }
    assert {path.name for path in (lake / "gold").iterdir()} == marts
    con = duckdb.connect()
    try:
        readings = f"read_parquet('{lake}/silver/readings/*/*.parquet', hive_partitioning = true)"
        exported = con.execute(
            f"select count(*), count(distinct measured_date) from {readings}"
        ).fetchone()
        days = query(
            default_warehouse.db_path,
            "select count(*), count(distinct cast(corrected_measured_at as date))"
            " from int_readings_clock_corrected",
        )[0]
        assert exported == days and days[1] > 10
        # each day in its own folder: a query on one day opens that folder's files only
        day = con.execute(f"select min(measured_date) + 3 from {readings}").fetchone()[0]
        opened = con.execute(
            "select count(distinct filename) from read_parquet("
            f"'{lake}/silver/readings/*/*.parquet', hive_partitioning = true, filename = true)"
            f" where measured_date = '{day}'"
        ).fetchone()[0]
        assert opened == len(
            list((lake / "silver/readings" / f"measured_date={day}").glob("*.parquet"))
        )
        for mart in marts:
            count = con.execute(
                f"select count(*) from read_parquet('{lake}/gold/{mart}/**/*.parquet')"
            ).fetchone()
            assert count == query(default_warehouse.db_path, f"select count(*) from {mart}")[0], (
                mart
            )
    finally:
        con.close()
    # a second export replaces the first whole, leaving no temporary folder
    assert (
        lake_export.main(["--warehouse", str(default_warehouse.db_path), "--lake", str(lake)]) == 0
    )
    assert not [path for path in lake.rglob(".*") if path.is_dir()]


def test_a_missing_warehouse_is_one_line(tmp_path: Path, capsys) -> None:
    assert (
        lake_export.main(["--warehouse", str(tmp_path / "none.duckdb"), "--lake", str(tmp_path)])
        == 2
    )
    assert capsys.readouterr().err.count("\n") == 1
