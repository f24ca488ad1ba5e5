"""Export the warehouse's silver and gold tables to the lake as Parquet, partitioned for pruning.

Usage: ``python -m chargerlogs.lake_export --warehouse FILE --lake DIR`` (``--help`` explains every
option); ``make run`` runs it after the build.

The lake already holds the bronze layer (:mod:`chargerlogs.land`: every input line once). This
writes, next to it, what other engines, ad-hoc analysis, EDA and model training read without
opening the warehouse:

- ``silver/readings/measured_date=<day>/*.parquet``: every kept reading with its charger's clock
  offset and corrected time (``intermediate.int_readings_clock_corrected``), partitioned by the day
  of its corrected time (UTC);
- ``gold/<mart>/...``: every mart; the per-reading marts (``fct_charging_profiles``,
  ``rpt_big_changes``) partitioned by the day of the reading (``measured_date``), the others in one
  file each.

A query that filters on ``measured_date`` opens only those days' files (hive partition pruning).
Each table is written into a temporary folder and renamed over the previous export, so a reader sees
the old export or the new one. The export is a full copy: at fleet scale it would be written by day
partition (the incremental models know which days changed).
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

from chargerlogs.cli import OneLineErrorParser

PROG = "python -m chargerlogs.lake_export"
SILVER = {"readings": ("intermediate.int_readings_clock_corrected", "corrected_measured_at")}
DAY_PARTITIONED_MARTS = {
    "fct_charging_profiles": "corrected_measured_at",
    "rpt_big_changes": "corrected_measured_at",
}


@dataclass(frozen=True)
class ExportedTable:
    """One exported table: its lake folder, rows, files and bytes."""

    layer: str
    name: str
    rows: int
    files: int
    size_bytes: int


def _quote(text: str | Path) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def export_table(
    con: duckdb.DuckDBPyConnection, relation: str, folder: Path, day_column: str | None
) -> ExportedTable:
    """Write one table to ``folder`` (by day of ``day_column`` when given), swapped in whole."""
    temporary = folder.with_name(f".{folder.name}.tmp")
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir(parents=True)
    if day_column:
        con.execute(
            f"copy (select *, cast({day_column} as date) as measured_date from {relation}) "
            f"to {_quote(temporary)} (format parquet, partition_by (measured_date), "
            "write_partition_columns false)"
        )
    else:
        con.execute(f"copy {relation} to {_quote(temporary / 'data.parquet')} (format parquet)")
    previous = folder.with_name(f".{folder.name}.old")
    shutil.rmtree(previous, ignore_errors=True)
    if folder.exists():
        os.replace(folder, previous)
    os.replace(temporary, folder)
    shutil.rmtree(previous, ignore_errors=True)
    files = list(folder.rglob("*.parquet"))
    count = con.execute(f"select count(*) from {relation}").fetchone()
    return ExportedTable(
        folder.parent.name,
        folder.name,
        int(count[0]) if count else 0,
        len(files),
        sum(path.stat().st_size for path in files),
    )


def export(warehouse: Path, lake: Path) -> list[ExportedTable]:
    """Export silver and gold of ``warehouse`` into ``lake``; one entry per table."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        marts = [
            row[0]
            for row in con.execute(
                "select table_name from duckdb_tables() where schema_name = 'marts' order by 1"
            ).fetchall()
        ]
        exported = [
            export_table(con, relation, lake / "silver" / name, day_column)
            for name, (relation, day_column) in SILVER.items()
        ]
        exported += [
            export_table(
                con, f"marts.{name}", lake / "gold" / name, DAY_PARTITIONED_MARTS.get(name)
            )
            for name in marts
        ]
        return exported
    finally:
        con.close()


def build_parser() -> OneLineErrorParser:
    """The command line."""
    parser = OneLineErrorParser(
        prog=PROG, description="Export the warehouse's silver and gold tables to the lake."
    )
    parser.add_argument("--warehouse", required=True, type=Path, help="the warehouse DuckDB file")
    parser.add_argument(
        "--lake", required=True, type=Path, help="the lake folder (silver/ and gold/ are written)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (2 with one line on stderr when it cannot export)."""
    options = build_parser().parse_args(argv)
    if not options.warehouse.is_file():
        print(f"{PROG}: error: warehouse {options.warehouse} not found", file=sys.stderr)
        return 2
    try:
        exported = export(options.warehouse, options.lake)
    except (duckdb.Error, OSError) as error:
        print(f"{PROG}: error: {str(error).splitlines()[0]}", file=sys.stderr)
        return 2
    rows = sum(table.rows for table in exported)
    size = sum(table.size_bytes for table in exported) / 1e6
    print(
        f"{PROG}: {len(exported)} tables, {rows:,} rows, {size:,.1f} MB in {options.lake}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
