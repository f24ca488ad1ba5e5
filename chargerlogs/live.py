"""``chargerlogs-generate --live``: write the data folder batch period by batch period.

The run simulates the fleet over whole days, exactly as the batch run of the same options does,
keeps the lines that arrive in the live window, and writes them period by period: for each
period one status file per layout and one session file, each written under a hidden temporary
name and renamed, then the manifest. The wall clock paces the periods (``--speed``), unless
``--no-wait``.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path
from types import FrameType

from chargerlogs.anomalies import Anomaly
from chargerlogs.clock import ClockPeriod
from chargerlogs.ground_truth import (
    anomaly_counts,
    clock_summary,
    write_anomalies,
    write_clock_periods,
)
from chargerlogs.live_manifest import FileFacts, LiveManifest
from chargerlogs.live_options import LiveSettings, iso_utc
from chargerlogs.live_rows import SessionWindow, StatusWindow, WindowChunk, WindowTask, window_chunk
from chargerlogs.options import PROG, Options
from chargerlogs.physics import DAY
from chargerlogs.plan import SESSION_DIR, STATUS_DIR, in_chunk_order, plan_run, prepare_folder
from chargerlogs.sessions import session_lines, session_rng
from chargerlogs.writer import encode_lines, replace_atomically

MANIFEST_INTERVAL_S = 1.0  # the manifest is rewritten at most once per wall second
PROGRESS_INTERVAL_S = 1.0  # simulation progress, at most one line per wall second

Say = Callable[[str], None]


class LiveStopped(Exception):
    """A live run stopped by a signal; the message is the one-line report."""

    def __init__(self, message: str, signal_number: int):
        super().__init__(message)
        self.signal = signal_number


class _Signal(Exception):
    def __init__(self, number: int):
        super().__init__(number)
        self.number = number


def run_live(options: Options, live: LiveSettings, say: Say) -> None:
    """Write the live window of validated options into ``options.out``, batch by batch.

    Raises ``FolderRefused`` (nothing touched) or, on SIGINT or SIGTERM, ``LiveStopped`` after
    the manifest records the batches written (every file written is complete).
    """
    began = time.perf_counter()
    manifest: LiveManifest | None = None
    stopped_by = 0
    with _signals_raise():
        try:
            status_dir, _, generator_dir = prepare_folder(options.out, options.force)
            status, sessions, manifest = _prepare(options, live, status_dir, generator_dir, say)
            simulated = time.perf_counter() - began
            _write_batches(options, live, (status, sessions), manifest, say)
        except _Signal as caught:
            stopped_by = caught.number
    if stopped_by:
        written = 0
        if manifest is not None:
            manifest.state = "stopped"
            manifest.write()
            written = manifest.written
        raise LiveStopped(
            f"stopped by {signal.Signals(stopped_by).name} after {written:,} of "
            f"{live.batches:,} batches; every file written is complete",
            stopped_by,
        )
    assert manifest is not None
    seconds = time.perf_counter() - began
    rate = manifest.written / max(seconds - simulated, 1e-9)
    say(
        f"{PROG}: wrote {manifest.written:,} batches ({manifest.status['lines']:,} status "
        f"lines, {sum(manifest.session.values()):,} session lines) to {options.out} in "
        f"{seconds:.1f} s: {simulated:.1f} s of simulation, then {rate:,.1f} batches/s"
    )


@contextmanager
def _signals_raise() -> Iterator[None]:
    """Turn SIGINT and SIGTERM into an exception while the run lasts."""

    def handler(number: int, frame: FrameType | None) -> None:
        raise _Signal(number)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, action in previous.items():
            signal.signal(number, action)


def _prepare(
    options: Options, live: LiveSettings, status_dir: Path, generator_dir: Path, say: Say
) -> tuple[StatusWindow, SessionWindow, LiveManifest]:
    """Simulate the fleet, keep the window's lines, write the ground truth and a first manifest."""
    plan = plan_run(options, status_dir)
    say(
        f"{PROG}: simulating {len(plan.fleet):,} chargers over {options.days} days from "
        f"{options.start} for a live window of {live.batches:,} batches of "
        f"{live.batch_seconds} s from {iso_utc(live.start_s)}"
    )
    tasks = [WindowTask(task, live.start_s * 1000, live.end_s * 1000) for task in plan.tasks]
    chunks: list[WindowChunk] = []
    lines = 0
    shown = time.perf_counter()
    for chunk in in_chunk_order(window_chunk, tasks, options.workers):
        chunks.append(chunk)
        lines += len(chunk.rows["server_ms"])
        if time.perf_counter() - shown >= PROGRESS_INTERVAL_S or len(chunks) == len(tasks):
            shown = time.perf_counter()
            say(
                f"{PROG}: simulated {len(chunks):,}/{len(tasks):,} chunks of chargers, "
                f"{lines:,} status lines in the window"
            )
    status = StatusWindow(chunks, live.start_s * 1000, live.batch_seconds * 1000, live.batches)
    records = [s for c in chunks for s in c.sessions]
    stream = session_lines(records, options, session_rng(options))
    sessions = SessionWindow(stream, live.start_s, live.batch_seconds, live.batches)
    anomalies = _anomalies_in(live, [a for c in chunks for a in c.anomalies])
    write_anomalies(generator_dir / "anomalies.csv", anomalies, stream.ids)
    periods = _periods_in(live, [p for c in chunks for p in c.clock_periods])
    write_clock_periods(generator_dir / "clock_periods.csv", periods)
    in_window = [r for r in records if live.start_s <= r.end < live.end_s]
    header: dict[str, object] = {
        "generator": {"name": PROG, "version": version("chargerlogs")},
        "mode": "live",
        "arguments": options.to_json(),
        "live": live.to_json(),
        "simulation": {
            "start": options.start_epoch,
            "end": options.start_epoch + options.days * DAY,
        },
        "window": {"start": live.start_s, "end": live.end_s},
        "chargers": [spec.to_json() for spec in plan.fleet],
        "anomalies": anomaly_counts(anomalies),
        "clock_periods": clock_summary(periods, in_window),
    }
    reset = sorted({p.charger_id for p in periods if p.offset_s})
    manifest = LiveManifest(generator_dir / "manifest.json", header, live.batches, reset)
    manifest.write()
    return status, sessions, manifest


def _anomalies_in(live: LiveSettings, anomalies: list[Anomaly]) -> list[Anomaly]:
    """The labelled anomalies that overlap the live window (true time)."""
    return [a for a in anomalies if a.start < live.end_s and a.end > live.start_s]


def _periods_in(live: LiveSettings, periods: list[ClockPeriod]) -> list[ClockPeriod]:
    """The clock periods cut to the live window, so that they cover it without gap."""
    cut = [
        ClockPeriod(p.charger_id, max(p.start, live.start_s), min(p.end, live.end_s), p.offset_s)
        for p in periods
    ]
    return [p for p in cut if p.start < p.end]


def _write_batches(
    options: Options,
    live: LiveSettings,
    windows: tuple[StatusWindow, SessionWindow],
    manifest: LiveManifest,
    say: Say,
) -> None:
    """Write the batches in order, paced by the wall clock, and keep the manifest up to date."""
    status, sessions = windows
    anchor = float(live.start_s) if live.follows_clock else time.time()
    manifest_at = time.perf_counter()
    for batch in range(live.batches):
        if live.speed is not None:
            due = anchor + (batch + 1) * live.batch_seconds / live.speed
            time.sleep(max(0.0, due - time.time()))
        number = batch + 1
        span = (
            live.start_s + batch * live.batch_seconds,
            live.start_s + number * live.batch_seconds,
        )
        status_lines = status.lines(batch)
        status_files = _write_files(options, STATUS_DIR, number, status_lines)
        labels = sessions.labels(batch)
        session_files = _write_files(
            options, SESSION_DIR, number, {"flat": sessions.lines(batch)} if labels else {}
        )
        tally = status.tally(batch)
        unknown = status.unknown_fields(batch)
        manifest.add_batch(number, span, (status_files, session_files), tally, labels, unknown)
        last = number == live.batches
        if last:
            manifest.state = "complete"
        if last or time.perf_counter() - manifest_at >= MANIFEST_INTERVAL_S:
            manifest.write()
            manifest_at = time.perf_counter()
        files = len(status_files) + len(session_files)
        say(
            f"{PROG}: batch {number:,}/{live.batches:,} up to {iso_utc(span[1])}: "
            f"{tally['lines']:,} status lines ({tally['late_batch_rows']:,} late, "
            f"{tally['resent_duplicate']:,} re-sent) and {len(labels):,} session lines in "
            f"{files} {'file' if files == 1 else 'files'}"
        )


def _write_files(
    options: Options, stream: str, number: int, lines: dict[str, list[str]]
) -> FileFacts:
    """Write one file per layout atomically; returns the manifest facts of each."""
    facts: FileFacts = {}
    for layout, part in lines.items():
        compress = layout == "nested" and options.gzip
        name = f"{stream}/part-{number:06d}-{layout}.json" + (".gz" if compress else "")
        replace_atomically(options.out / name, encode_lines(part, compress, options.gzip_level))
        facts[name] = {"lines": len(part), "layout": layout, "gzip": compress}
    return facts
