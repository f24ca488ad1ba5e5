"""Descriptions reach the DuckDB catalog as comments, and a build sets only the ones that differ.

The project's ``duckdb__persist_docs`` (macros/persist_docs.sql) replaces dbt-duckdb's, which sets
every comment again after each build of a model, one statement per column.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import duckdb
from conftest import DefaultWarehouse, run_dbt

# Two incremental marts: an incremental build keeps the table, so its comments stay as they were.
MODELS = ("fct_charger_summaries", "dim_chargers")
COMMENTS_SQL = """
    select table_name, null as column_name, comment from duckdb_tables()
    where schema_name = 'marts' and list_contains(?, table_name)
    union all
    select table_name, column_name, comment from duckdb_columns()
    where schema_name = 'marts' and list_contains(?, table_name)
    order by all
"""


def comments(db_path: Path) -> list[tuple[str, str | None, str | None]]:
    connection = duckdb.connect(str(db_path), read_only=True)
    try:
        return connection.execute(COMMENTS_SQL, [list(MODELS), list(MODELS)]).fetchall()
    finally:
        connection.close()


def test_a_build_sets_only_the_comments_that_differ(
    default_warehouse: DefaultWarehouse, tmp_path: Path
) -> None:
    db_path = tmp_path / "warehouse.duckdb"
    shutil.copyfile(default_warehouse.db_path, db_path)
    described = comments(db_path)
    assert all(comment for _, _, comment in described)

    connection = duckdb.connect(str(db_path))
    try:
        connection.execute("comment on table marts.fct_charger_summaries is 'stale'")
        connection.execute("comment on column marts.fct_charger_summaries.session_count is null")
        connection.execute("comment on column marts.dim_chargers.charger_id is 'stale'")
    finally:
        connection.close()
    assert comments(db_path) != described

    run_dbt(["run", "--select", *MODELS], default_warehouse.data_dir, db_path, tmp_path)

    assert comments(db_path) == described
    log = (tmp_path / "logs" / "dbt.log").read_text()
    # the three comments that differed, and no other
    assert len(re.findall(r'comment on table "[^"]+"\."marts"\.', log)) == 1
    assert len(re.findall(r'comment on column "[^"]+"\."marts"\.', log)) == 2
