"""The dashboard's serving store: the mart reader, the publisher, and row-level security on its own.

The store runs on a PostgreSQL server of its own (fixture ``portal_store``), published from the
default warehouse. Row-level security is tested by connecting as the app role and asking for rows
directly, with no app in between.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import psycopg
import pytest
from conftest import PROJECT_DIR, PortalStore, query, query_dicts

from chargerlogs.serving import marts
from chargerlogs.serving.publish import (
    ANOMALY_FIELDS,
    SESSION_FIELDS,
    PublishReport,
    publish,
    session_contents,
)
from chargerlogs.serving.store import APP_ROLE, OWNER_ROLE, bootstrap
from chargerlogs.serving.tokens import token_sha256

USER_TABLES = ("sessions", "session_profiles", "big_changes", "session_anomalies", "chargers")


def owner_rows(store: PortalStore, sql: str, params: list | None = None) -> list[tuple]:
    with psycopg.connect(store.owner) as con:
        return con.execute(sql, params or []).fetchall()


def two_users(store: PortalStore) -> tuple[int, int]:
    """The user of the session with the most readings, and another user with sessions."""
    rows = owner_rows(
        store, "select user_id from portal.sessions order by reading_count desc, session_id"
    )
    first = rows[0][0]
    other = next(user_id for (user_id,) in rows if user_id != first)
    return first, other


def test_published_rows_equal_the_marts(portal_store: PortalStore) -> None:
    warehouse = portal_store.warehouse
    expected_sessions = query(
        warehouse, "select count(*) from fct_session_briefings where user_id is not null"
    )[0][0]
    assert owner_rows(portal_store, "select count(*) from portal.sessions")[0][0] == (
        expected_sessions
    )
    readings = query(warehouse, "select count(*) from fct_charging_profiles")[0][0]
    assert owner_rows(portal_store, "select sum(reading_count) from portal.session_profiles")[0][
        0
    ] == (readings)
    changes = query(warehouse, "select count(*) from rpt_big_changes")[0][0]
    assert owner_rows(portal_store, "select count(*) from portal.big_changes")[0][0] == changes
    chargers = query(warehouse, "select count(*) from fct_charger_summaries")[0][0]
    assert owner_rows(portal_store, "select count(*) from portal.chargers")[0][0] == chargers
    users = query(
        warehouse,
        "select count(distinct user_id) from fct_session_briefings where user_id is not null",
    )[0][0]
    assert owner_rows(portal_store, "select count(*) from portal.users")[0][0] == users
    assert len(portal_store.tokens) == users
    # the anomalies of the published sessions, each with its session's user, field by field
    anomalies = query_dicts(
        warehouse,
        "select anomalies.*, briefings.user_id from fct_anomalies as anomalies "
        "inner join fct_session_briefings as briefings using (session_id) "
        "where briefings.user_id is not null order by anomalies.anomaly_id",
    )
    assert anomalies, "the default dataset has anomalies in sessions"
    with psycopg.connect(portal_store.owner, row_factory=psycopg.rows.dict_row) as con:
        stored = con.execute(
            "select * from portal.session_anomalies order by anomaly_id"
        ).fetchall()
    assert [row["anomaly_id"] for row in stored] == [row["anomaly_id"] for row in anomalies]
    for stored_row, anomaly in zip(stored, anomalies, strict=True):
        for field in ("session_id", "user_id", *ANOMALY_FIELDS):
            value = stored_row[field]
            if field in ("started_at", "ended_at"):
                value = value.replace(tzinfo=None)
            assert value == anomaly[field], field

    # the session with the most readings, and the reset-clock session with the most estimated
    # energy, field by field, and their profile documents reading by reading
    for session_id in (
        query(
            warehouse, "select session_id from fct_session_briefings order by reading_count desc"
        )[0][0],
        clock_corrected_session(warehouse)["session_id"],
    ):
        assert_session_published(portal_store, session_id)


def clock_corrected_session(warehouse: Path) -> dict:
    """The session of a reset charger clock with the most energy estimated across gaps."""
    rows = query_dicts(
        warehouse,
        "select * from fct_session_briefings where is_clock_corrected and user_id is not null "
        "order by estimated_gap_energy_wh desc, session_id limit 1",
    )
    assert rows, "the default dataset has sessions of a charger whose clock was reset"
    return rows[0]


def assert_session_published(store: PortalStore, session_id: int) -> None:
    """The stored session equals its briefing (true times), its profile equals the mart's."""
    briefing = query_dicts(
        store.warehouse, "select * from fct_session_briefings where session_id = ?", [session_id]
    )[0]
    with psycopg.connect(store.owner, row_factory=psycopg.rows.dict_row) as con:
        stored = con.execute(
            "select * from portal.sessions where session_id = %s", [session_id]
        ).fetchone()
        profile = con.execute(
            "select profile from portal.session_profiles where session_id = %s", [session_id]
        ).fetchone()["profile"]
    for field, column in marts.SESSIONS.columns.items():
        if field in ("corrected_started_at", "corrected_ended_at"):
            assert stored[field].replace(tzinfo=None) == briefing[column], field
        else:
            assert stored[field] == briefing[column], field
    # the store holds no charger-clock time: for a reset clock those are years off
    assert "started_at" not in stored and "ended_at" not in stored
    if briefing["is_clock_corrected"]:
        assert stored["corrected_started_at"].year != briefing["started_at"].year
    readings = query_dicts(
        store.warehouse,
        "select * from fct_charging_profiles where session_id = ? order by reading_seq",
        [session_id],
    )
    assert len(readings) == briefing["reading_count"]
    for series in (
        "reading_seq",
        "elapsed_s",
        "power_w",
        "temperature_l3_c",
        "accumulated_energy_wh",
        "accumulated_estimated_energy_wh",
        "interval_estimated_energy_wh",
        "is_gap_before",
    ):
        assert profile[series] == [row[series] for row in readings], series
    assert profile["corrected_measured_at"] == [
        row["corrected_measured_at"].isoformat() + "Z" for row in readings
    ]
    assert "measured_at" not in profile


def row_versions(store: PortalStore) -> dict[str, list[tuple]]:
    """Every row's physical version (xmin) per table: unchanged when nothing was written."""
    tables = ("users", *USER_TABLES)
    return {
        table: owner_rows(store, f"select xmin::text from portal.{table} order by 1")
        for table in tables
    }


def test_publishing_again_changes_nothing(portal_store: PortalStore) -> None:
    before = row_versions(portal_store)
    report = publish(
        marts.read_marts(portal_store.warehouse), portal_store.owner, portal_store.token_file
    )
    assert not report.changed, report.lines()
    assert report.sessions_unchanged == len(before["sessions"])
    assert row_versions(portal_store) == before


def test_a_changed_session_is_replaced_and_a_vanished_one_deleted(
    portal_store: PortalStore,
) -> None:
    rows = marts.read_marts(portal_store.warehouse)
    session_id = owner_rows(
        portal_store, "select session_id from portal.sessions order by session_id limit 1"
    )[0][0]
    changes_before = owner_rows(
        portal_store, "select count(*) from portal.big_changes where session_id = %s", [session_id]
    )[0][0]
    copied = ", ".join(SESSION_FIELDS)
    with psycopg.connect(portal_store.owner) as con:
        # a session whose rows changed since the last publication, and one the marts no longer have
        con.execute(
            "update portal.sessions set total_cost_eur = -1, content_sha256 = 'stale' "
            "where session_id = %s",
            [session_id],
        )
        con.execute("delete from portal.big_changes where session_id = %s", [session_id])
        con.execute(
            f"insert into portal.sessions (session_id, {copied}, content_sha256) "
            f"select 1, {copied}, 'x' from portal.sessions where session_id = %s",
            [session_id],
        )
    report = publish(rows, portal_store.owner, portal_store.token_file)
    assert (report.sessions_replaced, report.sessions_deleted, report.sessions_inserted) == (
        1,
        1,
        0,
    )
    cost = owner_rows(
        portal_store,
        "select total_cost_eur from portal.sessions where session_id = %s",
        [session_id],
    )[0][0]
    expected_cost = next(
        row["total_cost_eur"]
        for row in rows[marts.SESSIONS.table]
        if row["session_id"] == session_id
    )
    assert cost == expected_cost
    assert owner_rows(
        portal_store, "select count(*) from portal.big_changes where session_id = %s", [session_id]
    )[0][0] == (changes_before)
    assert owner_rows(
        portal_store, "select count(*) from portal.sessions where session_id = 1"
    ) == [(0,)]
    assert not publish(rows, portal_store.owner, portal_store.token_file).changed


def app_connection(store: PortalStore) -> psycopg.Connection:
    return psycopg.connect(store.app)


def count_rows(con: psycopg.Connection, table: str, where: str = "true", params=None) -> int:
    return con.execute(
        f"select count(*) from portal.{table} where {where}", params or []
    ).fetchone()[0]


def test_app_role_is_subject_to_row_level_security(portal_store: PortalStore) -> None:
    flags = owner_rows(
        portal_store,
        "select rolsuper, rolbypassrls from pg_roles where rolname = %s",
        [APP_ROLE],
    )
    assert flags == [(False, False)]
    owners = owner_rows(
        portal_store,
        "select distinct tableowner from pg_tables where schemaname = 'portal'",
    )
    assert owners == [(OWNER_ROLE,)]
    forced = owner_rows(
        portal_store,
        "select relname from pg_class where relnamespace = 'portal'::regnamespace "
        "and relkind = 'r' and not relrowsecurity",
    )
    assert forced == [], "every table of the store has row-level security enabled"


def test_without_a_user_the_app_role_sees_no_row(portal_store: PortalStore) -> None:
    with app_connection(portal_store) as con:
        for table in USER_TABLES:
            assert count_rows(con, table) == 0, table
        # an empty setting (what a finished transaction leaves behind) is no user either
        con.execute("select set_config('app.user_id', '', false)")
        for table in USER_TABLES:
            assert count_rows(con, table) == 0, table


def test_a_user_sees_only_their_own_rows(portal_store: PortalStore) -> None:
    user_a, user_b = two_users(portal_store)
    sessions_b = [
        row[0]
        for row in owner_rows(
            portal_store, "select session_id from portal.sessions where user_id = %s", [user_b]
        )
    ]
    expected_a = query(
        portal_store.warehouse,
        "select count(*) from fct_session_briefings where user_id = ?",
        [user_a],
    )[0][0]
    with app_connection(portal_store) as con, con.transaction():
        con.execute("select set_config('app.user_id', %s, true)", [str(user_a)])
        assert count_rows(con, "sessions") == expected_a
        assert count_rows(con, "sessions", "user_id <> %s", [user_a]) == 0
        for table in ("sessions", "session_profiles", "big_changes", "session_anomalies"):
            assert count_rows(con, table, "session_id = any(%s)", [sessions_b]) == 0, table
        anomalies_a = owner_rows(
            portal_store,
            "select count(*) from portal.session_anomalies where user_id = %s",
            [user_a],
        )[0][0]
        assert count_rows(con, "session_anomalies") == anomalies_a
        chargers_a = {
            row[0]
            for row in owner_rows(
                portal_store,
                "select distinct charger_id from portal.sessions where user_id = %s",
                [user_a],
            )
        }
        visible = {row[0] for row in con.execute("select charger_id from portal.chargers")}
        assert visible == chargers_a


def test_the_setting_lasts_one_transaction(portal_store: PortalStore) -> None:
    user_a, _ = two_users(portal_store)
    with app_connection(portal_store) as con:
        with con.transaction():
            con.execute("select set_config('app.user_id', %s, true)", [str(user_a)])
            assert count_rows(con, "sessions") > 0
        assert count_rows(con, "sessions") == 0


def test_app_role_cannot_write_nor_read_users(portal_store: PortalStore) -> None:
    user_a, _ = two_users(portal_store)
    statements = [
        "select * from portal.users",
        "update portal.sessions set total_cost_eur = 0",
        "delete from portal.big_changes",
        "insert into portal.chargers (charger_id, session_count) values (1, 1)",
    ]
    for statement in statements:
        with app_connection(portal_store) as con:
            con.execute("select set_config('app.user_id', %s, false)", [str(user_a)])
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                con.execute(statement)


def test_sign_in_function_finds_a_user_by_token_hash_only(portal_store: PortalStore) -> None:
    user_id, token = next(iter(portal_store.tokens.items()))
    with app_connection(portal_store) as con:
        found = con.execute(
            "select user_id from portal.authenticate(%s)", [token_sha256(token)]
        ).fetchall()
        assert found == [(user_id,)]
        # the token itself, or a pattern, finds nobody
        for presented in (token, "%", "' or true --"):
            assert (
                con.execute("select * from portal.authenticate(%s)", [presented]).fetchall() == []
            )
    stored = owner_rows(portal_store, "select token_sha256 from portal.users")
    assert all(len(digest) == 64 and digest != token for (digest,) in stored)


def test_marts_are_read_from_schema_marts_or_the_configured_one(
    portal_store: PortalStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(marts.SCHEMA_SETTING, raising=False)
    # the marts in schema main only, as an older build laid them out
    copy = tmp_path / "older_layout.duckdb"
    con = duckdb.connect(str(copy))
    try:
        con.execute(f"attach '{portal_store.warehouse}' as built (read_only)")
        for mart in marts.MARTS:
            con.execute(f"create table main.{mart.table} as from built.marts.{mart.table}")
        con.execute("detach built")
    finally:
        con.close()
    sessions = query(portal_store.warehouse, "select count(*) from fct_session_briefings")[0][0]
    with pytest.raises(marts.MartError, match=f"schema 'marts'.*{marts.SCHEMA_SETTING}"):
        marts.read_marts(copy)
    assert len(marts.read_marts(copy, "main")[marts.SESSIONS.table]) == sessions
    monkeypatch.setenv(marts.SCHEMA_SETTING, "main")
    assert len(marts.read_marts(copy)[marts.SESSIONS.table]) == sessions
    monkeypatch.delenv(marts.SCHEMA_SETTING)

    # the same marts, empty, in schema marts: without the setting those are read, never main's
    con = duckdb.connect(str(copy))
    try:
        con.execute("create schema marts")
        for mart in marts.MARTS:
            con.execute(f"create table marts.{mart.table} as from main.{mart.table} limit 0")
        # a column under its older name is a column the store lacks
        con.execute(
            "alter table main.fct_charging_profiles rename column reading_seq to sample_seq"
        )
    finally:
        con.close()
    assert marts.read_marts(copy)[marts.SESSIONS.table] == []
    with pytest.raises(marts.MartError, match="fct_charging_profiles lacks a column"):
        marts.read_marts(copy, "main")
    with pytest.raises(marts.MartError, match="not found"):
        marts.read_marts(copy, "nowhere")
    # the anomalies are optional: a live loop builds them on its whole-project runs only
    con = duckdb.connect(str(copy))
    try:
        con.execute(f"drop table marts.{marts.ANOMALIES.table}")
    finally:
        con.close()
    assert marts.read_marts(copy)[marts.ANOMALIES.table] == []


def test_a_session_in_progress_takes_the_anomalies_of_its_charge() -> None:
    """A charge whose session event has not arrived has readings without a session: the anomalies
    found on its charger during the charge are its own, none from before it or another charger."""
    rows = {mart.table: [] for mart in marts.MARTS}
    started = datetime(2021, 3, 8, 18, 0)
    rows[marts.SESSIONS_IN_PROGRESS.table] = [
        {
            **{field: None for field in marts.SESSIONS_IN_PROGRESS.columns},
            "session_id": 900001,
            "charger_id": 7,
            "user_id": 5,
            "corrected_started_at": started,
            "corrected_ended_at": started + timedelta(hours=1),
        }
    ]

    def anomaly(anomaly_id: str, charger_id: int, minutes: int, session_id: int | None) -> dict:
        return {
            **{field: None for field in marts.ANOMALIES.columns},
            "anomaly_id": anomaly_id,
            "session_id": session_id,
            "charger_id": charger_id,
            "kind": "overheating",
            "started_at": started + timedelta(minutes=minutes),
            "ended_at": started + timedelta(minutes=minutes + 5),
        }

    rows[marts.ANOMALIES.table] = [
        anomaly("during", 7, 30, None),
        anomaly("before", 7, -60, None),
        anomaly("another charger", 8, 30, None),
        anomaly("a finished session's", 7, 30, 3580000),
    ]
    content = session_contents(rows)[900001]
    assert content.briefing["is_in_progress"]
    assert [row["anomaly_id"] for row in content.anomalies] == ["during"]


def test_publish_command_line(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "chargerlogs.serving.publish"]
    shown = subprocess.run([*command, "--help"], capture_output=True, text=True, cwd=PROJECT_DIR)
    assert shown.returncode == 0
    for option in ("--warehouse", "--marts-schema", "--store", "--store-port", "--tokens"):
        assert option in shown.stdout
    missing = subprocess.run(
        [*command, "--warehouse", str(tmp_path / "none.duckdb"), "--store", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=PROJECT_DIR,
    )
    assert missing.returncode == 1
    assert missing.stderr.count("\n") == 1 and "warehouse not found" in missing.stderr


def test_system_packages_script_installs_nothing_when_present() -> None:
    script = PROJECT_DIR / "scripts" / "install_system_packages.sh"
    result = subprocess.run([str(script)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == "", "PostgreSQL and Chromium are installed"


def test_system_packages_script_installs_only_what_it_is_asked() -> None:
    script = PROJECT_DIR / "scripts" / "install_system_packages.sh"
    store = subprocess.run([str(script), "postgresql"], capture_output=True, text=True)
    assert (store.returncode, store.stdout, store.stderr) == (0, "", "")
    unknown = subprocess.run([str(script), "postgres"], capture_output=True, text=True)
    assert unknown.returncode == 2
    assert unknown.stderr == (
        "unknown system package group: postgres (known: postgresql, chromium, java)\n"
    )


@pytest.mark.parametrize("target", ["serve", "bench-serve", "serve-live"])
def test_the_dashboards_targets_install_only_postgresql(target: str) -> None:
    """Serving needs the store's server, not the browser of the tests or Spark's Java."""
    planned = subprocess.run(
        ["make", "-n", "-o", ".venv/.installed", target],
        capture_output=True,
        text=True,
        cwd=PROJECT_DIR,
        check=True,
    )
    installs = [line for line in planned.stdout.splitlines() if "install_system_packages" in line]
    assert installs == ["scripts/install_system_packages.sh postgresql"]


def test_stop_says_when_no_store_runs(tmp_path: Path) -> None:
    """make serve-stop also stops make live's store: where there is none, it says so."""
    stopped = subprocess.run(
        [sys.executable, "-m", "chargerlogs.serving.serve", "--stop", "--store", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=PROJECT_DIR,
    )
    assert (stopped.returncode, stopped.stderr) == (0, "")
    assert stopped.stdout == f"no serving store running ({tmp_path})\n"


def test_report_says_new_users_get_their_token() -> None:
    """A first publication creates users with tokens: it must not read as if none was issued."""
    first = PublishReport(users_created=78).lines()[0]
    assert (
        first
        == "users: 78 created (each with a token), 0 tokens issued again (lost from the token file)"
    )


def test_a_store_of_another_schema_is_made_again(portal_store: PortalStore) -> None:
    """Last in this file: it empties the store and publishes it again."""
    sessions = owner_rows(portal_store, "select count(*) from portal.sessions")[0][0]
    # a store as an older schema.sql made it: another digest, a column that is gone
    with psycopg.connect(portal_store.owner) as con:
        con.execute("comment on schema portal is 'an older schema'")
        con.execute("alter table portal.sessions add column has_clock_problem boolean")
    bootstrap(portal_store.cluster)
    assert owner_rows(portal_store, "select count(*) from portal.sessions") == [(0,)]
    assert owner_rows(
        portal_store,
        "select count(*) from information_schema.columns where table_schema = 'portal' "
        "and column_name = 'has_clock_problem'",
    ) == [(0,)]
    report = publish(
        marts.read_marts(portal_store.warehouse), portal_store.owner, portal_store.token_file
    )
    assert report.sessions_inserted == sessions
    assert (report.users_created, report.tokens_issued) == (len(portal_store.tokens), 0)
    # the demo users sign in with the tokens they had
    user_id, token = next(iter(portal_store.tokens.items()))
    with app_connection(portal_store) as con:
        found = con.execute(
            "select user_id from portal.authenticate(%s)", [token_sha256(token)]
        ).fetchall()
    assert found == [(user_id,)]
    # the same schema again: nothing is dropped or written
    before = row_versions(portal_store)
    bootstrap(portal_store.cluster)
    assert row_versions(portal_store) == before
