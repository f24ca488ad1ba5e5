"""``make serve``: start the serving store, publish the marts into it, and serve the dashboard.

Prints the dashboard's address and a demo user's sign-in token (the user of the session with the
most readings), then runs the app with uvicorn until interrupted. The store keeps running after
the app stops; ``--stop`` stops it.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import psycopg
import uvicorn

from chargerlogs.cli import OneLineErrorParser, positive_int
from chargerlogs.serving import marts, tokens
from chargerlogs.serving.app import STORE_SETTING
from chargerlogs.serving.cluster import DEFAULT_PORT, ClusterError, LocalCluster
from chargerlogs.serving.publish import publish
from chargerlogs.serving.store import bootstrap

DEMO_USER = """
    select user_id
    from portal.sessions
    order by reading_count desc, session_id
    limit 1
"""


def demo_user(owner_conninfo: str) -> int | None:
    """The user of the session with the most readings (None when the store has no session)."""
    with psycopg.connect(owner_conninfo) as con:
        row = con.execute(DEMO_USER).fetchone()
    return None if row is None else int(row[0])


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m chargerlogs.serving.serve``."""
    parser = OneLineErrorParser(
        prog="python -m chargerlogs.serving.serve",
        description=(
            "Start the PostgreSQL serving store (creating it if needed), publish the warehouse's "
            "marts into it, print the dashboard's address and a demo user's token, and serve the "
            "per-session dashboard on this machine until interrupted."
        ),
    )
    parser.add_argument(
        "--warehouse",
        type=Path,
        default=Path("build/charger_telemetry.duckdb"),
        help="DuckDB warehouse to publish from, read-only (default: %(default)s)",
    )
    parser.add_argument(
        "--store",
        type=Path,
        default=Path("build/portal_db"),
        help="folder of the local PostgreSQL server (default: %(default)s)",
    )
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
        help="file of the demo users' tokens (default: %(default)s)",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to serve on (default: %(default)s)"
    )
    parser.add_argument(
        "--port", type=positive_int, default=8000, help="HTTP port (default: %(default)s)"
    )
    parser.add_argument(
        "--workers",
        type=positive_int,
        default=1,
        help="uvicorn worker processes (default: %(default)s)",
    )
    parser.add_argument(
        "--no-publish",
        action="store_true",
        help="serve what the store holds without publishing the warehouse first",
    )
    parser.add_argument("--stop", action="store_true", help="stop the store's server and exit")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``make serve`` from the command line; return the exit status."""
    args = build_parser().parse_args(argv)
    cluster = LocalCluster(args.store.resolve(), args.store_port)
    try:
        if args.stop:
            cluster.stop()
            print(f"serving store stopped ({args.store})")
            return 0
        print(f"starting the serving store in {args.store} ...", flush=True)
        cluster.start()
        store = bootstrap(cluster)
        if not args.no_publish:
            print(f"publishing the marts of {args.warehouse} ...", flush=True)
            report = publish(marts.read_marts(args.warehouse), store.owner, args.tokens)
            for line in report.lines():
                print(f"  {line}")
        user_id = demo_user(store.owner)
    except (marts.MartError, ClusterError, psycopg.Error, OSError) as error:
        print(f"serve: error: {str(error).splitlines()[0]}", file=sys.stderr)
        return 1
    if user_id is None:
        print("serve: error: the store holds no session; publish the marts first", file=sys.stderr)
        return 1
    token = tokens.read_token_file(args.tokens).get(user_id)
    url = f"http://{args.host}:{args.port}/"
    print()
    print(f"Dashboard: {url}")
    print(f"Demo user {user_id}, token: {token or '(not in ' + str(args.tokens) + ')'}")
    print(f"All demo tokens: {args.tokens}")
    print(f"API: curl -H 'Authorization: Bearer {token}' {url}api/sessions")
    print("Stop with Ctrl-C; the store keeps running (make serve-stop stops it).")
    print(flush=True)
    os.environ[STORE_SETTING] = store.app
    uvicorn.run(
        "chargerlogs.serving.app:app_from_environment",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="warning",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
