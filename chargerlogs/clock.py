"""Charger clocks: when a clock is reset years back and synced again, as periods of true time."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chargerlogs.physics import DAY, Session

YEAR = 365 * DAY
# A reset clock restarts at an instant of the five years from 2000-01-01, and at least a year
# before the true time of the reset (``--start`` is 2002 or later, so there is always room).
RESET_EPOCH_MIN = 946_684_800
RESET_EPOCH_SPAN = 5 * YEAR
# How the k-th reset charger's clock behaves in the window (k modulo the number of patterns):
# reset before the window and never synced in it; reset before the window and synced in its
# middle; reset in the first part of the window and synced in its last part.
CLOCK_PATTERNS = ("reset", "reset_synced", "correct_reset_synced")


@dataclass(frozen=True)
class ClockPeriod:
    """A stretch of true time during which a charger's clock is off by a constant offset."""

    charger_id: int
    start: int  # true UNIX seconds, first second of the period
    end: int  # true UNIX seconds, first second after the period
    offset_s: int  # charger clock minus true time: 0 when correct, years negative when reset


def plan_clock(
    charger_id: int,
    pattern: str | None,
    t0: int,
    t1: int,
    sessions: list[Session],
    rng: np.random.Generator,
) -> list[ClockPeriod]:
    """The charger's clock periods, covering the window [t0, t1) without gap or overlap.

    ``pattern`` is one of CLOCK_PATTERNS, or None for a clock that is right all along. A reset
    clock restarts at an instant in 2000-2004 and then runs at normal speed, so its offset is
    constant until a sync puts the clock right. Resets and syncs inside the window happen at
    idle instants, never during a session.
    """
    if pattern is None:
        return [ClockPeriod(charger_id, t0, t1, 0)]
    span = t1 - t0
    gaps = _idle_gaps(t0, t1, sessions)
    if pattern == "correct_reset_synced":
        reset = _idle_instant(t0 + int(rng.uniform(0.1, 0.4) * span), gaps, rng)
        sync = _idle_instant(t0 + int(rng.uniform(0.6, 0.9) * span), gaps, rng)
        reset, sync = sorted((reset, sync))
    else:
        reset = t0 - int(rng.integers(DAY, 60 * DAY))
        sync = t1
        if pattern == "reset_synced":
            sync = _idle_instant(t0 + int(rng.uniform(0.35, 0.65) * span), gaps, rng)
    room = min(RESET_EPOCH_SPAN, reset - YEAR - RESET_EPOCH_MIN)
    offset = RESET_EPOCH_MIN + int(rng.integers(0, room)) - reset
    first = max(t0, reset)
    bounds = ((t0, first, 0), (first, sync, offset), (sync, t1, 0))
    return [ClockPeriod(charger_id, a, b, shift) for a, b, shift in bounds if a < b]


def offsets_at(periods: list[ClockPeriod], t: np.ndarray) -> np.ndarray:
    """The clock offset (int64 seconds) at each true instant of ``t`` (inside the periods)."""
    starts = np.array([p.start for p in periods], dtype=np.int64)
    offsets = np.array([p.offset_s for p in periods], dtype=np.int64)
    return offsets[np.searchsorted(starts, t, side="right") - 1]


def _idle_gaps(t0: int, t1: int, sessions: list[Session]) -> list[tuple[int, int]]:
    """Inclusive ranges of the idle instants in (t0, t1), between sessions.

    A clock change at such an instant x leaves every session wholly before x or from x on.
    """
    edges = [t0] + [v for s in sessions for v in (s.start, s.end)] + [t1]
    gaps = [(edges[i] + 1, edges[i + 1] - 1) for i in range(0, len(edges), 2)]
    return [(a, b) for a, b in gaps if a <= b]


def _idle_instant(target: int, gaps: list[tuple[int, int]], rng: np.random.Generator) -> int:
    """``target`` when the charger is idle then, else a random instant of the nearest gap."""
    a, b = min(gaps, key=lambda gap: max(gap[0] - target, target - gap[1], 0))
    if a <= target <= b:
        return target
    return int(rng.integers(a, b + 1))
