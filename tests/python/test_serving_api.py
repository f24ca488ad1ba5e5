"""The dashboard's API: sign-in, statuses, what each user sees, values against the marts, headers.

The app runs in-process (Starlette's TestClient) against the store of fixture ``portal_store``,
signed in to PostgreSQL as the app role, so row-level security is in force behind every request.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest
from conftest import PortalStore, query, query_dicts
from fastapi.testclient import TestClient

from chargerlogs.serving.app import create_app

SECRET_FIELDS = ("session_id", "reported_energy_wh", "profile", "sessions")


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
        "order by sample_count desc, session_id",
    )
    first = rows[0][0]
    return first, next(user_id for (user_id,) in rows if user_id != first)


def auth(store: PortalStore, user_id: int) -> dict[str, str]:
    return {"Authorization": f"Bearer {store.tokens[user_id]}"}


def sessions_of(store: PortalStore, user_id: int) -> list[dict]:
    return query_dicts(
        store.warehouse,
        "select * from fct_session_briefings where user_id = ? order by sample_count desc",
        [user_id],
    )


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


def test_session_page_equals_the_marts(
    client: TestClient, portal_store: PortalStore, users
) -> None:
    briefing = sessions_of(portal_store, users[0])[0]
    session_id = briefing["session_id"]
    response = client.get(f"/api/sessions/{session_id}", headers=auth(portal_store, users[0]))
    assert response.status_code == 200
    body = response.json()
    session = body["session"]
    assert session["session_id"] == session_id
    assert session["charger_id"] == briefing["charger_id"]
    assert session["started_at"] == briefing["started_at"].isoformat() + "Z"
    zone = ZoneInfo("Europe/Madrid")
    local = briefing["started_at"].replace(tzinfo=UTC).astimezone(zone)
    assert session["started_local"] == local.isoformat()
    assert session["time_zone"] == "Europe/Madrid"
    for field, column in [
        ("session_duration_s", "session_duration_s"),
        ("active_charging_s", "active_charging_s"),
        ("reported_energy_wh", "reported_energy_wh"),
        ("measured_energy_wh", "telemetry_energy_wh"),
        ("total_cost_eur", "total_cost_eur"),
        ("unit_price_eur_per_kwh", "unit_price_eur_per_kwh"),
        ("peak_power_w", "peak_power_w"),
        ("avg_charging_power_w", "avg_charging_power_w"),
        ("phases_used", "phases_used"),
        ("reading_count", "sample_count"),
        ("has_energy_mismatch", "has_energy_mismatch"),
        ("has_sparse_telemetry", "has_sparse_telemetry"),
    ]:
        assert session[field] == briefing[column], field
    assert session["is_in_progress"] is False and session["poll_after_s"] is None

    readings = query_dicts(
        portal_store.warehouse,
        "select * from fct_charging_profiles where session_id = ? order by sample_seq",
        [session_id],
    )
    profile = body["profile"]
    assert len(profile["elapsed_s"]) == len(readings) == briefing["sample_count"]
    assert profile["elapsed_s"] == [row["elapsed_s"] for row in readings]
    assert profile["current_l2_a"] == [row["current_l2_a"] for row in readings]
    assert profile["accumulated_energy_wh"][-1] == pytest.approx(briefing["telemetry_energy_wh"])
    changes = query(
        portal_store.warehouse,
        "select sample_seq, measure, phase, new_value from rpt_big_changes "
        "where session_id = ? order by sample_seq, measure, phase",
        [session_id],
    )
    assert [
        (change["reading_seq"], change["measure"], change["phase"], change["new_value"])
        for change in body["big_changes"]
    ] == changes
    assert session["big_change_threshold_pct"] == 10


def test_session_list_has_only_the_users_sessions_and_monthly_totals(
    client: TestClient, portal_store: PortalStore, users
) -> None:
    user_a, _ = users
    expected = sessions_of(portal_store, user_a)
    body = client.get("/api/sessions", headers=auth(portal_store, user_a)).json()
    assert sorted(row["session_id"] for row in body["sessions"]) == sorted(
        row["session_id"] for row in expected
    )
    started = [row["started_at"] for row in body["sessions"]]
    assert started == sorted(started, reverse=True)
    zone = ZoneInfo("Europe/Madrid")
    months: dict[str, list[float]] = {}
    for row in expected:
        month = row["started_at"].replace(tzinfo=UTC).astimezone(zone).strftime("%Y-%m")
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
    zone = ZoneInfo("Europe/Madrid")
    local_days = sorted(
        row["started_at"].replace(tzinfo=UTC).astimezone(zone).date() for row in expected
    )
    first, last = local_days[len(local_days) // 3], local_days[2 * len(local_days) // 3]
    period = client.get(f"/api/sessions?from={first}&to={last}", headers=headers).json()
    assert sorted(row["session_id"] for row in period["sessions"]) == sorted(
        row["session_id"]
        for row in expected
        if first <= row["started_at"].replace(tzinfo=UTC).astimezone(zone).date() <= last
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
    expected = briefing["ended_at"].replace(tzinfo=UTC).astimezone(ZoneInfo("America/New_York"))
    assert body["session"]["ended_local"] == expected.isoformat()
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
    assert len(readings) == briefing["sample_count"]
    assert float(readings[-1]["accumulated_energy_wh"]) == pytest.approx(
        briefing["telemetry_energy_wh"]
    )
    assert readings[0]["is_gap_before"] in ("true", "false")
    first = datetime.fromisoformat(readings[0]["measured_at"].replace("Z", "+00:00"))
    assert first - briefing["started_at"].replace(tzinfo=UTC) == timedelta(
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
