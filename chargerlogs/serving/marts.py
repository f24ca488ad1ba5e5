"""The only module that reads the DuckDB marts: one column map and one query per mart.

Each map gives, for every field the serving store keeps, the mart column it comes from (serving
name -> mart column). When a mart or a column is renamed, change it here and nowhere else. The
marts are read from the schema ``marts`` (where dbt builds them), or from the schema named by the
setting ``CHARGER_MARTS_SCHEMA`` (or the ``schema`` argument).

Times: the store keeps the sessions' and readings' true times (``corrected_*``), never the
charger-clock times, which are years off for a charger whose clock was reset; the clock offset
stays with each session so that the dashboard can say that it was corrected.

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
# the schema dbt builds the marts in (dbt_project.yml, models: marts: +schema)
DEFAULT_SCHEMA = "marts"


@dataclass(frozen=True)
class Mart:
    """A mart the serving store reads: its table name, its columns and the order of its rows."""

    table: str
    columns: dict[str, str]
    order_by: tuple[str, ...]
    # an optional mart that is not built yet reads as no rows (the anomalies, which a live loop
    # builds only on its whole-project runs)
    optional: bool = False


PHASES = ("l1", "l2", "l3")

SESSIONS = Mart(
    table="fct_session_briefings",
    columns={
        "session_id": "session_id",
        "charger_id": "charger_id",
        "user_id": "user_id",
        "corrected_started_at": "corrected_started_at",
        "corrected_ended_at": "corrected_ended_at",
        "clock_offset_s": "clock_offset_s",
        "is_clock_corrected": "is_clock_corrected",
        "session_duration_s": "session_duration_s",
        "active_charging_s": "active_charging_s",
        "reported_energy_wh": "reported_energy_wh",
        "measured_energy_wh": "measured_energy_wh",
        "estimated_gap_energy_wh": "estimated_gap_energy_wh",
        "telemetry_energy_wh": "telemetry_energy_wh",
        "energy_ratio": "energy_ratio",
        "total_cost_eur": "total_cost_eur",
        "unit_price_eur_per_kwh": "unit_price_eur_per_kwh",
        "is_default_price": "is_default_price",
        "peak_power_w": "peak_power_w",
        "avg_charging_power_w": "avg_charging_power_w",
        "phases_used": "phases_used",
        "reading_count": "reading_count",
        "largest_gap_s": "largest_gap_s",
        "gap_count": "gap_count",
        "estimated_gap_count": "estimated_gap_count",
        "has_no_telemetry": "has_no_telemetry",
        "has_sparse_telemetry": "has_sparse_telemetry",
        "is_shortfall_from_lost_telemetry": "is_shortfall_from_lost_telemetry",
        "has_energy_mismatch": "has_energy_mismatch",
        "is_overlapping": "is_overlapping",
        "missing_measurement_reading_count": "missing_measurement_reading_count",
    },
    order_by=("session_id",),
)

# The full charging profile: one row per session reading (see docs/dashboard.md for why not the
# compressed one).
PROFILES = Mart(
    table="fct_charging_profiles",
    columns={
        "session_id": "session_id",
        "reading_seq": "reading_seq",
        "corrected_measured_at": "corrected_measured_at",
        "elapsed_s": "elapsed_s",
        **{
            f"{measure}_{phase}_{unit}": f"{measure}_{phase}_{unit}"
            for phase in PHASES
            for measure, unit in (("current", "a"), ("voltage", "v"), ("temperature", "c"))
        },
        "power_w": "power_w",
        "accumulated_energy_wh": "accumulated_energy_wh",
        "accumulated_estimated_energy_wh": "accumulated_estimated_energy_wh",
        "interval_estimated_energy_wh": "interval_estimated_energy_wh",
        "is_gap_before": "is_gap_before",
        "has_missing_measurement": "has_missing_measurement",
    },
    order_by=("session_id", "reading_seq"),
)

BIG_CHANGES = Mart(
    table="rpt_big_changes",
    columns={
        "session_id": "session_id",
        "reading_seq": "reading_seq",
        "measure": "measure",
        "phase": "phase",
        "corrected_measured_at": "corrected_measured_at",
        "elapsed_s": "elapsed_s",
        "previous_value": "previous_value",
        "new_value": "new_value",
        "change_pct": "change_pct",
        "direction": "direction",
        "threshold_pct": "threshold_pct",
    },
    order_by=("session_id", "reading_seq", "measure", "phase"),
)

# first_session_started_at and last_session_ended_at are in true time in the mart
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

# Sessions still charging, whose event has not arrived: a provisional session per charger, keyed by
# the reading that started the charge, shown to the charger's sole user only (the session's own user
# comes with its event; a charger several users share shows its charge to none of them). The fields
# of a briefing that only the session event gives are IN_PROGRESS_UNKNOWN.
SESSIONS_IN_PROGRESS = Mart(
    table="fct_sessions_in_progress",
    columns={
        "session_id": "first_reading_id",
        "charger_id": "charger_id",
        "user_id": "sole_user_id",
        "corrected_started_at": "corrected_started_at",
        "corrected_ended_at": "corrected_last_reading_at",
        "clock_offset_s": "clock_offset_s",
        "is_clock_corrected": "is_clock_corrected",
        "session_duration_s": "elapsed_s",
        "active_charging_s": "active_charging_s",
        "measured_energy_wh": "energy_so_far_wh",
        "estimated_gap_energy_wh": "estimated_gap_energy_wh",
        "telemetry_energy_wh": "telemetry_energy_wh",
        "total_cost_eur": "cost_so_far_eur",
        "unit_price_eur_per_kwh": "unit_price_eur_per_kwh",
        "peak_power_w": "peak_power_w",
        "avg_charging_power_w": "avg_charging_power_w",
        "phases_used": "phases_used",
        "reading_count": "reading_count",
        "largest_gap_s": "largest_gap_s",
        "gap_count": "gap_count",
        "estimated_gap_count": "estimated_gap_count",
        "missing_measurement_reading_count": "missing_measurement_reading_count",
    },
    order_by=("session_id",),
)

# What a session in progress cannot say yet: the reported energy (and so its ratio and the mismatch
# flags), whether the price was the default, overlap with another session; its telemetry is judged
# sparse or not once the session's length is known.
IN_PROGRESS_UNKNOWN: dict[str, Any] = {
    "reported_energy_wh": None,
    "energy_ratio": None,
    "is_default_price": None,
    "has_no_telemetry": False,
    "has_sparse_telemetry": False,
    "is_shortfall_from_lost_telemetry": False,
    "has_energy_mismatch": False,
    "is_overlapping": False,
}

PROFILES_IN_PROGRESS = Mart(
    table="fct_charging_profiles_in_progress",
    columns={
        "session_id": "first_reading_id",
        **{field: column for field, column in PROFILES.columns.items() if field != "session_id"},
    },
    order_by=("session_id", "reading_seq"),
)

# The anomalies drawn on a session's chart. An anomaly belongs to the session of its readings
# (session_id); one without a session (on an idle charger, or during a charge whose session event
# has not arrived) is kept with its charger, so that a session in progress shows those of its
# charge. Times are true times.
ANOMALIES = Mart(
    table="fct_anomalies",
    columns={
        "anomaly_id": "anomaly_id",
        "session_id": "session_id",
        "charger_id": "charger_id",
        "kind": "kind",
        "severity": "severity",
        "phase": "phase",
        "started_at": "started_at",
        "ended_at": "ended_at",
        "duration_s": "duration_s",
        "detectors": "detectors",
        "measure": "measure",
        "extreme_value": "extreme_value",
        "expected_value": "expected_value",
        "limit_value": "limit_value",
        "is_open": "is_open",
    },
    order_by=("started_at", "anomaly_id"),
    optional=True,
)

MARTS: tuple[Mart, ...] = (
    SESSIONS,
    PROFILES,
    BIG_CHANGES,
    CHARGERS,
    SESSIONS_IN_PROGRESS,
    PROFILES_IN_PROGRESS,
    ANOMALIES,
)


class MartError(RuntimeError):
    """A mart is missing, ambiguous, or lacks a column the serving store needs."""


def _relation(con: duckdb.DuckDBPyConnection, mart: Mart, schema: str) -> str | None:
    """The quoted ``schema.table`` of ``mart``; None for an optional mart that is not there, an
    error naming the setting for another."""
    found = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, mart.table],
    ).fetchone()[0]
    if not found and mart.optional:
        return None
    if not found:
        raise MartError(
            f"mart {mart.table} not found in schema '{schema}' of the warehouse "
            f"(build it with make run, or set {SCHEMA_SETTING})"
        )
    return f'"{schema}"."{mart.table}"'


def _query(mart: Mart, relation: str) -> str:
    select = ", ".join(f'"{column}" as "{field}"' for field, column in mart.columns.items())
    order = ", ".join(f'"{field}"' for field in mart.order_by)
    return f"select {select} from {relation} order by {order}"


def read_marts(warehouse: Path, schema: str | None = None) -> dict[str, list[dict[str, Any]]]:
    """Every row the serving store needs, keyed by mart table, each row a dict of serving fields
    (none for an optional mart that is not built).

    The warehouse is opened read-only and closed before returning. Timestamps are naive UTC.
    """
    if not warehouse.exists():
        raise MartError(f"warehouse not found: {warehouse} (build it with make run)")
    schema = schema or os.environ.get(SCHEMA_SETTING) or DEFAULT_SCHEMA
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows: dict[str, list[dict[str, Any]]] = {}
        for mart in MARTS:
            relation = _relation(con, mart, schema)
            if relation is None:
                rows[mart.table] = []
                continue
            try:
                cursor = con.execute(_query(mart, relation))
            except duckdb.BinderException as error:
                raise MartError(f"mart {mart.table} lacks a column: {error}") from None
            names = list(mart.columns)
            rows[mart.table] = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        return rows
    finally:
        con.close()
