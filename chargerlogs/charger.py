"""Everything one charger emits: telemetry with its value-level defects, batches and sessions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chargerlogs.anomalies import Anomaly, inject_anomalies
from chargerlogs.clock import ClockPeriod, offsets_at, plan_clock
from chargerlogs.fleet import ChargerSpec
from chargerlogs.options import Options
from chargerlogs.physics import (
    DAY,
    HOUR,
    Session,
    measure,
    plan_sessions,
    power_w,
    sample_times,
    session_energy_wh,
)


@dataclass
class ChargerOutput:
    """One charger's rows (before line-level defects), its sessions and its clock."""

    spec: ChargerSpec
    true_t: np.ndarray  # int64 true sample time
    charger_t: np.ndarray  # int64 charger_timestamp as written (true time + clock offset)
    server_ms: np.ndarray  # int64 server_timestamp in milliseconds
    batch: np.ndarray  # int64 upload batch number within the charger
    current_ca: np.ndarray
    voltage_v: np.ndarray
    temperature_c: np.ndarray
    sessions: list[Session]  # true times
    session_offsets: list[int]  # clock offset of each session, seconds
    clock_periods: list[ClockPeriod]
    anomalies: list[Anomaly]
    is_glitch: np.ndarray  # bool: the row lies in a sensor-glitch episode
    is_late: np.ndarray  # bool: the row's upload batch arrived late
    glitch_rows: int
    clock_reset_rows: int
    late_batch_rows: int


def simulate_charger(
    spec: ChargerSpec, options: Options, clock_pattern: str | None
) -> ChargerOutput:
    """Simulate one charger over the whole window; deterministic in (seed, charger index).

    ``clock_pattern`` (see chargerlogs.clock) says how the charger's clock is reset and
    synced; None for a clock that is right all along.
    """
    rng = np.random.default_rng([options.seed, 1, spec.index])
    t0 = options.start_epoch
    t1 = t0 + options.days * DAY
    sessions = plan_sessions(spec, t0, options.days, rng)
    t = sample_times(
        t0, t1, options.sample_interval, options.burst_rate, options.gap_rate, sessions, rng
    )
    telemetry = measure(spec, t, sessions, rng)
    anomalies, factors = inject_anomalies(
        spec.charger_id, spec.phases, telemetry, sessions, options.anomaly_rate, rng
    )
    power = power_w(telemetry, spec.phases)
    for index, session in enumerate(sessions):
        energy = session_energy_wh(t, power, session.lo, session.hi)
        session.energy_wh = int(round(energy * factors.get(index, 1.0)))
    busy = np.zeros(len(t), dtype=bool)
    for anomaly in anomalies:
        session = sessions[anomaly.session]
        busy[session.lo : session.hi] = True
    is_glitch = _glitch(
        telemetry.temperature_c, spec.phases, busy, round(options.glitch_rate * len(t)), rng
    )
    periods = plan_clock(spec.charger_id, clock_pattern, t0, t1, sessions, rng)
    offsets = offsets_at(periods, t)
    session_offsets = offsets_at(periods, np.array([s.start for s in sessions], dtype=np.int64))
    batch, server_ms, is_late = _batches(t, options.late_rate, rng)
    return ChargerOutput(
        spec=spec,
        true_t=t,
        charger_t=t + offsets,
        server_ms=server_ms,
        batch=batch,
        current_ca=telemetry.current_ca,
        voltage_v=telemetry.voltage_v,
        temperature_c=telemetry.temperature_c,
        sessions=sessions,
        session_offsets=session_offsets.tolist(),
        clock_periods=periods,
        anomalies=anomalies,
        is_glitch=is_glitch,
        is_late=is_late,
        glitch_rows=int(np.count_nonzero(is_glitch)),
        clock_reset_rows=int(np.count_nonzero(offsets)),
        late_batch_rows=int(np.count_nonzero(is_late)),
    )


def _glitch(
    temperature: np.ndarray, phases: int, busy: np.ndarray, target: int, rng: np.random.Generator
) -> np.ndarray:
    """Episodes of 10-40 rows where one phase's temperature flips on alternate samples.

    Episodes avoid rows of sessions with a labelled anomaly and each other. Returns which rows
    lie inside an episode.
    """
    n = len(temperature)
    inside = np.zeros(n, dtype=bool)
    rows = 0
    tries = 0
    while rows < target and tries < 200 and n > 50:
        tries += 1
        length = min(int(rng.integers(10, 41)), target - rows if target - rows >= 4 else 4)
        first = int(rng.integers(0, n - length))
        if busy[first : first + length].any():
            continue
        phase = int(rng.integers(phases))
        step = int(rng.integers(8, 16))
        temperature[first + 1 : first + length : 2, phase] += step
        busy[first : first + length] = True
        inside[first : first + length] = True
        rows += length
    return inside


def _batches(
    t: np.ndarray, late_rate: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Group samples into upload batches; each batch's rows share one server_timestamp (ms).

    A batch is uploaded 0.5-8 s after its last sample; a share of the rows sits in batches
    uploaded 1 hour to 3 days late. Returns batch numbers, server ms and which rows are late.
    """
    n = len(t)
    sizes = rng.integers(4, 21, size=n // 4 + 2)
    bounds = np.cumsum(sizes)
    bounds = bounds[bounds < n]
    breaks = np.flatnonzero(np.diff(t) > 600) + 1
    bounds = np.union1d(bounds, breaks)
    batch = np.searchsorted(bounds, np.arange(n), side="right")
    last = np.append(bounds, n) - 1
    upload_ms = t[last] * 1000 + rng.integers(500, 8000, size=len(last))
    target = round(late_rate * n)
    is_late_batch = np.zeros(len(last), dtype=bool)
    if target > 0:
        counts = np.bincount(batch, minlength=len(last))
        order = rng.permutation(len(last))
        taken = int(np.searchsorted(np.cumsum(counts[order]), target)) + 1
        late = order[:taken]
        upload_ms[late] += rng.integers(HOUR * 1000, 3 * DAY * 1000, size=len(late))
        is_late_batch[late] = True
    return batch.astype(np.int64), upload_ms[batch], is_late_batch[batch]
