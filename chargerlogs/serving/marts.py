"""The only module that reads the DuckDB marts: one column map and one query per mart.

Each map gives, for every field the serving store keeps, the mart column it comes from (serving
name -> mart column). When a mart or a column is renamed, change it here and nowhere else. The
schema of the marts comes from the setting ``CHARGER_MARTS_SCHEMA`` (or the ``schema`` argument);
without it, each mart is looked up in whichever schema holds it.

The warehouse is opened read-only and closed as soon as the rows are read: an open connection
blocks a dbt build.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

SCHEMA_SETTING = "CHARGER_MARTS_SCHEMA"


@dataclass(frozen=True)
class Mart:
    """A mart the serving store reads: its table name, its columns and the order of its rows."""

    table: str
    columns: dict[str, str]
    order_by: tuple[str, ...]


PHASES = ("l1", "l2", "l3")

SESSIONS = Mart(
    table="fct_session_briefings",
    columns={
        "session_id": "session_id",
        "charger_id": "charger_id",
        "user_id": "user_id",
        "started_at": "started_at",
        "ended_at": "ended_at",
        "session_duration_s": "session_duration_s",
        "active_charging_s": "active_charging_s",
        "reported_energy_wh": "reported_energy_wh",
        "measured_energy_wh": "telemetry_energy_wh",
        "energy_ratio": "energy_ratio",
        "total_cost_eur": "total_cost_eur",
        "unit_price_eur_per_kwh": "unit_price_eur_per_kwh",
        "is_default_price": "is_default_price",
        "peak_power_w": "peak_power_w",
        "avg_charging_power_w": "avg_charging_power_w",
        "phases_used": "phases_used",
        "reading_count": "sample_count",
        "largest_gap_s": "largest_gap_s",
        "gap_count": "gap_count",
        "has_no_telemetry": "has_no_telemetry",
        "has_sparse_telemetry": "has_sparse_telemetry",
        "has_energy_mismatch": "has_energy_mismatch",
        "is_overlapping": "is_overlapping",
        "has_clock_problem": "has_clock_problem",
        "has_missing_measurements": "has_missing_measurements",
    },
    order_by=("session_id",),
)

# The full charging profile: one row per session reading (see docs/dashboard.md for why not the
# compressed one).
PROFILES = Mart(
    table="fct_charging_profiles",
    columns={
        "session_id": "session_id",
        "reading_seq": "sample_seq",
        "measured_at": "measured_at",
        "elapsed_s": "elapsed_s",
        **{
            f"{measure}_{phase}_{unit}": f"{measure}_{phase}_{unit}"
            for phase in PHASES
            for measure, unit in (("current", "a"), ("voltage", "v"), ("temperature", "c"))
        },
        "power_w": "power_w",
        "accumulated_energy_wh": "accumulated_energy_wh",
        "is_gap_before": "is_gap_before",
        "has_missing_measurement": "has_missing_measurement",
    },
    order_by=("session_id", "reading_seq"),
)

BIG_CHANGES = Mart(
    table="rpt_big_changes",
    columns={
        "session_id": "session_id",
        "reading_seq": "sample_seq",
        "measure": "measure",
        "phase": "phase",
        "measured_at": "measured_at",
        "elapsed_s": "elapsed_s",
        "previous_value": "previous_value",
        "new_value": "new_value",
        "change_pct": "change_pct",
        "direction": "direction",
        "threshold_pct": "threshold_pct",
    },
    order_by=("session_id", "reading_seq", "measure", "phase"),
)

CHARGERS = Mart(
    table="fct_charger_summaries",
    columns={
        "charger_id": "charger_id",
        "session_count": "session_count",
        "avg_session_duration_s": "avg_session_duration_s",
        "median_session_duration_s": "median_session_duration_s",
        "first_session_started_at": "first_session_started_at",
        "last_session_ended_at": "last_session_ended_at",
    },
    order_by=("charger_id",),
)

MARTS: tuple[Mart, ...] = (SESSIONS, PROFILES, BIG_CHANGES, CHARGERS)


class MartError(RuntimeError):
    """A mart is missing, ambiguous, or lacks a column the serving store needs."""


def _locate(con: duckdb.DuckDBPyConnection, mart: Mart, schema: str | None) -> str:
    """The quoted ``schema.table`` of ``mart``: in ``schema``, or in the one schema holding it."""
    rows = con.execute(
        "select table_schema from information_schema.tables where table_name = ?"
        + (" and table_schema = ?" if schema else ""),
        [mart.table, schema] if schema else [mart.table],
    ).fetchall()
    schemas = sorted(row[0] for row in rows)
    if not schemas:
        where = f"schema '{schema}'" if schema else "any schema"
        raise MartError(f"mart {mart.table} not found in {where} of the warehouse")
    if len(schemas) > 1:
        raise MartError(
            f"mart {mart.table} is in several schemas ({', '.join(schemas)}): set {SCHEMA_SETTING}"
        )
    return f'"{schemas[0]}"."{mart.table}"'


def _query(mart: Mart, relation: str) -> str:
    select = ", ".join(f'"{column}" as "{field}"' for field, column in mart.columns.items())
    order = ", ".join(f'"{field}"' for field in mart.order_by)
    return f"select {select} from {relation} order by {order}"


def read_marts(warehouse: Path, schema: str | None = None) -> dict[str, list[dict[str, Any]]]:
    """Every row the serving store needs, keyed by mart table, each row a dict of serving fields.

    The warehouse is opened read-only and closed before returning. Timestamps are naive UTC.
    """
    if not warehouse.exists():
        raise MartError(f"warehouse not found: {warehouse} (build it with make run)")
    schema = schema or os.environ.get(SCHEMA_SETTING) or None
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows: dict[str, list[dict[str, Any]]] = {}
        for mart in MARTS:
            relation = _locate(con, mart, schema)
            try:
                cursor = con.execute(_query(mart, relation))
            except duckdb.BinderException as error:
                raise MartError(f"mart {mart.table} lacks a column: {error}") from None
            names = list(mart.columns)
            rows[mart.table] = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        return rows
    finally:
        con.close()
