"""The serving store in a running PostgreSQL server: its roles, database, schema and grants.

Two roles: ``portal_owner`` owns the schema and is the publisher's login (the owner of a table is
not subject to its row-level security); ``portal_app`` is the app's login, owns nothing, may only
read the dashboard's tables and call the sign-in function, so every policy applies to it.

The schema ``portal`` carries the sha256 of the ``schema.sql`` that made it as its comment. A store
made by another version of that file is dropped and made again: everything in it is published from
the marts, and the demo users come back with their tokens from the token file.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources

import psycopg
from psycopg import sql

from chargerlogs.serving.cluster import DATABASE, SERVER_USER, LocalCluster

OWNER_ROLE = "portal_owner"
APP_ROLE = "portal_app"
APP_TABLES = ("sessions", "session_profiles", "big_changes", "session_anomalies", "chargers")


@dataclass(frozen=True)
class StoreAccess:
    """Connection strings of the serving store for the publisher (owner) and for the app."""

    owner: str
    app: str


def access(cluster: LocalCluster) -> StoreAccess:
    """Connection strings for the owner and the app role of ``cluster``'s serving store."""
    credentials = cluster.credentials()
    return StoreAccess(
        owner=cluster.conninfo(OWNER_ROLE, credentials.owner),
        app=cluster.conninfo(APP_ROLE, credentials.app),
    )


def _ensure_role(cur: psycopg.Cursor, role: str, password: str) -> None:
    cur.execute("select 1 from pg_roles where rolname = %s", [role])
    verb = "alter" if cur.fetchone() else "create"
    cur.execute(
        sql.SQL(
            "{} role {} login nosuperuser nocreatedb nocreaterole noinherit nobypassrls password {}"
        ).format(sql.SQL(verb), sql.Identifier(role), sql.Literal(password))
    )


def bootstrap(cluster: LocalCluster) -> StoreAccess:
    """Create (or bring up to date) the roles, database, schema and grants. Idempotent; a schema
    made by another version of ``schema.sql`` is dropped and made again, empty."""
    credentials = cluster.credentials()
    admin = cluster.conninfo(SERVER_USER, credentials.superuser, dbname="postgres")
    with psycopg.connect(admin, autocommit=True) as con, con.cursor() as cur:
        _ensure_role(cur, OWNER_ROLE, credentials.owner)
        _ensure_role(cur, APP_ROLE, credentials.app)
        cur.execute("select 1 from pg_database where datname = %s", [DATABASE])
        if cur.fetchone() is None:
            cur.execute(
                sql.SQL("create database {} owner {}").format(
                    sql.Identifier(DATABASE), sql.Identifier(OWNER_ROLE)
                )
            )
    with psycopg.connect(
        cluster.conninfo(SERVER_USER, credentials.superuser), autocommit=True
    ) as con:
        # nobody but the owner creates objects in the public schema
        con.execute("revoke create on schema public from public")
        con.execute(
            sql.SQL("revoke all on database {} from public").format(sql.Identifier(DATABASE))
        )
        con.execute(
            sql.SQL("grant connect on database {} to {}, {}").format(
                sql.Identifier(DATABASE), sql.Identifier(OWNER_ROLE), sql.Identifier(APP_ROLE)
            )
        )
    store = access(cluster)
    schema_sql = resources.files("chargerlogs.serving").joinpath("schema.sql").read_text()
    schema_sha256 = hashlib.sha256(schema_sql.encode()).hexdigest()
    with psycopg.connect(store.owner) as con:
        applied = con.execute(
            "select obj_description(oid, 'pg_namespace') from pg_namespace where nspname = 'portal'"
        ).fetchone()
        if applied is not None and applied[0] != schema_sha256:
            con.execute("drop schema portal cascade")
        con.execute(schema_sql)
        con.execute(sql.SQL("comment on schema portal is {}").format(sql.Literal(schema_sha256)))
        app = sql.Identifier(APP_ROLE)
        con.execute(sql.SQL("grant usage on schema portal to {}").format(app))
        con.execute(
            sql.SQL("grant select on {} to {}").format(
                sql.SQL(", ").join(sql.Identifier("portal", table) for table in APP_TABLES), app
            )
        )
        con.execute(
            sql.SQL("grant execute on function portal.authenticate(text) to {}").format(app)
        )
        con.execute(
            sql.SQL("grant execute on function portal.requesting_user_id() to {}").format(app)
        )
    return store


def largest_session(owner_conninfo: str) -> tuple[int, int, int] | None:
    """Session id, user id and reading count of the session with the most readings (the demo's
    and the benchmark's session); None when the store holds no session."""
    with psycopg.connect(owner_conninfo) as con:
        row = con.execute(
            "select session_id, user_id, reading_count from portal.sessions "
            "order by reading_count desc, session_id limit 1"
        ).fetchone()
    return None if row is None else (int(row[0]), int(row[1]), int(row[2]))
