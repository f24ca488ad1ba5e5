"""Publish the marts into the serving store: sessions, full profiles, big changes, anomalies,
chargers, users.

Idempotent: a session is written only when its content (briefing, profile and big changes) differs
from what the store holds, and then replaced whole; sessions gone from the marts are deleted;
chargers are updated only when a value differs. Running it twice in a row changes nothing. All of
it is one transaction, so the app never sees half a publication.

Sessions in progress (``fct_sessions_in_progress`` and their profiles so far) are published as
sessions marked ``is_in_progress``, under the id of the reading that started the charge, to the
charger's sole user; the fields only the session event gives are ``marts.IN_PROGRESS_UNKNOWN``.
When the event arrives, the marts drop the provisional session and brief the finished one: the next
publication deletes the one and inserts the other, in one transaction. The live loop
(``chargerlogs.live_loop --store``) publishes after every batch.

Users: every user id of the sessions gets a demo user (time zone Europe/Madrid) with a sign-in
token; the tokens are written to a file readable by its owner only, and the store keeps only their
sha256.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from chargerlogs.cli import OneLineErrorParser, positive_int
from chargerlogs.serving import marts, tokens
from chargerlogs.serving.cluster import DEFAULT_PORT, ClusterError, LocalCluster
from chargerlogs.serving.store import StoreAccess, bootstrap

SESSION_FIELDS = tuple(field for field in marts.SESSIONS.columns if field != "session_id")
PROFILE_SERIES = tuple(
    field
    for field in marts.PROFILES.columns
    if field not in ("session_id", "corrected_measured_at")
)
BIG_CHANGE_FIELDS = tuple(field for field in marts.BIG_CHANGES.columns if field != "session_id")
# the session's id and charger come with the session
ANOMALY_FIELDS = tuple(
    field for field in marts.ANOMALIES.columns if field not in ("session_id", "charger_id")
)
CHARGER_FIELDS = tuple(marts.CHARGERS.columns)


@dataclass
class PublishReport:
    """What one publication changed."""

    users_created: int = 0
    # tokens issued again to users already in the store whose token the token file lost
    tokens_issued: int = 0
    chargers_written: int = 0
    chargers_deleted: int = 0
    sessions_inserted: int = 0
    sessions_replaced: int = 0
    sessions_unchanged: int = 0
    sessions_deleted: int = 0
    sessions_in_progress: int = 0
    sessions_without_user: list[int] = field(default_factory=list)
    # provisional sessions of a charger without a sole user, or whose key is a session's id
    sessions_in_progress_held_back: list[int] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """True when the publication wrote or deleted anything."""
        return any(
            (
                self.users_created,
                self.tokens_issued,
                self.chargers_written,
                self.chargers_deleted,
                self.sessions_inserted,
                self.sessions_replaced,
                self.sessions_deleted,
            )
        )

    def lines(self) -> list[str]:
        """The report as lines for a person."""
        lines = [
            f"users: {self.users_created} created (each with a token), "
            f"{self.tokens_issued} tokens issued again (lost from the token file)",
            f"chargers: {self.chargers_written} written, {self.chargers_deleted} deleted",
            f"sessions: {self.sessions_inserted} inserted, {self.sessions_replaced} replaced, "
            f"{self.sessions_unchanged} unchanged, {self.sessions_deleted} deleted",
        ]
        if self.sessions_in_progress or self.sessions_in_progress_held_back:
            lines.append(
                f"sessions in progress: {self.sessions_in_progress} published, "
                f"{len(self.sessions_in_progress_held_back)} without a sole user, not published"
            )
        if self.sessions_without_user:
            lines.append(
                f"sessions without a user id, not published: {len(self.sessions_without_user)}"
            )
        return lines


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.replace(tzinfo=UTC)


def _iso(value: datetime) -> str:
    return value.replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


@dataclass(frozen=True)
class SessionContent:
    """What the store keeps of one session, and the digest that tells whether it changed."""

    briefing: dict[str, Any]
    profile_json: str
    reading_count: int
    big_changes: list[dict[str, Any]]
    anomalies: list[dict[str, Any]]
    digest: str


def profile_document(readings: Sequence[dict[str, Any]]) -> dict[str, list[Any]]:
    """The columnar profile document of one session: one array per series, readings in order,
    led by the readings' true times (ISO-8601, UTC)."""
    document: dict[str, list[Any]] = {
        "corrected_measured_at": [_iso(reading["corrected_measured_at"]) for reading in readings]
    }
    for series in PROFILE_SERIES:
        document[series] = [reading[series] for reading in readings]
    return document


def _anomalies_by_session(
    briefings: list[dict[str, Any]], anomalies: list[dict[str, Any]], in_progress: bool
) -> dict[int, list[dict[str, Any]]]:
    """The anomalies of each session of ``briefings``: those of its readings (``session_id``); for a
    session in progress, whose readings have no session yet, those without a session on its charger
    that overlap the charge so far (true times)."""
    found: dict[int, list[dict[str, Any]]] = defaultdict(list)
    if not in_progress:
        for anomaly in anomalies:
            if anomaly["session_id"] is not None:
                found[anomaly["session_id"]].append(anomaly)
        return found
    unsessioned: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for anomaly in anomalies:
        if anomaly["session_id"] is None:
            unsessioned[anomaly["charger_id"]].append(anomaly)
    for briefing in briefings:
        found[briefing["session_id"]] = [
            anomaly
            for anomaly in unsessioned.get(briefing["charger_id"], [])
            if anomaly["ended_at"] >= briefing["corrected_started_at"]
            and anomaly["started_at"] <= briefing["corrected_ended_at"]
        ]
    return found


def _contents(
    briefings: list[dict[str, Any]],
    readings: list[dict[str, Any]],
    changes: list[dict[str, Any]],
    anomalies: list[dict[str, Any]],
    in_progress: bool,
) -> dict[int, SessionContent]:
    """The content of every session of ``briefings`` with a user id, keyed by session id."""
    readings_by_session: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for reading in readings:
        readings_by_session[reading["session_id"]].append(reading)
    changes_by_session: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for change in changes:
        changes_by_session[change["session_id"]].append(change)
    anomalies_by_session = _anomalies_by_session(briefings, anomalies, in_progress)
    contents: dict[int, SessionContent] = {}
    for briefing in briefings:
        session_id = briefing["session_id"]
        if briefing["user_id"] is None:
            continue
        session_readings = readings_by_session.get(session_id, [])
        profile_json = json.dumps(profile_document(session_readings), separators=(",", ":"))
        session_changes = [
            {name: change[name] for name in BIG_CHANGE_FIELDS}
            for change in changes_by_session.get(session_id, [])
        ]
        session_anomalies = [
            {name: anomaly[name] for name in ANOMALY_FIELDS}
            for anomaly in anomalies_by_session.get(session_id, [])
        ]
        known = {**marts.IN_PROGRESS_UNKNOWN, **briefing} if in_progress else briefing
        kept = {name: known[name] for name in SESSION_FIELDS}
        kept["is_in_progress"] = in_progress
        canonical = json.dumps(
            {
                "briefing": kept,
                "big_changes": session_changes,
                "anomalies": session_anomalies,
                "profile": profile_json,
            },
            sort_keys=True,
            default=str,
            separators=(",", ":"),
        )
        contents[session_id] = SessionContent(
            briefing=kept,
            profile_json=profile_json,
            reading_count=len(session_readings),
            big_changes=session_changes,
            anomalies=session_anomalies,
            digest=hashlib.sha256(canonical.encode()).hexdigest(),
        )
    return contents


def session_contents(rows: dict[str, list[dict[str, Any]]]) -> dict[int, SessionContent]:
    """Every session of the marts with a user id, finished or in progress, keyed by session id.

    A session in progress whose provisional key is also a finished session's id is left out (the
    finished one is published)."""
    anomalies = rows.get(marts.ANOMALIES.table, [])
    contents = _contents(
        rows[marts.SESSIONS.table],
        rows[marts.PROFILES.table],
        rows[marts.BIG_CHANGES.table],
        anomalies,
        in_progress=False,
    )
    in_progress = _contents(
        rows[marts.SESSIONS_IN_PROGRESS.table],
        rows[marts.PROFILES_IN_PROGRESS.table],
        [],
        anomalies,
        in_progress=True,
    )
    for session_id, content in in_progress.items():
        contents.setdefault(session_id, content)
    return contents


def _ensure_users(
    cur: psycopg.Cursor, user_ids: Iterable[int], token_file: Path, report: PublishReport
) -> None:
    """A demo user for every user id missing from the store; a token for every user without one."""
    kept = tokens.read_token_file(token_file)
    cur.execute("select user_id, token_sha256 from portal.users")
    stored = dict(cur.fetchall())
    issued = dict(kept)
    for user_id in sorted(set(user_ids)):
        token = kept.get(user_id)
        if user_id not in stored:
            token = token or tokens.new_token()
            cur.execute(
                "insert into portal.users (user_id, display_name, token_sha256) "
                "values (%s, %s, %s)",
                [user_id, f"Driver {user_id}", tokens.token_sha256(token)],
            )
            report.users_created += 1
        elif token is None or tokens.token_sha256(token) != stored[user_id]:
            # the token file lost this user's token: issue a new one
            token = tokens.new_token()
            cur.execute(
                "update portal.users set token_sha256 = %s where user_id = %s",
                [tokens.token_sha256(token), user_id],
            )
            report.tokens_issued += 1
        issued[user_id] = token
    if issued != kept:
        tokens.write_token_file(token_file, issued)


def _write_chargers(
    cur: psycopg.Cursor, chargers: list[dict[str, Any]], report: PublishReport
) -> None:
    columns = ", ".join(CHARGER_FIELDS)
    placeholders = ", ".join(["%s"] * len(CHARGER_FIELDS))
    updates = ", ".join(f"{name} = excluded.{name}" for name in CHARGER_FIELDS[1:])
    changed = " or ".join(
        f"chargers.{name} is distinct from excluded.{name}" for name in CHARGER_FIELDS[1:]
    )
    statement = (
        f"insert into portal.chargers as chargers ({columns}) values ({placeholders}) "
        f"on conflict (charger_id) do update set {updates} where {changed}"
    )
    for charger in chargers:
        values = [
            _utc(charger[name]) if isinstance(charger[name], datetime) else charger[name]
            for name in CHARGER_FIELDS
        ]
        cur.execute(statement, values)
        report.chargers_written += cur.rowcount


def _insert_session(cur: psycopg.Cursor, session_id: int, content: SessionContent) -> None:
    briefing = content.briefing
    names = ("session_id", *SESSION_FIELDS, "is_in_progress", "content_sha256")
    values = [
        session_id,
        *(
            _utc(briefing[name]) if isinstance(briefing[name], datetime) else briefing[name]
            for name in SESSION_FIELDS
        ),
        briefing["is_in_progress"],
        content.digest,
    ]
    cur.execute(
        f"insert into portal.sessions ({', '.join(names)}) "
        f"values ({', '.join(['%s'] * len(names))})",
        values,
    )
    cur.execute(
        "insert into portal.session_profiles (session_id, user_id, reading_count, profile) "
        "values (%s, %s, %s, %s)",
        [session_id, briefing["user_id"], content.reading_count, content.profile_json],
    )
    for table, fields, rows in (
        ("portal.big_changes", BIG_CHANGE_FIELDS, content.big_changes),
        ("portal.session_anomalies", ANOMALY_FIELDS, content.anomalies),
    ):
        names = ("session_id", "user_id", *fields)
        cur.executemany(
            f"insert into {table} ({', '.join(names)}) values ({', '.join(['%s'] * len(names))})",
            [
                [
                    session_id,
                    briefing["user_id"],
                    *(
                        _utc(row[name]) if isinstance(row[name], datetime) else row[name]
                        for name in fields
                    ),
                ]
                for row in rows
            ],
        )


def publish(
    rows: dict[str, list[dict[str, Any]]], owner_conninfo: str, token_file: Path
) -> PublishReport:
    """Write the rows read from the marts into the serving store, in one transaction."""
    report = PublishReport()
    report.sessions_without_user = [
        row["session_id"] for row in rows[marts.SESSIONS.table] if row["user_id"] is None
    ]
    contents = session_contents(rows)
    report.sessions_in_progress = sum(
        content.briefing["is_in_progress"] for content in contents.values()
    )
    report.sessions_in_progress_held_back = [
        row["session_id"]
        for row in rows[marts.SESSIONS_IN_PROGRESS.table]
        if row["session_id"] not in contents
        or not contents[row["session_id"]].briefing["is_in_progress"]
    ]
    with psycopg.connect(owner_conninfo) as con, con.cursor() as cur:
        # one publisher at a time
        cur.execute("select pg_advisory_xact_lock(hashtext('portal.publish'))")
        _ensure_users(
            cur, (content.briefing["user_id"] for content in contents.values()), token_file, report
        )
        _write_chargers(cur, rows[marts.CHARGERS.table], report)
        cur.execute("select session_id, content_sha256 from portal.sessions")
        stored = dict(cur.fetchall())
        gone = sorted(set(stored) - set(contents))
        if gone:
            cur.execute("delete from portal.sessions where session_id = any(%s)", [gone])
            report.sessions_deleted = len(gone)
        for session_id, content in contents.items():
            digest = stored.get(session_id)
            if digest == content.digest:
                report.sessions_unchanged += 1
                continue
            if digest is not None:
                cur.execute("delete from portal.sessions where session_id = %s", [session_id])
                report.sessions_replaced += 1
            else:
                report.sessions_inserted += 1
            _insert_session(cur, session_id, content)
        cur.execute(
            "delete from portal.chargers where charger_id <> all(%s) "
            "and not exists (select 1 from portal.sessions "
            "where sessions.charger_id = chargers.charger_id)",
            [[row["charger_id"] for row in rows[marts.CHARGERS.table]]],
        )
        report.chargers_deleted = cur.rowcount
    return report


STORE_ERRORS = (marts.MartError, ClusterError, psycopg.Error, OSError)


def add_store_arguments(parser: argparse.ArgumentParser) -> None:
    """The options that name the warehouse, the store and the token file (publish, serve, bench)."""
    parser.add_argument(
        "--warehouse",
        type=Path,
        default=Path("build/charger_telemetry.duckdb"),
        help="the DuckDB warehouse to read, opened read-only (default: %(default)s)",
    )
    parser.add_argument(
        "--marts-schema",
        default=None,
        help=f"schema of the marts (default: setting {marts.SCHEMA_SETTING}, else "
        f"{marts.DEFAULT_SCHEMA})",
    )
    add_server_arguments(
        parser,
        store_default=Path("build/portal_db"),
        store_help="folder of the local PostgreSQL server: data, socket, log, passwords "
        "(default: %(default)s)",
    )


def add_server_arguments(
    parser: argparse.ArgumentParser, *, store_default: Path | None, store_help: str
) -> None:
    """The options that name the store's local server (``--store``, ``--store-port``) and the
    token file (publish, serve, bench, and the live loop, whose ``--store`` is off by default)."""
    parser.add_argument("--store", type=Path, default=store_default, help=store_help)
    parser.add_argument(
        "--store-port",
        type=positive_int,
        default=DEFAULT_PORT,
        help="port number of the server's Unix socket (default: %(default)s)",
    )
    parser.add_argument(
        "--tokens",
        type=Path,
        default=Path("build/demo_tokens.json"),
        help="file of the demo users' sign-in tokens, user id -> token, created readable by its "
        "owner only (default: %(default)s)",
    )


def open_store(args: argparse.Namespace) -> StoreAccess:
    """Start the store named by ``args`` (creating it if needed) and bring its schema up to date."""
    cluster = LocalCluster(args.store.resolve(), args.store_port)
    print(f"starting the serving store in {args.store} (port {args.store_port}) ...", flush=True)
    cluster.start()
    return bootstrap(cluster)


def read_warehouse(args: argparse.Namespace) -> dict[str, list[dict[str, Any]]]:
    """The rows the store keeps, read from the marts of ``args.warehouse``."""
    print(f"reading the marts of {args.warehouse} ...", flush=True)
    return marts.read_marts(args.warehouse, args.marts_schema)


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m chargerlogs.serving.publish``."""
    parser = OneLineErrorParser(
        prog="python -m chargerlogs.serving.publish",
        description=(
            "Publish the marts of the DuckDB warehouse into the PostgreSQL serving store of the "
            "per-session dashboard: session briefings, full charging profiles, big changes, "
            "chargers and demo users. Idempotent: a second run changes nothing. Starts the local "
            "server (and creates it) when it is not running."
        ),
    )
    add_store_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the publication from the command line; return the exit status."""
    args = build_parser().parse_args(argv)
    started = time.perf_counter()
    try:
        rows = read_warehouse(args)
        report = publish(rows, open_store(args).owner, args.tokens)
    except STORE_ERRORS as error:
        print(f"publish: error: {str(error).splitlines()[0]}", file=sys.stderr)
        return 1
    for line in report.lines():
        print(line)
    outcome = "changed" if report.changed else "no change"
    print(f"done in {time.perf_counter() - started:.1f} s ({outcome})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
