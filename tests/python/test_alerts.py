"""The anomaly alert sink on its own: the change rule, the file as memory, the webhook's retries.

Anomalies here are small dicts shaped like rows of ``fct_anomalies``; the webhook is a local HTTP
server in a thread that can be told to fail.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from chargerlogs.alerts import AlertError, AlertLog, Webhook, check_webhook_url

EMITTED_AT = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def anomaly(anomaly_id: str, **changes: Any) -> dict[str, Any]:
    """An open overheating, with ``changes`` applied."""
    row = {
        "anomaly_id": anomaly_id,
        "charger_id": 61775,
        "kind": "overheating",
        "severity": "warning",
        "started_at": "2021-03-08T12:40:16Z",
        "ended_at": "2021-03-08T12:40:46Z",
        "extreme_value": 71.0,
        "is_open": True,
    }
    return {**row, **changes}


def emit(log: AlertLog, anomalies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    due = log.changes(anomalies)
    log.append(due, EMITTED_AT)
    return due


def file_alerts(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_an_anomaly_is_emitted_when_new_and_again_only_when_it_changed(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    log = AlertLog(path)
    assert [a["alert"] for a in emit(log, [anomaly("a"), anomaly("b")])] == ["new", "new"]
    # unchanged, or changed only in its evidence: nothing
    assert emit(log, [anomaly("a"), anomaly("b", extreme_value=72.5)]) == []
    # extended, made critical, closed: each an update
    extended = anomaly("a", ended_at="2021-03-08T12:54:45Z")
    assert [(a["anomaly_id"], a["alert"]) for a in emit(log, [extended, anomaly("b")])] == [
        ("a", "updated")
    ]
    critical = anomaly("b", severity="critical")
    closed = {**extended, "is_open": False}
    assert [a["anomaly_id"] for a in emit(log, [closed, critical])] == ["a", "b"]
    assert emit(log, [closed, critical]) == []
    lines = file_alerts(path)
    assert [(a["anomaly_id"], a["alert"]) for a in lines] == [
        ("a", "new"),
        ("b", "new"),
        ("a", "updated"),
        ("a", "updated"),
        ("b", "updated"),
    ]
    assert lines[-2]["is_open"] is False and lines[-2]["ended_at"] == "2021-03-08T12:54:45Z"
    assert {a["emitted_at"] for a in lines} == {"2026-03-02T12:00:00.000Z"}


def test_the_file_is_the_memory_across_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    emit(AlertLog(path), [anomaly("a"), anomaly("b")])
    restarted = AlertLog(path)
    assert emit(restarted, [anomaly("a"), anomaly("b")]) == []
    assert [a["alert"] for a in emit(restarted, [anomaly("a", is_open=False)])] == ["updated"]
    assert len(file_alerts(path)) == 3


def test_a_line_cut_short_by_a_crash_is_removed_and_its_alert_emitted_again(
    tmp_path: Path,
) -> None:
    path = tmp_path / "alerts.jsonl"
    emit(AlertLog(path), [anomaly("a")])
    whole = path.read_text()
    path.write_text(whole + json.dumps(anomaly("b"))[:40])
    log = AlertLog(path)
    assert path.read_text() == whole
    assert [a["anomaly_id"] for a in emit(log, [anomaly("a"), anomaly("b")])] == ["b"]


def test_a_file_that_is_not_alerts_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    path.write_text('{"anomaly_id": "a"}\nnot json\n')
    with pytest.raises(AlertError, match=r"line 2 is not an alert") as raised:
        AlertLog(path)
    assert "\n" not in str(raised.value)


class Receiver(ThreadingHTTPServer):
    """A webhook on 127.0.0.1: answers 503 to its first ``failures`` POSTs, keeps the others."""

    def __init__(self, failures: int = 0) -> None:
        super().__init__(("127.0.0.1", 0), ReceiverHandler)
        self.failures = failures
        self.attempts = 0
        self.received: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/alerts"


class ReceiverHandler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:  # noqa: N802 (the handler's name is fixed by http.server)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with self.server.lock:
            self.server.attempts += 1
            failing = self.server.attempts <= self.server.failures
            if not failing:
                assert self.headers["Content-Type"] == "application/json"
                self.server.received.extend(json.loads(body)["alerts"])
        self.send_response(503 if failing else 200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver(failures=1)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_a_failing_webhook_keeps_its_alerts_and_gets_them_later_once(
    tmp_path: Path, receiver: Receiver
) -> None:
    path = tmp_path / "alerts.jsonl"
    log = AlertLog(path)
    hook = Webhook(receiver.url, path)
    emit(log, [anomaly("a"), anomaly("b")])
    failed = hook.deliver()
    assert (failed.sent, failed.pending) == (0, 2)
    assert failed.error and "503" in failed.error and "\n" not in failed.error
    emit(log, [anomaly("a", is_open=False), anomaly("b")])
    # sent again, with the alert emitted since, in the order of the file; then nothing is pending
    delivered = hook.deliver()
    assert (delivered.sent, delivered.pending, delivered.error) == (3, 0, None)
    assert receiver.received == file_alerts(path)
    assert Webhook(receiver.url, path).deliver().sent == 0  # the cursor is kept beside the file
    # a webhook down altogether: reported, never raised
    receiver.failures = 10**6
    emit(log, [anomaly("c")])
    unreachable = Webhook("http://127.0.0.1:9/", path)
    assert unreachable.deliver().pending == 0  # a new webhook starts with what comes next
    emit(log, [anomaly("d")])
    refused = unreachable.deliver()
    assert refused.pending == 1 and refused.error


def test_webhook_urls_are_checked() -> None:
    assert check_webhook_url("http://127.0.0.1:8000/x") == "http://127.0.0.1:8000/x"
    for bad in ("ftp://host/x", "127.0.0.1:8000", "http:///x", ""):
        with pytest.raises(ValueError, match="not an http"):
            check_webhook_url(bad)


@pytest.mark.parametrize(
    ("arguments", "reason"),
    [
        (["--alerts-webhook", "http://127.0.0.1:1/"], "--alerts-webhook needs --alerts-file"),
        (["--alerts-file", "a.jsonl", "--alerts-webhook", "localhost"], "not an http"),
        (["--alerts-file", "a.jsonl", "--full-every", "0"], "needs --full-every 1 or more"),
    ],
)
def test_the_loop_refuses_bad_sink_options_in_one_line(
    tmp_path: Path, arguments: list[str], reason: str
) -> None:
    command = [sys.executable, "-m", "chargerlogs.live_loop", "--data", str(tmp_path)]
    command += ["--lake", str(tmp_path / "lake"), "--warehouse", str(tmp_path / "w.duckdb")]
    command += ["--published", str(tmp_path / "p.duckdb"), *arguments]
    result = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, check=False)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and reason in result.stderr, result.stderr
