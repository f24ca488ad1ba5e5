"""The live loop's sinks on a feed delivered while it runs: the serving store and the alerts.

A live run of the generator is delivered period by period into a landing folder; after each
delivery the test waits for the loop's progress lines that account for the delivered files, then
looks at what the sink holds. The store runs on a PostgreSQL server of its own, which the loop
starts (as ``make live STORE=1`` does); the webhook is a local HTTP server in a thread.
"""

from __future__ import annotations

import json
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from conftest import VENV_BIN
from psycopg.rows import dict_row
from test_alerts import Receiver

from chargerlogs.bench_live import periods

STORE_PORT = 54343
PROGRESS = re.compile(r"^batch (\d+): (\d+) files, ")
STORE_LATENCY = re.compile(r", store ([\d.]+) s, landed-to-store ([\d.]+) s")
ALERTS = re.compile(
    r", alerts (\d+) \((\d+) new, (\d+) updated\) [\d.]+ s, landed-to-alert ([\d.]+) s"
)
# Each batch visible in the store this soon after it landed, its anomalies alerted this soon.
STORE_LATENCY_LIMIT_S = 10.0
ALERT_LATENCY_LIMIT_S = 60.0


def generate_live(out: Path, *arguments: str) -> dict[int, list[tuple[str, Path]]]:
    """A live run of the generator written at once; its files by period."""
    generator = VENV_BIN / "chargerlogs-generate"
    command = [str(generator) if generator.exists() else "chargerlogs-generate"]
    command += ["--out", str(out), "--live", "--no-wait", "--quiet", *arguments]
    subprocess.run(command, check=True)
    return periods(out)


@dataclass
class SteppedLoop:
    """The live loop in a subprocess, fed one period at a time."""

    work: Path
    options: list[str]
    process: subprocess.Popen[str] = field(init=False)
    lines: queue.Queue[str | None] = field(init=False, default_factory=queue.Queue)
    output: list[str] = field(init=False, default_factory=list)
    delivered_files: int = field(init=False, default=0)
    landed_files: int = field(init=False, default=0)

    @property
    def landing(self) -> Path:
        return self.work / "landing"

    def __post_init__(self) -> None:
        command = [sys.executable, "-m", "chargerlogs.live_loop", "--data", str(self.landing)]
        command += ["--lake", str(self.work / "lake")]
        command += ["--warehouse", str(self.work / "warehouse.duckdb")]
        command += ["--published", str(self.work / "published" / "warehouse.duckdb")]
        command += ["--dbt-dir", str(self.work / "dbt"), "--seconds", "600", "--until-idle", "4"]
        self.stderr = (self.work / "loop.stderr").open("w")
        self.process = subprocess.Popen(
            [*command, *self.options], stdout=subprocess.PIPE, stderr=self.stderr, text=True
        )
        threading.Thread(target=self._read, daemon=True).start()
        self.next_line(lambda line: "watching" in line, timeout_s=120)

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def next_line(self, wanted: Any, timeout_s: float = 120) -> str:
        while True:
            line = self.lines.get(timeout=timeout_s)
            if line is None:
                pytest.fail(f"the loop ended early:\n{self.tail()}", pytrace=False)
            self.output.append(line)
            if wanted(line):
                return line

    def deliver(self, files: list[tuple[str, Path]]) -> tuple[list[str], float]:
        """Copy one period's files in; its progress lines and the seconds from the copy to the
        last of them."""
        for stream, path in files:
            (self.landing / stream).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, self.landing / stream / path.name)
        delivered = time.time()
        self.delivered_files += len(files)
        batches = []
        while self.landed_files < self.delivered_files:
            line = self.next_line(PROGRESS.match)
            match = PROGRESS.match(line)
            assert match
            self.landed_files += int(match.group(2))
            batches.append(line)
        return batches, time.time() - delivered

    def finish(self) -> list[str]:
        """Wait for the loop to stop (it is idle); the lines it printed."""
        assert self.process.wait(timeout=120) == 0, self.tail()
        while (line := self.lines.get(timeout=30)) is not None:
            self.output.append(line)
        self.stderr.close()
        return self.output

    def tail(self) -> str:
        stderr = (self.work / "loop.stderr").read_text()
        return "\n".join(self.output[-20:]) + "\n" + stderr[-3000:]


@pytest.fixture
def store_root() -> Iterator[Path]:
    """A folder for a PostgreSQL server (directly under /tmp: pytest's folders are closed to the
    postgres user); the server the loop starts there is stopped at the end."""
    from chargerlogs.serving.cluster import ClusterError, LocalCluster, server_bindir

    try:
        server_bindir()
    except ClusterError as error:
        pytest.fail(str(error), pytrace=False)
    root = Path(tempfile.mkdtemp(prefix="live_store_"))
    root.chmod(0o755)
    try:
        yield root
    finally:
        LocalCluster(root / "db", STORE_PORT).stop()
        shutil.rmtree(root, ignore_errors=True)


def store_sessions(root: Path) -> dict[int, dict[str, Any]]:
    """Every session of the store, with the number of points of its profile."""
    from chargerlogs.serving.cluster import LocalCluster
    from chargerlogs.serving.store import access

    owner = access(LocalCluster(root / "db", STORE_PORT)).owner
    with psycopg.connect(owner, row_factory=dict_row) as con:
        rows = con.execute(
            "select sessions.session_id, sessions.charger_id, sessions.user_id,"
            " sessions.is_in_progress, sessions.corrected_started_at, sessions.corrected_ended_at,"
            " sessions.reading_count, sessions.measured_energy_wh,"
            " json_array_length(profiles.profile -> 'reading_seq') as profile_points"
            " from portal.sessions inner join portal.session_profiles as profiles"
            " on sessions.session_id = profiles.session_id"
        ).fetchall()
    return {row["session_id"]: row for row in rows}


def test_the_store_shows_a_session_in_progress_grow_then_end(
    tmp_path: Path, store_root: Path
) -> None:
    # a home charger (19847) whose morning session ends in the window and whose evening charge
    # (18:39 to about 20:25) is in progress from the fourth period until its event at 06:30
    by_period = generate_live(
        tmp_path / "generated",
        *("--seed", "5", "--chargers", "8", "--start", "2026-03-02T07:00:00"),
        *("--duration-minutes", "1440", "--batch-seconds", "10800"),
    )
    loop = SteppedLoop(
        tmp_path,
        ["--full-every", "0", "--store", str(store_root / "db"), "--store-port", str(STORE_PORT)]
        + ["--tokens", str(store_root / "tokens.json")],
    )
    snapshots = []
    latencies = []
    for number in sorted(by_period):
        batches, seen_after_s = loop.deliver(by_period[number])
        store_latency = [
            float(match.group(2)) for match in map(STORE_LATENCY.search, batches) if match
        ]
        assert len(store_latency) == len(batches), batches
        latencies.append((number, max(store_latency), seen_after_s))
        snapshots.append(store_sessions(store_root))
    output = loop.finish()
    print("\nperiod, landed-to-store s (the loop), delivered-to-progress-line s (this test):")
    for number, landed_to_store, seen_after_s in latencies:
        print(f"  {number}: {landed_to_store:.2f}, {seen_after_s:.2f}")
    assert all(
        landed_to_store <= STORE_LATENCY_LIMIT_S and seen_after_s <= STORE_LATENCY_LIMIT_S
        for _, landed_to_store, seen_after_s in latencies
    ), latencies
    assert any("landed-to-store latency: p50" in line for line in output)

    in_progress = {
        session_id: row
        for snapshot in snapshots
        for session_id, row in snapshot.items()
        if row["is_in_progress"]
    }
    assert in_progress, "a charge without its session event is in the store"
    # shown only to the charger's sole user: every finished session of its charger is that user's
    final = snapshots[-1]
    for row in in_progress.values():
        users = {s["user_id"] for s in final.values() if s["charger_id"] == row["charger_id"]}
        assert users == {row["user_id"]}, row
    # it grows from one batch to the next: more profile points, more energy
    grew = [
        session_id
        for before, after in zip(snapshots, snapshots[1:], strict=False)
        for session_id, row in after.items()
        if row["is_in_progress"]
        and session_id in before
        and row["profile_points"] > before[session_id]["profile_points"]
        and row["reading_count"] == row["profile_points"]
        and row["measured_energy_wh"] > before[session_id]["measured_energy_wh"]
    ]
    assert grew, "a session in progress grows"
    # once its event arrived it is no longer in progress: the finished session took its place
    ended = 0
    for before, after in zip(snapshots, snapshots[1:], strict=False):
        for session_id, row in before.items():
            if not row["is_in_progress"] or session_id in after:
                continue
            on_charger = [s for s in after.values() if s["charger_id"] == row["charger_id"]]
            assert not any(s["is_in_progress"] for s in on_charger), row
            finished = [
                s
                for s in on_charger
                if s["corrected_started_at"] <= row["corrected_started_at"]
                and s["corrected_ended_at"] >= row["corrected_ended_at"]
            ]
            assert len(finished) == 1, (row, on_charger)
            assert finished[0]["user_id"] == row["user_id"]
            assert finished[0]["measured_energy_wh"] >= row["measured_energy_wh"] - 1e-6
            ended += 1
    assert ended >= 1, "a session in progress ends within the window"


def alert_key(alert: dict[str, Any]) -> tuple[Any, ...]:
    return (alert["anomaly_id"], alert["ended_at"], alert["severity"], alert["is_open"])


def test_alerts_reach_the_file_and_the_webhook_once_across_batches_and_a_restart(
    tmp_path: Path,
) -> None:
    # the default fleet on 2021-03-08, 11:00 to 14:00 in 15-minute periods: sessions whose energy
    # disagrees with their telemetry, and an overheating on charger 61775 from 12:40 to 13:02
    by_period = generate_live(
        tmp_path / "generated",
        *("--seed", "42", "--start", "2021-03-08T11:00:00"),
        *("--duration-minutes", "180", "--batch-seconds", "900"),
    )
    alerts_file = tmp_path / "alerts.jsonl"
    receiver = Receiver(failures=1)
    server = threading.Thread(target=receiver.serve_forever, daemon=True)
    server.start()
    options = ["--full-every", "1", "--alerts-file", str(alerts_file)]
    options += ["--alerts-webhook", receiver.url]
    numbers = sorted(by_period)
    # the overheating starts in period 7: the loop is restarted after it, with its state on disk
    halves = [numbers[:7], numbers[7:]]
    progress: list[str] = []
    try:
        for half in halves:
            loop = SteppedLoop(tmp_path, options)
            for number in half:
                loop.deliver(by_period[number])
            progress += loop.finish()
    finally:
        receiver.shutdown()
        receiver.server_close()

    alerts = [json.loads(line) for line in alerts_file.read_text().splitlines()]
    assert alerts, "anomalies were found"
    # no alert twice across batches and the restart; the first of each anomaly is new, then updates
    assert len({alert_key(alert) for alert in alerts}) == len(alerts)
    first_seen: set[str] = set()
    for alert in alerts:
        assert alert["alert"] == ("updated" if alert["anomaly_id"] in first_seen else "new")
        first_seen.add(alert["anomaly_id"])
        assert alert["emitted_at"].endswith("Z") and alert["detector_version"]
    # the overheating spans periods: emitted open, then updated once a later batch closed it
    overheating = [a for a in alerts if a["kind"] == "overheating" and a["charger_id"] == 61775]
    assert overheating[0]["alert"] == "new" and overheating[0]["is_open"] is True
    assert any(a["alert"] == "updated" and a["is_open"] is False for a in overheating[1:])
    assert len({a["anomaly_id"] for a in overheating}) == 1
    # the webhook failed once, was told so in one line, and got every alert once, in order
    assert receiver.attempts > 1
    failures = [line for line in progress if "webhook" in line and "failed" in line]
    assert len(failures) == 1 and "pending, sent again after the next batch" in failures[0]
    assert receiver.received == alerts
    # detection latency: from the landing of the batch to its alerts being written
    emitted = [ALERTS.search(line) for line in progress if PROGRESS.match(line)]
    assert all(emitted), "every batch of a --full-every 1 run checks the anomalies"
    latencies = [float(match.group(4)) for match in emitted if match and int(match.group(1))]
    print(f"\nlanded-to-alert s of the batches with alerts: {latencies}")
    assert latencies and max(latencies) <= ALERT_LATENCY_LIMIT_S
    assert sum(int(match.group(1)) for match in emitted if match) == len(alerts)
