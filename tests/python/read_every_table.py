"""Print what a DuckDB client reads from every table of some schemas of a database file.

Usage: ``python read_every_table.py DATABASE SCHEMA...``; prints one JSON object keyed by
``schema.table``: the row count, a digest of every value, the columns with their types, and how
many columns carry a comment, plus whether the table has one. It uses nothing newer than DuckDB
1.0, so the same script runs in any client version: the tests compare what an older client reads
from the serving copy with what the project's DuckDB reads from the build file.

The digest does not depend on DuckDB's own ``hash()``, which differs between releases: it is the
sum, modulo 2**64, of a BLAKE2 hash of each row's Python ``repr``, so two clients that read equal
values print equal digests, whatever the order of the rows.
"""

from __future__ import annotations

import hashlib
import json
import sys

import duckdb

BATCH_ROWS = 20_000


def read_table(connection: duckdb.DuckDBPyConnection, schema: str, name: str) -> dict:
    """Row count, value digest, columns and comments of one table."""
    cursor = connection.execute(f'select * from "{schema}"."{name}"')
    rows = digest = 0
    while batch := cursor.fetchmany(BATCH_ROWS):
        for row in batch:
            hashed = hashlib.blake2b(repr(row).encode("utf-8"), digest_size=8).digest()
            digest += int.from_bytes(hashed, "big")
        rows += len(batch)
    columns = connection.execute(
        "select column_name, data_type, comment is not null from duckdb_columns()"
        " where schema_name = ? and table_name = ? order by column_index",
        [schema, name],
    ).fetchall()
    described = connection.execute(
        "select comment is not null from duckdb_tables() where schema_name = ? and table_name = ?",
        [schema, name],
    ).fetchall()[0][0]
    return {
        "rows": rows,
        "digest": digest % 2**64,
        "columns": [f"{column} {data_type}" for column, data_type, _ in columns],
        "described_columns": sum(1 for *_, has_comment in columns if has_comment),
        "is_described": bool(described),
    }


def main(database: str, schemas: list[str]) -> None:
    """Print every table of ``schemas`` in ``database`` (opened read-only) as JSON."""
    connection = duckdb.connect(database, read_only=True)
    tables = connection.execute(
        "select schema_name, table_name from duckdb_tables() order by schema_name, table_name"
    ).fetchall()
    report = {
        f"{schema}.{name}": read_table(connection, schema, name)
        for schema, name in tables
        if schema in schemas
    }
    connection.close()
    print(json.dumps({"duckdb": duckdb.__version__, "tables": report}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
