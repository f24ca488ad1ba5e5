"""Anomaly alerts: each new or changed anomaly, emitted once, to a JSON Lines file and a webhook.

The live loop (``python -m chargerlogs.live_loop --alerts-file FILE [--alerts-webhook URL]``) reads
``fct_anomalies`` from the serving copy after each run that built the anomaly models and emits an
alert for every anomaly that is new (an ``anomaly_id`` never emitted) or changed (its ``ended_at``,
``severity`` or ``is_open`` differs from the last alert emitted for it: an open anomaly that a later
batch extended, made critical or closed). An unchanged anomaly is never emitted twice.

The alerts file is JSON Lines, appended: one object per alert with every column of the anomaly
(times in ISO-8601 UTC), ``alert`` (``new`` or ``updated``) and ``emitted_at``. It is also the
state: on start the last alert of each anomaly is read back from it, so a restarted loop goes on
where it stopped. A last line cut short by a crash is removed on start (its alert is emitted again).

The webhook gets each alert as it is in the file, in HTTP POSTs of JSON ``{"alerts": [...]}`` (at
most ``WEBHOOK_CHUNK`` alerts each). How far it has been delivered is kept beside the file, in
``<file>.webhook.json`` (the webhook's URL and a byte offset into the file): a failed POST leaves
the alerts pending, to be sent again after the next batch, in order; the loop goes on. A webhook
given for the first time to an existing alerts file starts with the alerts emitted from then on.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb

ANOMALIES = "fct_anomalies"
# An anomaly is changed when one of these differs from its last alert.
CHANGE_FIELDS = ("ended_at", "severity", "is_open")
WEBHOOK_CHUNK = 100
WEBHOOK_TIMEOUT_S = 5.0


class AlertError(Exception):
    """The anomalies or the alerts file cannot be read; the message is one line."""


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat() + "Z"
    if isinstance(value, date):
        return value.isoformat()
    return value


def read_anomalies(published: Path, schema: str = "marts") -> list[dict[str, Any]]:
    """Every row of ``fct_anomalies`` in the serving copy, as JSON-ready dicts, by anomaly id."""
    try:
        con = duckdb.connect(str(published), read_only=True)
    except duckdb.Error as error:
        raise AlertError(f"cannot open {published}: {str(error).splitlines()[0]}") from None
    try:
        cursor = con.execute(f'select * from "{schema}"."{ANOMALIES}" order by anomaly_id')
        names = [column[0] for column in cursor.description]
        return [
            {name: _json_value(value) for name, value in zip(names, row, strict=True)}
            for row in cursor.fetchall()
        ]
    except duckdb.CatalogException:
        raise AlertError(f"{published} has no {schema}.{ANOMALIES}: no anomaly build yet") from None
    finally:
        con.close()


def _state(alert: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(alert.get(name) for name in CHANGE_FIELDS)


class AlertLog:
    """The alerts file: what was emitted for each anomaly, and the appending of new alerts."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.last: dict[str, tuple[Any, ...]] = {}
        self._load()

    def _load(self) -> None:
        if not self.path.exists():
            return
        raw = self.path.read_bytes()
        complete = raw[: raw.rfind(b"\n") + 1]
        if len(complete) != len(raw):
            # a line cut short by a crash: its alert was not fully emitted, so it is emitted again
            with self.path.open("r+b") as handle:
                handle.truncate(len(complete))
        for number, line in enumerate(complete.decode("utf-8").splitlines(), start=1):
            try:
                alert = json.loads(line)
                self.last[alert["anomaly_id"]] = _state(alert)
            except (ValueError, KeyError, TypeError):
                raise AlertError(
                    f"{self.path} line {number} is not an alert; move the file away to start anew"
                ) from None

    def changes(self, anomalies: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        """The alerts due: each anomaly that is new or changed since its last alert."""
        due = []
        for anomaly in anomalies:
            known = self.last.get(anomaly["anomaly_id"])
            if known is None:
                due.append({"alert": "new", **anomaly})
            elif known != _state(anomaly):
                due.append({"alert": "updated", **anomaly})
        return due

    def append(self, alerts: list[dict[str, Any]], emitted_at: datetime) -> None:
        """Append ``alerts`` to the file, stamped ``emitted_at``, flushed to disk."""
        if not alerts:
            return
        stamp = emitted_at.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds")
        text = "".join(
            json.dumps({**alert, "emitted_at": stamp + "Z"}, separators=(",", ":")) + "\n"
            for alert in alerts
        )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("ab") as handle:
            handle.write(text.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        for alert in alerts:
            self.last[alert["anomaly_id"]] = _state(alert)


def _first_line(reason: object) -> str:
    lines = str(reason).splitlines()
    return lines[0] if lines and lines[0] else type(reason).__name__


def check_webhook_url(url: str) -> str:
    """``url`` when it is an http or https URL with a host; else ValueError with the reason."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL with a host: {url!r}")
    return url


@dataclass(frozen=True)
class Delivery:
    """What one delivery to the webhook did: alerts sent, alerts still pending, the failure."""

    sent: int
    pending: int
    error: str | None = None


class Webhook:
    """POSTs the alerts of the file that it has not delivered yet, remembering how far it got."""

    def __init__(self, url: str, alerts_file: Path, timeout_s: float = WEBHOOK_TIMEOUT_S) -> None:
        self.url = check_webhook_url(url)
        self.alerts_file = alerts_file
        self.cursor_file = alerts_file.with_name(alerts_file.name + ".webhook.json")
        self.timeout_s = timeout_s
        self.offset = self._read_cursor()

    def _file_size(self) -> int:
        return self.alerts_file.stat().st_size if self.alerts_file.exists() else 0

    def _read_cursor(self) -> int:
        try:
            cursor = json.loads(self.cursor_file.read_text())
            if cursor["url"] == self.url:
                return min(int(cursor["offset"]), self._file_size())
        except FileNotFoundError:
            pass
        except (ValueError, KeyError, TypeError):
            raise AlertError(f"{self.cursor_file} is not a webhook cursor; remove it") from None
        # a new webhook: it gets the alerts emitted from now on
        return self._file_size()

    def _write_cursor(self) -> None:
        temporary = self.cursor_file.with_name(self.cursor_file.name + ".tmp")
        temporary.write_text(json.dumps({"url": self.url, "offset": self.offset}) + "\n")
        os.replace(temporary, self.cursor_file)

    def _pending(self) -> list[bytes]:
        if not self.alerts_file.exists():
            return []
        with self.alerts_file.open("rb") as handle:
            handle.seek(self.offset)
            return handle.read().splitlines(keepends=True)

    def _post(self, lines: list[bytes]) -> None:
        body = b'{"alerts":[' + b",".join(line.rstrip(b"\n") for line in lines) + b"]}"
        request = urllib.request.Request(
            self.url, data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
            response.read()

    def deliver(self) -> Delivery:
        """Send every pending alert, in order; stop at the first failure (sent again next time)."""
        pending = self._pending()
        sent = 0
        while sent < len(pending):
            chunk = pending[sent : sent + WEBHOOK_CHUNK]
            try:
                self._post(chunk)
            except (urllib.error.URLError, OSError, ValueError) as error:
                if isinstance(error, urllib.error.HTTPError):
                    reason: object = error
                else:
                    reason = getattr(error, "reason", None) or error
                return Delivery(sent, len(pending) - sent, _first_line(reason))
            sent += len(chunk)
            self.offset += sum(len(line) for line in chunk)
            self._write_cursor()
        return Delivery(sent, 0)
