"""The app's reads of the serving store, each in one transaction under row-level security.

Every request runs in one transaction that opens with a single statement: it looks the presented
token's sha256 up through ``portal.authenticate`` and, for an active user, sets ``app.user_id`` for
that transaction only (``set_config(..., true)``). The policies of the store read that setting, so
whatever the app asks afterwards, PostgreSQL returns only the signed-in user's rows. Every value
from a request reaches PostgreSQL as a parameter; no SQL text is built from input.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

SIGN_IN = """
    select
        user_id,
        display_name,
        time_zone,
        is_active,
        set_config('app.user_id', case when is_active then user_id::text else '' end, true)
    from portal.authenticate(%s)
"""

# Times are true times (corrected for a wrong charger clock); the offset says by how much.
SESSION_COLUMNS = """
    session_id, charger_id, corrected_started_at, corrected_ended_at, clock_offset_s,
    is_clock_corrected, session_duration_s, active_charging_s, reported_energy_wh,
    measured_energy_wh, estimated_gap_energy_wh, telemetry_energy_wh,
    energy_ratio, total_cost_eur, unit_price_eur_per_kwh, is_default_price, peak_power_w,
    avg_charging_power_w, phases_used, reading_count, largest_gap_s, gap_count,
    estimated_gap_count, has_no_telemetry, has_sparse_telemetry, is_shortfall_from_lost_telemetry,
    has_energy_mismatch, is_overlapping, missing_measurement_reading_count, is_in_progress
"""

# ISO-8601 in UTC to the second, as the app writes times
UTC_ISO = """'YYYY-MM-DD"T"HH24:MI:SS"Z"'"""

SESSION_PAGE = f"""
    select
        {SESSION_COLUMNS},
        (
            select coalesce(
                json_agg(
                    json_build_object(
                        'reading_seq', changes.reading_seq,
                        'elapsed_s', changes.elapsed_s,
                        'measure', changes.measure,
                        'phase', changes.phase,
                        'previous_value', changes.previous_value,
                        'new_value', changes.new_value,
                        'change_pct', changes.change_pct,
                        'direction', changes.direction
                    )
                    order by changes.reading_seq, changes.measure, changes.phase
                ),
                '[]'
            )::text
            from portal.big_changes as changes
            where changes.session_id = sessions.session_id
        ) as big_changes_json,
        (
            select max(changes.threshold_pct)
            from portal.big_changes as changes
            where changes.session_id = sessions.session_id
        ) as big_change_threshold_pct,
        (
            select coalesce(
                json_agg(
                    json_build_object(
                        'anomaly_id', anomalies.anomaly_id,
                        'kind', anomalies.kind,
                        'severity', anomalies.severity,
                        'phase', anomalies.phase,
                        'started_at',
                        to_char(anomalies.started_at at time zone 'UTC', {UTC_ISO}),
                        'ended_at',
                        to_char(anomalies.ended_at at time zone 'UTC', {UTC_ISO}),
                        'started_elapsed_s',
                        extract(epoch from anomalies.started_at - sessions.corrected_started_at),
                        'ended_elapsed_s',
                        extract(epoch from anomalies.ended_at - sessions.corrected_started_at),
                        'duration_s', anomalies.duration_s,
                        'detectors', anomalies.detectors,
                        'measure', anomalies.measure,
                        'extreme_value', anomalies.extreme_value,
                        'expected_value', anomalies.expected_value,
                        'limit_value', anomalies.limit_value,
                        'is_open', anomalies.is_open
                    )
                    order by anomalies.started_at, anomalies.anomaly_id
                ),
                '[]'
            )::text
            from portal.session_anomalies as anomalies
            where anomalies.session_id = sessions.session_id
        ) as anomalies_json,
        (
            select profiles.profile::text
            from portal.session_profiles as profiles
            where profiles.session_id = sessions.session_id
        ) as profile_json
    from portal.sessions as sessions
    where sessions.session_id = %s
"""

# The period runs from the first local midnight to the local midnight after the last day, in true
# time.
SESSION_LIST = f"""
    select {SESSION_COLUMNS}
    from portal.sessions
    where
        (%(charger_id)s::bigint is null or charger_id = %(charger_id)s::bigint)
        and (
            %(from_date)s::date is null
            or corrected_started_at >= %(from_date)s::date::timestamp at time zone %(time_zone)s
        )
        and (
            %(until_date)s::date is null
            or corrected_started_at < %(until_date)s::date::timestamp at time zone %(time_zone)s
        )
    order by corrected_started_at desc, session_id desc
"""

CHARGERS = """
    select
        chargers.charger_id,
        count(sessions.session_id) as session_count,
        coalesce(sum(sessions.reported_energy_wh), 0) as reported_energy_wh,
        coalesce(sum(sessions.total_cost_eur), 0) as total_cost_eur,
        max(sessions.corrected_ended_at) as last_session_ended_at,
        chargers.avg_session_duration_s as fleet_avg_session_duration_s
    from portal.chargers
    inner join portal.sessions on chargers.charger_id = sessions.charger_id
    group by chargers.charger_id, chargers.avg_session_duration_s
    order by chargers.charger_id
"""

PROFILE = """
    select profile::text as profile_json
    from portal.session_profiles
    where session_id = %s
"""


@dataclass(frozen=True)
class User:
    """The signed-in user."""

    user_id: int
    display_name: str
    time_zone: str
    is_active: bool


# How long a request waits for a connection before the app answers that the store is unavailable.
CONNECTION_TIMEOUT_S = 5.0


class PortalStore:
    """A pool of connections of the app role and the dashboard's queries.

    Each connection is checked as it is taken from the pool (one round trip on the local socket):
    after the store's server restarted, the connections it ended are replaced instead of failing
    the next requests. While the server is down, a request waits ``CONNECTION_TIMEOUT_S`` for a
    connection, then fails with ``PoolTimeout`` (the app answers 503).
    """

    def __init__(self, conninfo: str, min_size: int = 2, max_size: int = 10) -> None:
        self.pool = AsyncConnectionPool(
            conninfo,
            min_size=min_size,
            max_size=max_size,
            open=False,
            kwargs={"row_factory": dict_row, "prepare_threshold": 0},
            check=AsyncConnectionPool.check_connection,
            timeout=CONNECTION_TIMEOUT_S,
        )

    async def open(self) -> None:
        """Open the pool and wait for its first connections."""
        await self.pool.open(wait=True, timeout=30)

    async def close(self) -> None:
        """Close the pool."""
        await self.pool.close()

    @asynccontextmanager
    async def signed_in(self, token_sha256: str) -> AsyncIterator[tuple[User | None, Any]]:
        """A transaction signed in with ``token_sha256``: yields the user (None if unknown) and
        a connection whose queries see only that user's rows (none for an inactive user)."""
        async with self.pool.connection() as con, con.transaction():
            cursor = await con.execute(SIGN_IN, [token_sha256])
            row = await cursor.fetchone()
            user = None
            if row is not None:
                user = User(row["user_id"], row["display_name"], row["time_zone"], row["is_active"])
            yield user, con


async def session_page(con: AsyncConnection, session_id: int) -> dict[str, Any] | None:
    """The session's briefing, its big changes and anomalies (JSON text) and its profile (JSON
    text)."""
    cursor = await con.execute(SESSION_PAGE, [session_id])
    return await cursor.fetchone()


async def session_list(
    con: AsyncConnection,
    time_zone: str,
    charger_id: int | None,
    from_date: date | None,
    to_date: date | None,
) -> list[dict[str, Any]]:
    """The user's sessions started in the period (local dates, both included), newest first."""
    until_date = to_date + timedelta(days=1) if to_date else None
    params = {
        "charger_id": charger_id,
        "from_date": from_date,
        "until_date": until_date,
        "time_zone": time_zone,
    }
    cursor = await con.execute(SESSION_LIST, params)
    return await cursor.fetchall()


async def chargers(con: AsyncConnection) -> list[dict[str, Any]]:
    """The chargers the user has sessions on, with the user's totals on each."""
    cursor = await con.execute(CHARGERS)
    return await cursor.fetchall()


async def profile(con: AsyncConnection, session_id: int) -> str | None:
    """The session's profile document (JSON text), or None when it is not the user's."""
    cursor = await con.execute(PROFILE, [session_id])
    row = await cursor.fetchone()
    return None if row is None else row["profile_json"]


def local_iso(value: datetime, zone: Any) -> str:
    """``value`` in ``zone`` as ISO-8601 with its offset, to the second."""
    return value.astimezone(zone).isoformat(timespec="seconds")
