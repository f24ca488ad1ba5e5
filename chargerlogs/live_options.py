"""The options of ``chargerlogs-generate --live``: the live window, its batches and their pace."""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, NoReturn

from chargerlogs.cli import non_negative_int, positive_int, positive_number

DAY = 86_400
DEFAULT_BATCH_SECONDS = 60
DEFAULT_DURATION_MINUTES = 1_440
DEFAULT_HISTORY_DAYS = 3
DEFAULT_SPEED = 1.0
MAX_WINDOW_DAYS = 31  # the window's status lines are held in memory
MAX_BATCHES = 999_999  # batch numbers have six digits in the file names
# Options that only the live mode takes; they default to "not given" so that a batch run can
# refuse them.
LIVE_ONLY = ("batch_seconds", "duration_minutes", "batches", "speed", "no_wait", "history_days")

StartValue = date | datetime | str  # a day, an instant, or "now"


@dataclass(frozen=True)
class LiveSettings:
    """The live window [start_s, start_s + batches x batch_seconds) and how it is paced."""

    start_s: int  # first second of the window, UNIX seconds (UTC)
    batch_seconds: int
    batches: int
    speed: float | None  # simulated seconds per wall second; None: write as fast as possible
    history_days: int
    follows_clock: bool  # --start now: the window starts at the wall clock

    @property
    def end_s(self) -> int:
        """First second after the live window, UNIX seconds."""
        return self.start_s + self.batches * self.batch_seconds

    @property
    def simulation_start(self) -> date:
        """First simulated day: the window's day, ``history_days`` earlier."""
        day = datetime.fromtimestamp(self.start_s, UTC).date()
        return day - timedelta(days=self.history_days)

    @property
    def simulation_days(self) -> int:
        """Simulated days: from ``simulation_start`` to the end of the day that holds the
        instant a day after the window's end.

        The day after the window lets the sessions under way at its end be simulated whole (a
        run drops the sessions that would end after its last day) and keeps the chargers'
        last uploads of the simulation, all at its very end, out of the window.
        """
        first = datetime(*self.simulation_start.timetuple()[:3], tzinfo=UTC).timestamp()
        return math.ceil((self.end_s + DAY - int(first)) / DAY)

    def to_json(self) -> dict[str, object]:
        """The live settings as JSON-ready values, for the manifest."""
        return {
            "start": iso_utc(self.start_s),
            "batch_seconds": self.batch_seconds,
            "batches": self.batches,
            "speed": "no-wait" if self.speed is None else self.speed,
            "history_days": self.history_days,
            "start_now": self.follows_clock,
        }


def iso_utc(seconds: int) -> str:
    """UNIX seconds as an ISO-8601 instant in UTC, e.g. 2021-03-01T00:01:00Z."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def start_value(text: str) -> StartValue:
    """An argparse type for --start: YYYY-MM-DD, an ISO instant (UTC unless a zone is given)
    or ``now``."""
    if text == "now":
        return text
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        return datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a YYYY-MM-DD date (nor, for --live, an ISO instant or now): {text!r}"
        ) from None


def add_live_arguments(parser: argparse.ArgumentParser) -> None:
    """Add --live and the options only it takes (they default to not given)."""
    group = parser.add_argument_group(
        "live mode",
        "With --live the generator writes the data folder as the charger cloud would, one "
        "batch period after the other: for each period, the status rows uploaded in it and the "
        "sessions that ended in it, in new files. The lines are those of the batch run of the "
        "same seed over the simulated days (see docs/generator.md, Live mode).",
    )
    group.add_argument(
        "--live",
        action="store_true",
        help="write micro-batch files, one set per batch period, instead of the whole dataset "
        "at once",
    )
    group.add_argument(
        "--batch-seconds",
        type=positive_int,
        default=argparse.SUPPRESS,
        help=f"length of one batch period in simulated seconds, 1 to {DAY} "
        f"(default: {DEFAULT_BATCH_SECONDS})",
    )
    window = group.add_mutually_exclusive_group()
    window.add_argument(
        "--duration-minutes",
        type=positive_int,
        default=argparse.SUPPRESS,
        help="length of the live window in simulated minutes, rounded up to whole batch "
        f"periods (default: {DEFAULT_DURATION_MINUTES}, one day; at most {MAX_WINDOW_DAYS} days)",
    )
    window.add_argument(
        "--batches",
        type=positive_int,
        default=argparse.SUPPRESS,
        help=f"number of batch periods to write, at most {MAX_BATCHES:,} (instead of "
        "--duration-minutes)",
    )
    pace = group.add_mutually_exclusive_group()
    pace.add_argument(
        "--speed",
        type=positive_number,
        default=argparse.SUPPRESS,
        help="simulated seconds per wall second: 1 is real time, 60 writes a 60 s batch every "
        "wall second (default: 1)",
    )
    pace.add_argument(
        "--no-wait",
        action="store_true",
        default=argparse.SUPPRESS,
        help="write the batches as fast as possible, without waiting for the wall clock",
    )
    group.add_argument(
        "--history-days",
        type=non_negative_int,
        default=argparse.SUPPRESS,
        help="days simulated before the day of the window, so that late and re-sent batches "
        f"of earlier readings arrive in it from the first batch on (default: "
        f"{DEFAULT_HISTORY_DAYS}; uploads arrive at most 3 days late)",
    )


def live_settings(ns: dict[str, Any], error: Callable[[str], NoReturn]) -> LiveSettings:
    """The live settings of a parsed command line; ``error`` reports a bad one (one line)."""
    batch_seconds = int(ns.get("batch_seconds", DEFAULT_BATCH_SECONDS))
    if batch_seconds > DAY:
        error(f"argument --batch-seconds: at most {DAY}, got {batch_seconds}")
    if "batches" in ns:
        batches = int(ns["batches"])
    else:
        minutes = int(ns.get("duration_minutes", DEFAULT_DURATION_MINUTES))
        batches = math.ceil(minutes * 60 / batch_seconds)
    if batches > MAX_BATCHES:
        error(f"the live window has {batches:,} batches; at most {MAX_BATCHES:,}")
    if batches * batch_seconds > MAX_WINDOW_DAYS * DAY:
        error(f"the live window is longer than {MAX_WINDOW_DAYS} days")
    start = ns["start"]
    for name in ("speed", "no_wait"):
        if start == "now" and name in ns:
            error(
                f"argument --{name.replace('_', '-')}: not with --start now (the batches "
                "follow the wall clock)"
            )
    if start == "now":
        start_s = int(time.time()) // batch_seconds * batch_seconds
    elif isinstance(start, datetime):
        moment = start if start.tzinfo else start.replace(tzinfo=UTC)
        start_s = math.floor(moment.timestamp())
    else:
        assert isinstance(start, date)
        start_s = int(datetime(start.year, start.month, start.day, tzinfo=UTC).timestamp())
    no_wait = bool(ns.get("no_wait", False))
    settings = LiveSettings(
        start_s=start_s,
        batch_seconds=batch_seconds,
        batches=batches,
        speed=None if no_wait else float(ns.get("speed", DEFAULT_SPEED)),
        history_days=int(ns.get("history_days", DEFAULT_HISTORY_DAYS)),
        follows_clock=start == "now",
    )
    if settings.simulation_start.year < 2002:
        error(
            "argument --start: the simulation (--history-days before the window's day) must "
            "begin in 2002 or later"
        )
    if datetime.fromtimestamp(settings.end_s, UTC).year > 2100:
        error("argument --start: the live window must end by 2100")
    return settings
