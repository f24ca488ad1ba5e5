"""Labelled anomalies written into one charger's telemetry, with their ground truth."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chargerlogs.physics import Session, Telemetry

KINDS = (
    "overheating",
    "voltage_sag",
    "voltage_swell",
    "phase_loss",
    "stuck_sensor",
    "energy_mismatch",
)
MINUTE = 60


@dataclass(frozen=True)
class Anomaly:
    """One labelled anomaly; times are true time, UNIX seconds; phase None = whole session."""

    charger_id: int
    session: int  # index of the session within its charger
    phase: int | None
    start: int
    end: int
    kind: str


def inject_anomalies(
    charger_id: int,
    phases: int,
    telemetry: Telemetry,
    sessions: list[Session],
    rate: float,
    rng: np.random.Generator,
) -> tuple[list[Anomaly], dict[int, float]]:
    """Write anomalies into a share ``rate`` of the sessions.

    Returns the anomalies and, for energy_mismatch sessions, the factor by which the reported
    energy differs from the telemetry.
    """
    anomalies: list[Anomaly] = []
    factors: dict[int, float] = {}
    chosen = np.flatnonzero(rng.random(len(sessions)) < rate)
    turn = int(rng.integers(len(KINDS)))
    for index in chosen:
        session = sessions[int(index)]
        if session.hi - session.lo < 8:
            continue
        kind = KINDS[turn % len(KINDS)]
        if kind == "phase_loss" and (phases < 3 or session.car_phases < 3):
            turn += 1
            kind = KINDS[turn % len(KINDS)]
        turn += 1
        if kind == "energy_mismatch":
            sign = 1.0 if rng.random() < 0.5 else -1.0
            factors[int(index)] = 1.0 + sign * rng.uniform(0.15, 0.40)
            anomalies.append(
                Anomaly(charger_id, int(index), None, session.start, session.end, kind)
            )
            continue
        found = _apply(kind, phases, telemetry, session, rng)
        if found is not None:
            phase, lo, hi = found
            t = telemetry.t
            anomalies.append(
                Anomaly(charger_id, int(index), phase + 1, int(t[lo]), int(t[hi - 1]), kind)
            )
    return anomalies, factors


def _window(
    t: np.ndarray,
    lo: int,
    hi: int,
    begin: float,
    end: float,
    minutes: tuple[int, int],
    rng: np.random.Generator,
) -> tuple[int, int] | None:
    """A sample range of a random length inside [begin, end], clipped to samples lo..hi-1."""
    length = rng.uniform(*minutes) * MINUTE
    span = max(end - begin - length, 0.0)
    first = begin + rng.uniform(0, span) if span > 0 else begin
    a = max(lo, int(np.searchsorted(t, first, side="left")))
    b = min(hi, int(np.searchsorted(t, first + length, side="right")))
    return (a, b) if b - a >= 3 else None


def _apply(
    kind: str, phases: int, telemetry: Telemetry, session: Session, rng: np.random.Generator
) -> tuple[int, int, int] | None:
    """Change the values of one anomaly; returns (phase index, first row, end row)."""
    t = telemetry.t
    charging = (session.charge_start, session.charge_end)
    whole = (float(session.start), float(session.end))
    if kind == "overheating":
        phase = int(rng.integers(session.car_phases))
        window = _window(t, session.lo, session.hi, *charging, (20, 60), rng)
        if window is None:
            return None
        a, b = window
        ramp = np.linspace(0.0, rng.uniform(25, 40), b - a)
        telemetry.temperature_c[a:b, phase] += np.rint(ramp).astype(np.int64) + 5
        return phase, a, b
    if kind in ("voltage_sag", "voltage_swell"):
        phase = int(rng.integers(phases))
        window = _window(t, session.lo, session.hi, *whole, (3, 15), rng)
        if window is None:
            return None
        a, b = window
        step = int(rng.integers(28, 40))
        telemetry.voltage_v[a:b, phase] += -step if kind == "voltage_sag" else step
        return phase, a, b
    if kind == "phase_loss":
        phase = int(rng.integers(3))
        window = _window(t, session.lo, session.hi, *charging, (10, 40), rng)
        if window is None:
            return None
        a, b = window
        telemetry.current_ca[a:b, phase] = rng.integers(0, 4, size=b - a)
        telemetry.voltage_v[a:b, phase] = rng.integers(0, 4, size=b - a)
        return phase, a, b
    phase = int(rng.integers(phases))
    window = _window(t, session.lo, session.hi, *whole, (60, 180), rng)
    if window is None:
        return None
    a, b = window
    telemetry.voltage_v[a:b, phase] = telemetry.voltage_v[a, phase]
    return phase, a, b
