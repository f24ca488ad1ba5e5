"""Storage for every use, measured: bytes per reading and one EDA query on each layer.

Usage: ``python -m chargerlogs.bench_lake --data DIR --lake DIR --warehouse FILE``
(``make bench-lake``, after ``make run`` and ``make land``; ``--help`` explains every option).

Prints, for the status stream, the bytes per reading of the JSON files as delivered, the bronze
Parquet (every line's raw text), the silver readings (parsed, corrected, partitioned by day), the
gold profiles (per session reading) and the whole DuckDB warehouse; and the median of three runs of
one exploratory query (readings and mean L1 voltage per charger and day) on the JSON, the bronze,
the silver Parquet and the warehouse table, plus the same query for one day only on the silver
Parquet (partition pruning) and on the warehouse.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import duckdb

from chargerlogs.cli import OneLineErrorParser

PROG = "python -m chargerlogs.bench_lake"

# The voltage of phase 1 from either layout of a raw status line, as an analyst would write it.
RAW_QUERY = """
select
    cast(json_extract(raw_line, '$.charger_id') as bigint) as charger_id,
    cast(
        to_timestamp(cast(json_extract(raw_line, '$.charger_timestamp') as double)) as date
    ) as day,
    count(*) as readings,
    avg(coalesce(
        try_cast(json_extract(raw_line, '$.ac_voltage_rms_1') as double),
        try_cast(json_extract(raw_line, '$.charger_phases[0].ac_voltage_rms') as double)
    )) as mean_voltage_l1_v
from {lines}
where json_valid(raw_line)
group by all
"""
JSON_LINES = (
    "read_csv('{data}/charger_log_status/*.json*', columns = {{'raw_line': 'VARCHAR'}}, "
    "header = false, delim = chr(1), quote = '', escape = '', auto_detect = false)"
)
BRONZE_LINES = "read_parquet('{lake}/bronze/charger_log_status/*/*.parquet')"
TYPED_QUERY = """
select charger_id, {day} as day, count(*) as readings, avg(voltage_l1_v) as mean_voltage_l1_v
from {readings}
{where}
group by all
"""
SILVER_READINGS = "read_parquet('{lake}/silver/readings/*/*.parquet', hive_partitioning = true)"


def folder_bytes(folder: Path, pattern: str) -> int:
    return sum(path.stat().st_size for path in folder.glob(pattern) if path.is_file())


def timed(con: duckdb.DuckDBPyConnection, sql: str, runs: int = 3) -> tuple[float, int]:
    """Median wall seconds of ``runs`` runs, and the rows the query returned."""
    times, rows = [], 0
    for _ in range(runs):
        began = time.perf_counter()
        rows = len(con.execute(sql).fetchall())
        times.append(time.perf_counter() - began)
    return statistics.median(times), rows


def measure(data: Path, lake: Path, warehouse: Path) -> list[str]:
    """The report's lines."""
    con = duckdb.connect()
    con.execute(f"attach '{warehouse}' as warehouse (read_only)")
    readings = con.execute(
        "select count(*) from warehouse.intermediate.int_readings_clock_corrected"
    ).fetchone()
    profile_rows = con.execute(
        "select count(*) from warehouse.marts.fct_charging_profiles"
    ).fetchone()
    assert readings and profile_rows
    kept, profiled = int(readings[0]), int(profile_rows[0])
    sizes = [
        (
            "JSON as delivered (status files)",
            folder_bytes(data / "charger_log_status", "*.json*"),
            kept,
        ),
        (
            "bronze Parquet (raw lines)",
            folder_bytes(lake / "bronze/charger_log_status", "*/*.parquet"),
            kept,
        ),
        (
            "silver Parquet (readings, parsed)",
            folder_bytes(lake / "silver/readings", "*/*.parquet"),
            kept,
        ),
        (
            "gold Parquet (profiles, per session reading)",
            folder_bytes(lake / "gold/fct_charging_profiles", "*/*.parquet"),
            profiled,
        ),
        ("DuckDB warehouse (every layer)", warehouse.stat().st_size, kept),
    ]
    lines = [f"{kept:,} kept readings, {profiled:,} session readings in the profiles", ""]
    lines.append("| layer | MB | bytes per reading |")
    lines.append("|---|---:|---:|")
    for name, size, per in sizes:
        lines.append(f"| {name} | {size / 1e6:,.1f} | {size / per:,.0f} |")
    day = con.execute(
        "select cast(min(corrected_measured_at) as date) + 7"
        " from warehouse.intermediate.int_readings_clock_corrected"
    ).fetchone()
    assert day
    queries = [
        ("JSON files", RAW_QUERY.format(lines=JSON_LINES.format(data=data))),
        ("bronze Parquet", RAW_QUERY.format(lines=BRONZE_LINES.format(lake=lake))),
        (
            "silver Parquet",
            TYPED_QUERY.format(
                day="measured_date", readings=SILVER_READINGS.format(lake=lake), where=""
            ),
        ),
        (
            "warehouse table",
            TYPED_QUERY.format(
                day="cast(corrected_measured_at as date)",
                readings="warehouse.intermediate.int_readings_clock_corrected",
                where="",
            ),
        ),
        (
            f"silver Parquet, one day ({day[0]})",
            TYPED_QUERY.format(
                day="measured_date",
                readings=SILVER_READINGS.format(lake=lake),
                where=f"where measured_date = '{day[0]}'",
            ),
        ),
        (
            f"warehouse table, one day ({day[0]})",
            TYPED_QUERY.format(
                day="cast(corrected_measured_at as date)",
                readings="warehouse.intermediate.int_readings_clock_corrected",
                where=f"where cast(corrected_measured_at as date) = '{day[0]}'",
            ),
        ),
    ]
    lines += [
        "",
        "EDA query: readings and mean L1 voltage per charger and day (median of 3 runs)",
        "",
    ]
    lines += ["| read from | s | groups |", "|---|---:|---:|"]
    for name, sql in queries:
        seconds, rows = timed(con, sql)
        lines.append(f"| {name} | {seconds:.3f} | {rows:,} |")
    con.close()
    return lines


def build_parser() -> OneLineErrorParser:
    """The command line."""
    parser = OneLineErrorParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, type=Path, help="the data folder (JSON files)")
    parser.add_argument("--lake", required=True, type=Path, help="the lake (bronze, silver, gold)")
    parser.add_argument("--warehouse", required=True, type=Path, help="the warehouse DuckDB file")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: print the figures (2 with one line on stderr when an input is missing)."""
    options = build_parser().parse_args(argv)
    for path in (options.data, options.lake / "silver", options.lake / "bronze", options.warehouse):
        if not path.exists():
            print(f"{PROG}: error: {path} not found (make run, then make land)", file=sys.stderr)
            return 2
    for line in measure(options.data, options.lake, options.warehouse):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
