"""``make bench-serve``: latency of the session page API under concurrent clients.

Starts the serving store and publishes the warehouse into it (idempotent), starts the app with
uvicorn in its own process on a free localhost port, then runs N clients for a fixed time, each
asking for the session page of the session with the most readings (its owner's token), one request
after another on a kept-alive connection. Prints the number of requests, throughput and latency
percentiles. Every response must be 200 with the same body size; any other counts as an error.
Only this machine is ever contacted, and the run stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from chargerlogs.cli import OneLineErrorParser, non_negative_int, positive_int
from chargerlogs.serving import tokens
from chargerlogs.serving.app import STORE_SETTING
from chargerlogs.serving.publish import (
    STORE_ERRORS,
    add_store_arguments,
    open_store,
    publish,
    read_warehouse,
)
from chargerlogs.serving.store import largest_session


@dataclass(frozen=True)
class LoadResult:
    """Latencies (seconds) of the successful requests, the error count and the wall time."""

    latencies: list[float]
    errors: int
    elapsed_s: float
    body_bytes: int

    def percentile(self, share: float) -> float:
        """The latency below which ``share`` of the requests fall (nearest rank), in seconds."""
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        rank = max(1, round(share * len(ordered)))
        return ordered[min(rank, len(ordered)) - 1]

    def lines(self) -> list[str]:
        """The figures, one per line."""
        count = len(self.latencies)
        return [
            f"requests: {count} ok, {self.errors} errors, in {self.elapsed_s:.1f} s "
            f"({count / self.elapsed_s:.1f} requests/s)",
            f"response body: {self.body_bytes:,} bytes",
            f"latency ms: p50 {self.percentile(0.50) * 1000:.1f}, "
            f"p95 {self.percentile(0.95) * 1000:.1f}, p99 {self.percentile(0.99) * 1000:.1f}, "
            f"mean {statistics.fmean(self.latencies) * 1000 if count else float('nan'):.1f}, "
            f"max {max(self.latencies, default=float('nan')) * 1000:.1f}",
        ]


class HttpError(Exception):
    """A response that is not a 200 with a Content-Length, or a broken connection."""


async def _get(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> bytes:
    """One GET on a kept-alive HTTP/1.1 connection; returns the body of a 200 response."""
    writer.write(request)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = head.split(b" ", 2)[1]
    length = None
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    if length is None:
        raise HttpError("response without Content-Length")
    body = await reader.readexactly(length)
    if status != b"200":
        raise HttpError(f"status {status.decode()}")
    return body


async def _client(
    port: int, path: str, token: str, deadline: float, latencies: list[float], sizes: set[int]
) -> int:
    """One client: requests one after another on one connection until the deadline; errors."""
    # A minimal HTTP/1.1 client: a general-purpose one spends more CPU per response than the
    # app does, on the same two cores, and the figures would measure the client.
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {token}\r\nAccept: application/json\r\n\r\n"
    ).encode()
    errors = 0
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                body = await _get(reader, writer, request)
            except (HttpError, OSError, asyncio.IncompleteReadError):
                errors += 1
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                continue
            latencies.append(time.perf_counter() - started)
            sizes.add(len(body))
    finally:
        writer.close()
    return errors


async def run_load(port: int, path: str, token: str, clients: int, duration_s: float) -> LoadResult:
    """``clients`` concurrent clients asking for ``path`` until ``duration_s`` has passed."""
    latencies: list[float] = []
    sizes: set[int] = set()
    started = time.perf_counter()
    deadline = started + duration_s
    errors = await asyncio.gather(
        *(_client(port, path, token, deadline, latencies, sizes) for _ in range(clients))
    )
    elapsed = time.perf_counter() - started
    error_count = sum(errors) + max(0, len(sizes) - 1)
    return LoadResult(latencies, error_count, elapsed, max(sizes, default=0))


def free_port() -> int:
    """A TCP port on localhost that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_app(app_conninfo: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    """The app under uvicorn in its own process on ``127.0.0.1:port``, once it answers."""
    env = {**os.environ, STORE_SETTING: app_conninfo}
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "chargerlogs.serving.app:app_from_environment",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    process = subprocess.Popen(command, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the app exited with status {process.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.terminate()
    raise RuntimeError("the app did not answer within 30 s")


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m chargerlogs.serving.bench``."""
    parser = OneLineErrorParser(
        prog="python -m chargerlogs.serving.bench",
        description=(
            "Measure the session page API (GET /api/sessions/{id}) of the per-session dashboard: "
            "concurrent clients on localhost for a fixed time, on the session with the most "
            "readings; prints requests/s and latency percentiles. Publishes the warehouse first "
            "(idempotent)."
        ),
    )
    add_store_arguments(parser)
    parser.add_argument(
        "--clients", type=positive_int, default=20, help="concurrent clients (default: %(default)s)"
    )
    parser.add_argument(
        "--duration",
        type=positive_int,
        default=30,
        help="seconds of measured load (default: %(default)s)",
    )
    parser.add_argument(
        "--warmup",
        type=non_negative_int,
        default=3,
        help="seconds of load before measuring, not counted (default: %(default)s)",
    )
    parser.add_argument(
        "--workers",
        type=positive_int,
        default=1,
        help="uvicorn worker processes of the app (default: %(default)s)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark from the command line; return the exit status."""
    args = build_parser().parse_args(argv)
    try:
        rows = read_warehouse(args)
        store = open_store(args)
        publish(rows, store.owner, args.tokens)
        largest = largest_session(store.owner)
    except STORE_ERRORS as error:
        print(f"bench: error: {str(error).splitlines()[0]}", file=sys.stderr)
        return 1
    if largest is None:
        print("bench: error: the store holds no session", file=sys.stderr)
        return 1
    session_id, user_id, reading_count = largest
    token = tokens.read_token_file(args.tokens)[user_id]
    port = free_port()
    app = start_app(store.app, port, args.workers)
    path = f"/api/sessions/{session_id}"
    try:
        print(
            f"session {session_id} ({reading_count} readings), {args.clients} clients, "
            f"{args.duration} s after {args.warmup} s of warm-up, "
            f"{args.workers} uvicorn worker(s), {os.cpu_count()} cores",
            flush=True,
        )
        if args.warmup > 0:
            asyncio.run(run_load(port, path, token, args.clients, args.warmup))
        result = asyncio.run(run_load(port, path, token, args.clients, args.duration))
    finally:
        app.terminate()
        app.wait(timeout=30)
    for line in result.lines():
        print(line)
    return 0 if result.errors == 0 and result.latencies else 1


if __name__ == "__main__":
    sys.exit(main())
