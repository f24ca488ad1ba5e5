"""The dashboard's API: sign-in, statuses, what each user sees, values against the marts, headers.

The app runs in-process (Starlette's TestClient) against the store of fixture ``portal_store``,
signed in to PostgreSQL as the app role, so row-level security is in force behind every request.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest
from conftest import PortalStore, query, query_dicts
from fastapi.testclient import TestClient

from chargerlogs.serving.app import create_app
from chargerlogs.serving.store import APP_ROLE

SECRET_FIELDS = ("session_id", "reported_energy_wh", "profile", "sessions")
MADRID = ZoneInfo("Europe/Madrid")
# every field of the session page that is a briefing column under the same name
BRIEFING_FIELDS = (
    "charger_id",
    "clock_offset_s",
    "is_clock_corrected",
    "session_duration_s",
    "active_charging_s",
    "reported_energy_wh",
    "measured_energy_wh",
    "estimated_gap_energy_wh",
    "telemetry_energy_wh",
    "energy_ratio",
    "total_cost_eur",
    "unit_price_eur_per_kwh",
    "is_default_price",
    "peak_power_w",
    "avg_charging_power_w",
    "phases_used",
    "reading_count",
    "largest_gap_s",
    "gap_count",
    "estimated_gap_count",
    "has_no_telemetry",
    "has_sparse_telemetry",
    "is_shortfall_from_lost_telemetry",
    "has_energy_mismatch",
    "is_overlapping",
    "missing_measurement_reading_count",
)


@pytest.fixture(scope="module")
def client(portal_store: PortalStore) -> Iterator[TestClient]:
    with TestClient(create_app(portal_store.app)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def users(portal_store: PortalStore) -> tuple[int, int]:
    """The user of the session with the most readings, and another user with sessions."""
    rows = query(
        portal_store.warehouse,
        "select user_id from fct_session_briefings where user_id is not null "
        "order by reading_count desc, session_id",
    )
    first = rows[0][0]
    return first, next(user_id for (user_id,) in rows if user_id != first)


def auth(store: PortalStore, user_id: int) -> dict[str, str]:
    return {"Authorization": f"Bearer {store.tokens[user_id]}"}


def sessions_of(store: PortalStore, user_id: int) -> list[dict]:
    return query_dicts(
        store.warehouse,
        "select * from fct_session_briefings where user_id = ? order by reading_count desc",
        [user_id],
    )


def clock_corrected_session(store: PortalStore) -> dict:
    """The session of a reset charger clock with the most energy estimated across gaps."""
    rows = query_dicts(
        store.warehouse,
        "select * from fct_session_briefings where is_clock_corrected and user_id is not null "
        "order by estimated_gap_energy_wh desc, session_id limit 1",
    )
    assert rows, "the default dataset has sessions of a charger whose clock was reset"
    return rows[0]


def utc_text(moment: datetime) -> str:
    return moment.isoformat() + "Z"


def local_text(moment: datetime, zone: ZoneInfo = MADRID) -> str:
    return moment.replace(tzinfo=UTC).astimezone(zone).isoformat()


def local_date(moment: datetime, zone: ZoneInfo = MADRID) -> date:
    return moment.replace(tzinfo=UTC).astimezone(zone).date()


def owner_execute(store: PortalStore, sql: str, params: list) -> None:
    with psycopg.connect(store.owner) as con:
        con.execute(sql, params)


def assert_error(response, status: int, detail: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert detail in body["detail"]
    assert not any(field in body for field in SECRET_FIELDS)


def test_sign_in_is_required(client: TestClient, portal_store: PortalStore, users) -> None:
    session_id = sessions_of(portal_store, users[0])[0]["session_id"]
    for path in ("/api/me", "/api/sessions", f"/api/sessions/{session_id}", "/api/chargers"):
        response = client.get(path)
        assert_error(response, 401, "sign-in required")
        assert response.headers["www-authenticate"] == "Bearer"
    wrong_tokens = [
        "x" * 43,  # well formed, unknown
        portal_store.tokens[users[0]][:-1],  # truncated
        "' or '1'='1",
        "",
    ]
    for token in wrong_tokens:
        response = client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, token
        assert "session_id" not in response.text
    basic = client.get("/api/me", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert basic.status_code == 401


def test_a_disabled_user_is_forbidden(client: TestClient, portal_store: PortalStore, users) -> None:
    user_id = users[1]
    owner_execute(
        portal_store, "update portal.users set is_active = false where user_id = %s", [user_id]
    )
    try:
        for path in ("/api/me", "/api/sessions"):
            assert_error(client.get(path, headers=auth(portal_store, user_id)), 403, "disabled")
    finally:
        owner_execute(
            portal_store, "update portal.users set is_active = true where user_id = %s", [user_id]
        )
    assert client.get("/api/me", headers=auth(portal_store, user_id)).status_code == 200


def test_another_users_session_is_indistinguishable_from_a_missing_one(
    client: TestClient, portal_store: PortalStore, users
) -> None:
    user_a, user_b = users
    theirs = sessions_of(portal_store, user_b)[0]["session_id"]
    missing = 999_999_999
    for path in (f"/api/sessions/{theirs}", f"/api/sessions/{theirs}/profile.csv"):
        other = client.get(path, headers=auth(portal_store, user_a))
        absent = client.get(
            path.replace(str(theirs), str(missing)), headers=auth(portal_store, user_a)
        )
        assert other.status_code == absent.status_code == 404
        assert other.json() == absent.json() == {"detail": "session not found"}
    # and the owner does get it
    assert (
        client.get(f"/api/sessions/{theirs}", headers=auth(portal_store, user_b)).status_code == 200
    )


@pytest.mark.parametrize(
    "path",
    [
        "/api/sessions/abc",
        "/api/sessions/0",
        "/api/sessions/-5",
        "/api/sessions/1.5",
        f"/api/sessions/{2**63}",
        "/api/sessions/1%20or%201=1",
        "/api/sessions/abc/profile.csv",
        "/api/sessions?charger_id=x",
        "/api/sessions?charger_id=1%20or%201=1",
        "/api/sessions?charger_id=0",
        "/api/sessions?from=2021-13-01",
        "/api/sessions?to=yesterday",
        "/api/sessions?from=2021-03-10&to=2021-03-01",
        "/api/sessions.csv?from=01/03/2021",
        "/sessions/abc",
    ],
)
def test_malformed_parameters_are_refused(
    client: TestClient, portal_store: PortalStore, users, path: str
) -> None:
    response = client.get(path, headers=auth(portal_store, users[0]))
    assert_error(response, 422, "invalid request parameters")
    assert response.json()["fields"], "the body names the offending parameter"


def assert_session_page_equals_the_marts(body: dict, briefing: dict, store: PortalStore) -> None:
    session_id = briefing["session_id"]
    session = body["session"]
    assert session["session_id"] == session_id
    for field in BRIEFING_FIELDS:
        assert session[field] == briefing[field], field
    # true times, in UTC and in the user's zone; never the charger's clock
    assert session["corrected_started_at"] == utc_text(briefing["corrected_started_at"])
    assert session["corrected_ended_at"] == utc_text(briefing["corrected_ended_at"])
    assert session["corrected_started_local"] == local_text(briefing["corrected_started_at"])
    assert session["corrected_ended_local"] == local_text(briefing["corrected_ended_at"])
    assert "started_at" not in session and "ended_at" not in session
    assert session["time_zone"] == "Europe/Madrid"
    assert session["is_in_progress"] is False and session["poll_after_s"] is None

    readings = query_dicts(
        store.warehouse,
        "select * from fct_charging_profiles where session_id = ? order by reading_seq",
        [session_id],
    )
    profile = body["profile"]
    assert len(profile["elapsed_s"]) == len(readings) == briefing["reading_count"]
    for series in (
        "elapsed_s",
        "current_l2_a",
        "accumulated_energy_wh",
        "accumulated_estimated_energy_wh",
        "interval_estimated_energy_wh",
    ):
        assert profile[series] == [row[series] for row in readings], series
    assert profile["corrected_measured_at"] == [
        utc_text(row["corrected_measured_at"]) for row in readings
    ]
    # the chart places each reading at the session's true start plus its elapsed seconds
    start = briefing["corrected_started_at"]
    assert [start + timedelta(seconds=row["elapsed_s"]) for row in readings] == [
        row["corrected_measured_at"] for row in readings
    ]
    assert profile["accumulated_energy_wh"][-1] == pytest.approx(briefing["telemetry_energy_wh"])
    assert profile["accumulated_estimated_energy_wh"][-1] == pytest.approx(
        briefing["estimated_gap_energy_wh"]
    )
    changes = query(
        store.warehouse,
        "select reading_seq, measure, phase, new_value from rpt_big_changes "
        "where session_id = ? order by reading_seq, measure, phase",
        [session_id],
    )
    assert [
        (change["reading_seq"], change["measure"], change["phase"], change["new_value"])
        for change in body["big_changes"]
    ] == changes
    if changes:
        assert session["big_change_threshold_pct"] == 10
    anomaly_ids = query(
        store.warehouse,
        "select anomaly_id from fct_anomalies where session_id = ? order by started_at, anomaly_id",
        [session_id],
    )
    assert [(mark["anomaly_id"],) for mark in body["anomalies"]] == anomaly_ids


def test_session_page_equals_the_marts(
    client: TestClient, portal_store: PortalStore, users
) -> None:
    briefing = sessions_of(portal_store, users[0])[0]
    response = client.get(
        f"/api/sessions/{briefing['session_id']}", headers=auth(portal_store, users[0])
    )
    assert response.status_code == 200
    assert_session_page_equals_the_marts(response.json(), briefing, portal_store)


def test_a_session_page_has_its_anomalies_and_no_other_users(
    client: TestClient, portal_store: PortalStore
) -> None:
    anomalies = query_dicts(
        portal_store.warehouse,
        "select anomalies.*, briefings.user_id, "
        "briefings.corrected_started_at as session_started_at from fct_anomalies as anomalies "
        "inner join fct_session_briefings as briefings using (session_id) "
        "where briefings.user_id is not null order by anomalies.started_at, anomalies.anomaly_id",
    )
    assert anomalies, "the default dataset has anomalies in sessions"
    first = anomalies[0]
    owner, session_id = first["user_id"], first["session_id"]
    expected = [row for row in anomalies if row["session_id"] == session_id]
    response = client.get(f"/api/sessions/{session_id}", headers=auth(portal_store, owner))
    assert response.status_code == 200
    marks = response.json()["anomalies"]
    assert [mark["anomaly_id"] for mark in marks] == [row["anomaly_id"] for row in expected]
    for mark, row in zip(marks, expected, strict=True):
        for field in (
            "kind",
            "severity",
            "phase",
            "duration_s",
            "detectors",
            "measure",
            "extreme_value",
            "expected_value",
            "limit_value",
            "is_open",
        ):
            assert mark[field] == row[field], field
        assert mark["started_at"] == utc_text(row["started_at"])
        assert mark["ended_at"] == utc_text(row["ended_at"])
        start = row["session_started_at"]
        assert float(mark["started_elapsed_s"]) == (row["started_at"] - start).total_seconds()
        assert float(mark["ended_elapsed_s"]) == (row["ended_at"] - start).total_seconds()

    # another user gets a 404 for that session, and none of its anomalies anywhere
    other = next(
        user_id
        for (user_id,) in query(
            portal_store.warehouse,
            "select distinct user_id from fct_session_briefings where user_id is not null "
            "order by user_id",
        )
        if user_id != owner
    )
    refused = client.get(f"/api/sessions/{session_id}", headers=auth(portal_store, other))
    assert_error(refused, 404, "session not found")
    assert first["anomaly_id"] not in refused.text
    own_anomalies = {row["anomaly_id"] for row in anomalies if row["user_id"] == other}
    for session in sessions_of(portal_store, other):
        body = client.get(
            f"/api/sessions/{session['session_id']}", headers=auth(portal_store, other)
        ).json()
        assert {mark["anomaly_id"] for mark in body["anomalies"]} <= own_anomalies


def test_a_reset_clock_session_is_shown_in_true_time(
    client: TestClient, portal_store: PortalStore
) -> None:
    briefing = clock_corrected_session(portal_store)
    session_id, user_id = briefing["session_id"], briefing["user_id"]
    true_year = briefing["corrected_started_at"].year
    charger_year = briefing["started_at"].year
    assert charger_year != true_year, "the charger's clock is years off"
    assert briefing["estimated_gap_energy_wh"] > 0
    headers = auth(portal_store, user_id)

    response = client.get(f"/api/sessions/{session_id}", headers=headers)
    assert response.status_code == 200
    assert_session_page_equals_the_marts(response.json(), briefing, portal_store)
    assert f"{charger_year}-" not in response.text
    assert response.json()["session"]["corrected_started_local"].startswith(f"{true_year}-")

    # the list, its monthly totals and the period filter go by true time
    listing = client.get("/api/sessions", headers=headers).json()
    listed = next(row for row in listing["sessions"] if row["session_id"] == session_id)
    assert listed["corrected_started_local"] == local_text(briefing["corrected_started_at"])
    assert all(
        not total["month"].startswith(f"{charger_year}-") for total in listing["monthly_totals"]
    )
    true_day = local_date(briefing["corrected_started_at"])
    charger_day = local_date(briefing["started_at"])
    by_true_day = client.get(f"/api/sessions?from={true_day}&to={true_day}", headers=headers)
    assert session_id in {row["session_id"] for row in by_true_day.json()["sessions"]}
    by_charger_day = client.get(
        f"/api/sessions?from={charger_day}&to={charger_day}", headers=headers
    )
    assert by_charger_day.json()["sessions"] == []

    # both downloads
    rows = list(csv.DictReader(io.StringIO(client.get("/api/sessions.csv", headers=headers).text)))
    row = next(row for row in rows if int(row["session_id"]) == session_id)
    assert row["corrected_started_at"] == utc_text(briefing["corrected_started_at"])
    assert row["corrected_started_local"] == local_text(briefing["corrected_started_at"])
    assert (row["is_clock_corrected"], int(row["clock_offset_s"])) == (
        "true",
        briefing["clock_offset_s"],
    )
    assert float(row["estimated_gap_energy_wh"]) == briefing["estimated_gap_energy_wh"]
    profile = client.get(f"/api/sessions/{session_id}/profile.csv", headers=headers).text
    assert profile.startswith("corrected_measured_at,reading_seq,elapsed_s,")
    assert f"{charger_year}-" not in profile
    assert profile.splitlines()[1].startswith(f"{true_year}-")


def test_session_list_has_only_the_users_sessions_and_monthly_totals(
    client: TestClient, portal_store: PortalStore, users
) -> None:
    user_a, _ = users
    expected = sessions_of(portal_store, user_a)
    body = client.get("/api/sessions", headers=auth(portal_store, user_a)).json()
    assert sorted(row["session_id"] for row in body["sessions"]) == sorted(
        row["session_id"] for row in expected
    )
    started = [row["corrected_started_at"] for row in body["sessions"]]
    assert started == sorted(started, reverse=True)
    months: dict[str, list[float]] = {}
    for row in expected:
        month = local_date(row["corrected_started_at"]).strftime("%Y-%m")
        totals = months.setdefault(month, [0, 0.0, 0.0])
        totals[0] += 1
        totals[1] += row["reported_energy_wh"] or 0
        totals[2] += row["total_cost_eur"] or 0
    assert {
        total["month"]: [total["session_count"], total["energy_wh"], total["cost_eur"]]
        for total in body["monthly_totals"]
    } == {
        month: [count, pytest.approx(energy, abs=1e-3), pytest.approx(cost, abs=0.005)]
        for month, (count, energy, cost) in months.items()
    }
    chargers = client.get("/api/chargers", headers=auth(portal_store, user_a)).json()["chargers"]
    assert {charger["charger_id"] for charger in chargers} == {
        row["charger_id"] for row in expected
    }
    for charger in chargers:
        last_ended = max(
            row["corrected_ended_at"]
            for row in expected
            if row["charger_id"] == charger["charger_id"]
        )
        assert charger["last_session_ended_at"] == utc_text(last_ended)
        assert charger["last_session_ended_local"] == local_text(last_ended)


def test_filters_by_charger_and_local_period(client: TestClient, portal_store: PortalStore) -> None:
    # the user with the most chargers, to filter on one of them
    user_id, charger_id = query(
        portal_store.warehouse,
        "select user_id, min(charger_id) from fct_session_briefings where user_id is not null "
        "group by user_id order by count(distinct charger_id) desc, count(*) desc, user_id limit 1",
    )[0]
    expected = sessions_of(portal_store, user_id)
    headers = auth(portal_store, user_id)
    by_charger = client.get(f"/api/sessions?charger_id={charger_id}", headers=headers).json()
    assert {row["session_id"] for row in by_charger["sessions"]} == {
        row["session_id"] for row in expected if row["charger_id"] == charger_id
    }
    local_days = sorted(local_date(row["corrected_started_at"]) for row in expected)
    first, last = local_days[len(local_days) // 3], local_days[2 * len(local_days) // 3]
    period = client.get(f"/api/sessions?from={first}&to={last}", headers=headers).json()
    assert sorted(row["session_id"] for row in period["sessions"]) == sorted(
        row["session_id"]
        for row in expected
        if first <= local_date(row["corrected_started_at"]) <= last
    )
    empty = client.get("/api/sessions?from=2000-01-01&to=2000-01-31", headers=headers).json()
    assert empty == {"time_zone": "Europe/Madrid", "sessions": [], "monthly_totals": []}


def test_times_follow_the_users_time_zone(
    client: TestClient, portal_store: PortalStore, users
) -> None:
    user_id = users[1]
    briefing = sessions_of(portal_store, user_id)[0]
    owner_execute(
        portal_store,
        "update portal.users set time_zone = 'America/New_York' where user_id = %s",
        [user_id],
    )
    try:
        body = client.get(
            f"/api/sessions/{briefing['session_id']}", headers=auth(portal_store, user_id)
        ).json()
    finally:
        owner_execute(
            portal_store,
            "update portal.users set time_zone = 'Europe/Madrid' where user_id = %s",
            [user_id],
        )
    expected = local_text(briefing["corrected_ended_at"], ZoneInfo("America/New_York"))
    assert body["session"]["corrected_ended_local"] == expected
    assert body["session"]["time_zone"] == "America/New_York"


def test_a_session_in_progress_asks_to_be_polled(
    client: TestClient, portal_store: PortalStore, users
) -> None:
    user_id = users[1]
    session_id = sessions_of(portal_store, user_id)[0]["session_id"]
    owner_execute(
        portal_store,
        "update portal.sessions set is_in_progress = true where session_id = %s",
        [session_id],
    )
    try:
        session = client.get(
            f"/api/sessions/{session_id}", headers=auth(portal_store, user_id)
        ).json()["session"]
    finally:
        owner_execute(
            portal_store,
            "update portal.sessions set is_in_progress = false where session_id = %s",
            [session_id],
        )
    assert session["is_in_progress"] is True
    assert session["poll_after_s"] == 30


def test_csv_downloads(client: TestClient, portal_store: PortalStore, users) -> None:
    user_a, _ = users
    headers = auth(portal_store, user_a)
    listing = client.get("/api/sessions.csv", headers=headers)
    assert listing.status_code == 200
    assert listing.headers["content-type"].startswith("text/csv")
    assert "attachment" in listing.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(listing.text)))
    expected = sessions_of(portal_store, user_a)
    assert sorted(int(row["session_id"]) for row in rows) == sorted(
        row["session_id"] for row in expected
    )
    briefing = expected[0]
    profile = client.get(f"/api/sessions/{briefing['session_id']}/profile.csv", headers=headers)
    assert profile.status_code == 200
    readings = list(csv.DictReader(io.StringIO(profile.text)))
    assert len(readings) == briefing["reading_count"]
    assert float(readings[-1]["accumulated_energy_wh"]) == pytest.approx(
        briefing["telemetry_energy_wh"]
    )
    assert readings[0]["is_gap_before"] in ("true", "false")
    assert float(readings[-1]["accumulated_estimated_energy_wh"]) == pytest.approx(
        briefing["estimated_gap_energy_wh"]
    )
    first = datetime.fromisoformat(readings[0]["corrected_measured_at"].replace("Z", "+00:00"))
    assert first - briefing["corrected_started_at"].replace(tzinfo=UTC) == timedelta(
        seconds=int(readings[0]["elapsed_s"])
    )


@pytest.mark.parametrize(
    "path, signed_in",
    [
        ("/", False),
        ("/static/session.js", False),
        ("/api/me", True),
        ("/api/me", False),
        ("/api/sessions/abc", True),
        ("/api/sessions/999999999", True),
        ("/nowhere", False),
    ],
)
def test_security_headers_on_every_response(
    client: TestClient, portal_store: PortalStore, users, path: str, signed_in: bool
) -> None:
    headers = auth(portal_store, users[0]) if signed_in else {}
    response = client.get(path, headers=headers)
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-frame-options"] == "DENY"
    if path.startswith("/api/"):
        assert response.headers["cache-control"] == "no-store"


def test_pages_hold_no_inline_script_or_style(client: TestClient) -> None:
    for path in ("/", "/sessions/1"):
        page = client.get(path).text
        assert "<script>" not in page and "style=" not in page and "<style" not in page


def _as_superuser(store: PortalStore, statement: str) -> None:
    cluster = store.cluster
    conninfo = cluster.conninfo("postgres", cluster.credentials().superuser)
    with psycopg.connect(conninfo, autocommit=True) as con:
        con.execute(statement)


def test_the_app_outlives_a_store_restart_and_says_when_it_is_down(
    portal_store: PortalStore, users
) -> None:
    """The store's connections ended under the app (a restart) are replaced: no error. While no
    connection can be made, a request gets 503 with a clear message, not a 500."""
    user_id = users[0]
    with TestClient(create_app(portal_store.app)) as fresh:
        assert fresh.get("/api/me", headers=auth(portal_store, user_id)).status_code == 200
        ended = (
            f"select pg_terminate_backend(pid) from pg_stat_activity where usename = '{APP_ROLE}'"
        )
        _as_superuser(portal_store, ended)
        for _ in range(3):  # every connection of the pool was ended
            assert fresh.get("/api/me", headers=auth(portal_store, user_id)).status_code == 200
        try:
            _as_superuser(portal_store, f"alter role {APP_ROLE} nologin")
            _as_superuser(portal_store, ended)
            down = fresh.get("/api/me", headers=auth(portal_store, user_id))
        finally:
            _as_superuser(portal_store, f"alter role {APP_ROLE} login")
        assert down.status_code == 503
        assert down.json() == {"detail": "the serving store is unavailable; try again shortly"}
        assert down.headers["retry-after"] == "5"
        assert fresh.get("/api/me", headers=auth(portal_store, user_id)).status_code == 200
