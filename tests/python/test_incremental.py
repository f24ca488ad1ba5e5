"""Incremental builds: the default dataset delivered in many batches gives the marts of one build.

The dataset is cut into the batches in which its lines arrived (``chargerlogs.replay``), delivered
with neighbouring batches swapped and one batch re-sent; after each delivery the warehouse is built
incrementally. A full refresh of the same files must then give every mart row for row.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest
from conftest import DefaultWarehouse, query, run_dbt

from chargerlogs import land, replay

STREAMS = ("charger_log_status", "charger_log_session")


def mart_differences(full: Path, incremental: Path) -> dict[str, tuple[int, int, int]]:
    """Per mart: its rows, and the rows only in the full build and only in the incremental one."""
    con = duckdb.connect()
    try:
        con.execute(f"attach '{full}' as full_build (read_only)")
        con.execute(f"attach '{incremental}' as incremental_build (read_only)")
        tables = [
            row[0]
            for row in con.execute(
                "select table_name from duckdb_tables()"
                " where database_name = 'full_build' and schema_name = 'marts' order by 1"
            ).fetchall()
        ]
        found = {}
        for table in tables:
            full_rows = f"select * from full_build.marts.{table}"
            incremental_rows = f"select * from incremental_build.marts.{table}"
            count = con.execute(f"select count(*) from ({full_rows})").fetchone()
            only_full = con.execute(
                f"select count(*) from ({full_rows} except all {incremental_rows})"
            ).fetchone()
            only_incremental = con.execute(
                f"select count(*) from ({incremental_rows} except all {full_rows})"
            ).fetchone()
            assert count and only_full and only_incremental
            found[table] = (count[0], only_full[0], only_incremental[0])
        return found
    finally:
        con.close()


def deliver(batch: Path, landing: Path) -> None:
    for stream in STREAMS:
        if (batch / stream).is_dir():
            for path in (batch / stream).iterdir():
                shutil.copy2(path, landing / stream / path.name)


@pytest.fixture(scope="module")
def batches(default_warehouse: DefaultWarehouse, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six batches, two pairs delivered swapped, one re-sent at the end."""
    out = tmp_path_factory.mktemp("batches")
    replay.split(default_warehouse.data_dir, out, batches=6, swaps=2, resends=1, seed=7)
    return out


@pytest.fixture(scope="module")
def few_batches(
    default_warehouse: DefaultWarehouse, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """Three batches, two swapped, one re-sent: the JSON reader reads every file each build."""
    out = tmp_path_factory.mktemp("few_batches")
    replay.split(default_warehouse.data_dir, out, batches=3, swaps=1, resends=1, seed=3)
    return out


def replay_and_compare(batches: Path, work: Path, use_lake: bool, expected_batches: int) -> None:
    landing = work / "landing"
    for stream in STREAMS:
        (landing / stream).mkdir(parents=True)
    lake = work / "lake"
    env = {"CHARGER_LAKE_DIR": str(lake)} if use_lake else {}
    incremental = work / "incremental.duckdb"
    order = (batches / "delivery_order.txt").read_text().split()
    assert len(order) == expected_batches and order != sorted(order)  # swapped, re-sent
    run_dbt(["seed"], landing, incremental, work, env=env)
    for name in order:
        deliver(batches / name, landing)
        if use_lake:
            assert land.main(["--data", str(landing), "--lake", str(lake), "--quiet"]) == 0
        run_dbt(["run"], landing, incremental, work, env=env)
    # the data tests hold on the incremental result too (a build without new data)
    run_dbt(["build"], landing, incremental, work, env=env)
    full = work / "full.duckdb"
    run_dbt(["build", "--full-refresh"], landing, full, work, env=env)
    differences = mart_differences(full, incremental)
    assert set(differences) >= {"fct_session_briefings", "fct_charging_profiles", "fct_anomalies"}
    assert all(count > 0 for count, _, _ in differences.values()), differences
    assert {table: (a, b) for table, (_, a, b) in differences.items() if a or b} == {}
    # every line of every delivered file is accounted for once
    lines = query(incremental, "select count(*) from int_log_lines_classified")[0][0]
    assert lines == query(full, "select count(*) from int_log_lines_classified")[0][0]


def test_many_batches_from_the_lake_equal_one_full_build(batches: Path, tmp_path: Path) -> None:
    replay_and_compare(batches, tmp_path, use_lake=True, expected_batches=7)


def test_batches_from_json_files_equal_one_full_build(few_batches: Path, tmp_path: Path) -> None:
    replay_and_compare(few_batches, tmp_path, use_lake=False, expected_batches=4)


def test_the_replay_keeps_every_line(default_warehouse: DefaultWarehouse, batches: Path) -> None:
    def all_lines(folder: Path) -> list[bytes]:
        found = []
        for stream in STREAMS:
            for path in sorted((folder / stream).glob("*.json*")):
                found += replay.read_lines(path)
        return sorted(found)

    delivered = []
    for name in (batches / "delivery_order.txt").read_text().split():
        if name.startswith("batch-"):
            delivered += all_lines(batches / name)
    assert sorted(delivered) == all_lines(default_warehouse.data_dir)
