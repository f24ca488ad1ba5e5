"""Charging physics of one charger: sessions, sample times, and the measured values."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chargerlogs.fleet import ChargerSpec

DAY = 86_400
HOUR = 3_600
NOMINAL_V = 230.0
VOLTAGE_DROP_V_PER_A = 0.12
TAPER_S = 600.0
THERMAL_TAU_S = 900.0
MIN_ENERGY_WH = 400.0
MAX_ENERGY_WH = 31_000.0


@dataclass
class Session:
    """One plug-in to unplug; times are UNIX seconds, currents in A per phase."""

    start: int
    end: int
    user_id: int
    car_phases: int
    current_a: float
    charge_start: float
    charge_end: float
    taper_start: float
    pause_start: float
    pause_end: float
    heat_c: float
    energy_wh: int = 0
    lo: int = 0
    hi: int = 0


@dataclass
class Telemetry:
    """The samples of one charger: true times and integer measurements (phases as columns)."""

    t: np.ndarray  # int64 UNIX seconds, increasing
    current_ca: np.ndarray  # int64 (n, 3)
    voltage_v: np.ndarray  # int64 (n, 3)
    temperature_c: np.ndarray  # int64 (n, 3)


def plan_sessions(spec: ChargerSpec, t0: int, days: int, rng: np.random.Generator) -> list[Session]:
    """Sessions of one charger: 0-2 a day, home evenings/nights or workplace days, no overlap."""
    t1 = t0 + days * DAY
    home = spec.site == "home"
    sessions: list[Session] = []
    last_end = t0
    for day in range(days):
        base = t0 + day * DAY
        count = int(rng.choice(3, p=(0.2, 0.6, 0.2)))
        windows = []
        if count >= 1:
            if home:
                start, hours = rng.uniform(17, 22), rng.uniform(8, 14)
            else:
                start, hours = rng.uniform(7, 10), rng.uniform(4, 9)
            if rng.random() < 0.05:
                hours = rng.uniform(18, 22)
            windows.append((start, hours))
        if count == 2:
            start = rng.uniform(11, 15) if home else rng.uniform(17.5, 20)
            windows.append((start, rng.uniform(0.4, 2.5)))
        for start_h, hours in sorted(windows):
            start = base + int(start_h * HOUR)
            end = start + int(hours * HOUR)
            if start < last_end + 900 or end > t1 - 60:
                continue
            sessions.append(_charging_plan(spec, start, end, rng))
            last_end = end
    return sessions


def _charging_plan(spec: ChargerSpec, start: int, end: int, rng: np.random.Generator) -> Session:
    """Decide the car's current, charging window, taper and pause inside one session."""
    car_phases = 1 if spec.phases == 1 or rng.random() < 0.15 else 3
    car_limit = float(rng.choice((16.0, 32.0)))
    current = min(spec.max_current_a, car_limit) * rng.uniform(0.96, 1.0)
    volts = NOMINAL_V - VOLTAGE_DROP_V_PER_A * current
    power_w = car_phases * volts * current
    need_wh = float(np.exp(rng.uniform(np.log(MIN_ENERGY_WH), np.log(MAX_ENERGY_WH))))
    duration = end - start
    delay = rng.uniform(30, 300)
    margin = min(rng.uniform(300, HOUR), 0.25 * duration)
    available = duration - delay - margin
    taper = min(TAPER_S, available / 2)
    constant = max(0.0, (need_wh * HOUR - power_w * taper * 0.55) / power_w)
    pause = rng.uniform(300, 1800) if rng.random() < 0.2 else 0.0
    if constant + taper + pause > available:
        pause = 0.0
        constant = max(0.0, available - taper)
    charge_start = start + delay
    pause_start = charge_start + rng.uniform(0.2, 0.8) * constant
    taper_start = charge_start + constant + pause
    heat = 6.0 + 14.0 * (current / 32.0) ** 2
    return Session(
        start=start,
        end=end,
        user_id=int(rng.choice(spec.user_ids)),
        car_phases=car_phases,
        current_a=current,
        charge_start=charge_start,
        charge_end=taper_start + taper,
        taper_start=taper_start,
        pause_start=pause_start,
        pause_end=pause_start + pause,
        heat_c=heat * rng.uniform(0.9, 1.1),
    )


def sample_times(
    t0: int,
    t1: int,
    interval: int,
    burst_rate: float,
    gap_rate: float,
    sessions: list[Session],
    rng: np.random.Generator,
) -> np.ndarray:
    """Sample instants in [t0, t1): regular, with bursts 1-5 s apart and gaps of lost samples.

    A gap that would cut into a charging window is shortened to 2-10 minutes.
    """
    blocks = []
    reached = t0 + int(rng.integers(0, interval))
    while reached < t1:
        n = int((t1 - reached) / interval) + 64
        steps = np.full(n, interval, dtype=np.int64)
        if interval >= 10:
            steps += rng.integers(-1, 2, size=n)
        for first in np.flatnonzero(rng.random(n) < burst_rate):
            length = int(rng.integers(2, 6))
            steps[first : first + length] = rng.integers(
                1, 6, size=len(steps[first : first + length])
            )
        block = reached + np.concatenate(([0], np.cumsum(steps)[:-1]))
        blocks.append(block)
        reached = int(block[-1]) + interval
    t = np.concatenate(blocks)
    t = t[t < t1]
    n_gaps = int(rng.poisson(gap_rate * len(t)))
    if n_gaps == 0:
        return t
    keep = np.ones(len(t), dtype=bool)
    charge_starts = np.array([s.charge_start for s in sessions] or [np.inf])
    charge_ends = np.array([s.charge_end for s in sessions] or [np.inf])
    starts = rng.uniform(t0, t1, size=n_gaps)
    lengths = np.exp(rng.uniform(np.log(120), np.log(4 * HOUR), size=n_gaps))
    short = rng.uniform(120, 600, size=n_gaps)
    for gap_start, length, short_length in zip(starts, lengths, short, strict=True):
        overlaps = (charge_starts < gap_start + length) & (charge_ends > gap_start)
        if overlaps.any():
            length = short_length
        lo, hi = np.searchsorted(t, [gap_start, gap_start + length])
        keep[lo:hi] = False
    return t[keep]


def measure(
    spec: ChargerSpec, t: np.ndarray, sessions: list[Session], rng: np.random.Generator
) -> Telemetry:
    """Current, voltage and temperature at every sample; sets each session's sample range."""
    n = len(t)
    current_a = np.zeros((n, 3))
    heat_c = np.zeros((n, 3))
    for session in sessions:
        session.lo = int(np.searchsorted(t, session.start, side="left"))
        session.hi = int(np.searchsorted(t, session.end, side="right"))
        tt = t[session.lo : session.hi].astype(float)
        share = _current_share(session, tt)
        warm = 1.0 - np.exp(-np.clip(tt - session.charge_start, 0, None) / THERMAL_TAU_S)
        amps = session.current_a * share * rng.normal(1.0, 0.004, size=len(tt))
        for phase in range(session.car_phases):
            current_a[session.lo : session.hi, phase] = amps
            heat_c[session.lo : session.hi, phase] = session.heat_c * share * warm
    daily = np.sin(2 * np.pi * ((t % DAY) - 9 * HOUR) / DAY)[:, None]
    current_ca = np.rint(current_a * 100).astype(np.int64)
    idle = current_ca < 6
    noise = np.minimum(rng.geometric(0.6, size=(n, 3)) - 1, 5)
    current_ca[idle] = noise[idle]
    offsets = np.array(spec.voltage_offset_v)[None, :]
    voltage = (
        NOMINAL_V
        + offsets
        + 1.5 * daily
        + rng.normal(0, 1.0, size=(n, 3))
        - VOLTAGE_DROP_V_PER_A * current_a
    )
    temperature = spec.ambient_c + 6.0 + 4.0 * daily + heat_c + rng.normal(0, 0.3, size=(n, 3))
    return Telemetry(
        t=t,
        current_ca=current_ca,
        voltage_v=np.rint(voltage).astype(np.int64),
        temperature_c=np.rint(temperature).astype(np.int64),
    )


def _current_share(session: Session, tt: np.ndarray) -> np.ndarray:
    """Share of the session's current drawn at each instant: constant, paused, tapering."""
    share = np.where((tt >= session.charge_start) & (tt < session.charge_end), 1.0, 0.0)
    share[(tt >= session.pause_start) & (tt < session.pause_end)] = 0.0
    taper_len = max(session.charge_end - session.taper_start, 1.0)
    tapering = (tt >= session.taper_start) & (tt < session.charge_end)
    share[tapering] = 1.0 - 0.9 * (tt[tapering] - session.taper_start) / taper_len
    return share


def power_w(telemetry: Telemetry, phases: int) -> np.ndarray:
    """Per-sample power in W: the sum over present phases of V x I (power factor 1)."""
    volts = telemetry.voltage_v[:, :phases].astype(float)
    amps = telemetry.current_ca[:, :phases].astype(float) / 100.0
    return (volts * amps).sum(axis=1)


def session_energy_wh(t: np.ndarray, power: np.ndarray, lo: int, hi: int) -> float:
    """Trapezoidal integral of power over the samples lo..hi-1, in Wh."""
    if hi - lo < 2:
        return 0.0
    seconds = np.diff(t[lo:hi]).astype(float)
    return float(((power[lo + 1 : hi] + power[lo : hi - 1]) * 0.5 * seconds).sum() / HOUR)
