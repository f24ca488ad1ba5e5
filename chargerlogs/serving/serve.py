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

import uvicorn

from chargerlogs.cli import OneLineErrorParser, positive_int
from chargerlogs.serving import tokens
from chargerlogs.serving.app import STORE_SETTING
from chargerlogs.serving.cluster import LocalCluster
from chargerlogs.serving.publish import (
    STORE_ERRORS,
    add_store_arguments,
    open_store,
    publish,
    read_warehouse,
)
from chargerlogs.serving.store import largest_session


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
    add_store_arguments(parser)
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
    try:
        if args.stop:
            if LocalCluster(args.store.resolve(), args.store_port).stop():
                print(f"serving store stopped ({args.store})")
            else:
                print(f"no serving store running ({args.store})")
            return 0
        rows = None if args.no_publish else read_warehouse(args)
        store = open_store(args)
        if rows is not None:
            for line in publish(rows, store.owner, args.tokens).lines():
                print(f"  {line}")
        demo = largest_session(store.owner)
    except STORE_ERRORS as error:
        print(f"serve: error: {str(error).splitlines()[0]}", file=sys.stderr)
        return 1
    if demo is None:
        hint = (
            "the live loop publishes a session when its event arrives (at the car's unplug): "
            "let make live STORE=1 run longer, or raise LIVE_SPEED"
            if rows is None
            else "the warehouse has no session with a user"
        )
        print(f"serve: error: the store holds no session yet; {hint}", file=sys.stderr)
        return 1
    _, user_id, _ = demo
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
