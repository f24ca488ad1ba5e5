"""Command-line options of ``chargerlogs-generate`` and their validation."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, date, datetime
from pathlib import Path

from chargerlogs.cli import OneLineErrorParser, non_negative_int, positive_int, price, share
from chargerlogs.live_options import (
    LIVE_ONLY,
    LiveSettings,
    add_live_arguments,
    live_settings,
    start_value,
)
from chargerlogs.ownership import MARKER_PATH

PROG = "chargerlogs-generate"
RUN_ONLY_OPTIONS = ("workers", "force", "quiet")
FIRST_CHARGER_ID = 14_000
LAST_CHARGER_ID = 105_000

# Defect rate option -> help text. Rates are shares in [0, 1]; defaults live in Options.
DEFECT_RATES: dict[str, str] = {
    "duplicate_rate": "share of lines of each stream written twice, byte for byte",
    "resend_rate": "share of status rows re-sent in a later batch under new event ids",
    "conflict_rate": "share of status rows whose event id is reused by a copy with "
    "different measurements and a later server_timestamp",
    "late_rate": "share of status rows in upload batches that arrive hours to days late",
    "truncate_rate": "share of lines of each stream cut short (invalid JSON)",
    "null_key_rate": "share of lines of each stream with a key field null or left out",
    "null_measurement_rate": "share of status rows with one measurement null or left "
    "out (the row stays valid)",
    "type_mismatch_rate": "share of lines of each stream with a numeric field written "
    'as a string that is not a number, half "n/a", half the number with its unit ("231 V")',
    "out_of_range_rate": "share of status rows with a negative current or voltage",
    "extra_field_rate": "share of status rows with an unknown extra field such as "
    "firmware_version (the row stays valid)",
    "glitch_rate": "share of status rows inside sensor-glitch episodes (a temperature "
    "flipping between two levels; the rows stay valid)",
    "end_before_start_rate": "share of session lines whose end_time is before start_time",
}


@dataclass(frozen=True)
class Options:
    """Every setting of one generator run; see ``build_parser`` for the meaning of each."""

    out: Path
    seed: int = 42
    chargers: int = 25
    days: int = 14
    start: date = date(2021, 3, 1)
    layout: str = "mixed"
    gzip: bool = True
    gzip_level: int = 3
    rows_per_file: int = 50_000
    sample_interval: int = 30
    burst_rate: float = 0.01
    gap_rate: float = 0.0005
    default_price: float = 0.2
    admin_price_share: float = 0.2
    duplicate_rate: float = 0.003
    resend_rate: float = 0.004
    conflict_rate: float = 0.002
    late_rate: float = 0.01
    truncate_rate: float = 0.002
    null_key_rate: float = 0.002
    null_measurement_rate: float = 0.003
    type_mismatch_rate: float = 0.002
    out_of_range_rate: float = 0.002
    extra_field_rate: float = 0.003
    glitch_rate: float = 0.003
    end_before_start_rate: float = 0.01
    anomaly_rate: float = 0.05
    clock_reset_chargers: int = 2
    clean: bool = False
    workers: int = 2
    force: bool = False
    quiet: bool = False

    @property
    def start_epoch(self) -> int:
        """First second of the simulated window, UNIX seconds (UTC)."""
        return int(
            datetime(self.start.year, self.start.month, self.start.day, tzinfo=UTC).timestamp()
        )

    def to_json(self) -> dict[str, object]:
        """The options that shape the data, as JSON-ready values, in declaration order.

        --workers, --force and --quiet are left out: they never change what is written.
        """
        values = {k: v for k, v in asdict(self).items() if k not in RUN_ONLY_OPTIONS}
        values["out"] = str(self.out)
        values["start"] = self.start.isoformat()
        return values


def _seed(text: str) -> int:
    value = non_negative_int(text)
    if value >= 2**63:
        raise argparse.ArgumentTypeError(f"must be below 2**63, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``chargerlogs-generate``; ``--help`` documents every option."""
    d = Options(out=Path("."))
    parser = OneLineErrorParser(
        prog=PROG,
        allow_abbrev=False,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Write a realistic, deterministic EV-charger fleet dataset (session and "
        "status event logs, with labelled anomalies and injected defects) into a data folder "
        "laid out as docs/input_format.md describes; with --live, as a stream of micro-batch "
        "files written period by period.",
    )
    parser.add_argument(
        "--out",
        type=Path,
        required=True,
        help="data folder to write: a new or empty folder, or with --force one this generator "
        f"wrote before (it carries {MARKER_PATH}); any other folder is refused and left as it is",
    )
    parser.add_argument(
        "--seed",
        type=_seed,
        default=d.seed,
        help="random seed; the same arguments give byte-identical files",
    )
    parser.add_argument(
        "--chargers", type=positive_int, default=d.chargers, help="number of chargers in the fleet"
    )
    parser.add_argument(
        "--days",
        type=positive_int,
        default=argparse.SUPPRESS,
        help=f"number of simulated days (default: {d.days}; not with --live, whose window "
        "sets them)",
    )
    parser.add_argument(
        "--start",
        type=start_value,
        default=d.start,
        help="first simulated day, YYYY-MM-DD (UTC); with --live, the first second of the live "
        "window: a day, an ISO instant such as 2021-03-01T18:30 (UTC unless a zone is given), "
        "or now (the wall clock, rounded down to a batch period; not deterministic)",
    )
    parser.add_argument(
        "--layout",
        choices=("flat", "nested", "mixed"),
        default=d.layout,
        help="status file layout: flat (documented), nested (Spark part files) "
        "or mixed (both in the same folder; with --live, each line in the layout it has in "
        "the batch run)",
    )
    parser.add_argument(
        "--gzip",
        action=argparse.BooleanOptionalAction,
        default=d.gzip,
        help="gzip-compress the nested part files",
    )
    parser.add_argument(
        "--gzip-level",
        type=positive_int,
        default=d.gzip_level,
        help="gzip compression level, 1 (fast) to 9 (small)",
    )
    parser.add_argument(
        "--rows-per-file",
        type=positive_int,
        default=d.rows_per_file,
        help="status rows per status file (with --live, it only decides, as in the batch run, "
        "which lines are flat and which nested under --layout mixed)",
    )
    parser.add_argument(
        "--sample-interval",
        type=positive_int,
        default=d.sample_interval,
        help="regular seconds between two status samples of a charger",
    )
    parser.add_argument(
        "--burst-rate",
        type=share,
        default=d.burst_rate,
        help="share of sample intervals that start a burst of samples 1-5 s apart",
    )
    parser.add_argument(
        "--gap-rate",
        type=share,
        default=d.gap_rate,
        help="expected gaps (lost samples, minutes to hours) per sample",
    )
    parser.add_argument(
        "--default-price", type=price, default=d.default_price, help="default unit price, EUR/kWh"
    )
    parser.add_argument(
        "--admin-price-share",
        type=share,
        default=d.admin_price_share,
        help="share of chargers whose admin set another unit price",
    )
    for name, text in DEFECT_RATES.items():
        parser.add_argument(
            "--" + name.replace("_", "-"), type=share, default=getattr(d, name), help=text
        )
    parser.add_argument(
        "--anomaly-rate",
        type=share,
        default=d.anomaly_rate,
        help="share of sessions with a labelled anomaly (see anomalies.csv)",
    )
    parser.add_argument(
        "--clock-reset-chargers",
        type=non_negative_int,
        default=d.clock_reset_chargers,
        help="number of chargers whose clock was reset years back: they stamp status and "
        "session times in the reset clock until a time sync puts it right; the 1st, 4th, ... "
        "stays reset through the window, the 2nd, 5th, ... is synced mid-window, the 3rd, "
        "6th, ... is reset and synced inside the window",
    )
    parser.add_argument(
        "--clean",
        action="store_true",
        help="no defects, no anomalies, no clock reset: every defect rate, --anomaly-rate "
        "and --clock-reset-chargers become 0 whatever their value (sampling bursts, gaps and "
        "prices are kept)",
    )
    parser.add_argument(
        "--workers",
        type=positive_int,
        default=d.workers,
        help="worker processes (the output does not depend on it)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help=f"regenerate an --out that carries {MARKER_PATH}: replace its charger_log_status/, "
        "charger_log_session/ and _generator/, nothing else; a folder without that marker is "
        "never touched, --force or not",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    add_live_arguments(parser)
    return parser


def parse_command(argv: Sequence[str] | None = None) -> tuple[Options, LiveSettings | None]:
    """Parse and validate the command line; exits with code 2 and one line on bad input.

    Returns the options and, with --live, the live settings. A live run's options are those of
    the batch run it re-slices: ``start`` and ``days`` span the simulated days.
    """
    parser = build_parser()
    ns = vars(parser.parse_args(argv))
    live = None
    if ns.pop("live"):
        if "days" in ns:
            parser.error("argument --days: not with --live (the live window sets the days)")
        live = live_settings(ns, parser.error)
        ns["start"], ns["days"] = live.simulation_start, live.simulation_days
    else:
        for name in LIVE_ONLY:
            if name in ns:
                parser.error(f"argument --{name.replace('_', '-')}: only with --live")
        if isinstance(ns["start"], datetime) or not isinstance(ns["start"], date):
            parser.error(
                f"argument --start: not a YYYY-MM-DD date: {ns['start']!s} (an instant or now "
                "only with --live)"
            )
        ns.setdefault("days", Options.days)
    options = Options(**{f.name: ns[f.name] for f in fields(Options)})
    if options.clean:
        options = without_defects(options)
    problem = _problem(options)
    if problem:
        parser.error(problem)
    return options, live


def without_defects(options: Options) -> Options:
    """The options of ``--clean``: every defect and anomaly rate and the clock resets at 0."""
    zeros = {name: 0.0 for name in DEFECT_RATES}
    return replace(options, clean=True, anomaly_rate=0.0, clock_reset_chargers=0, **zeros)


def _problem(options: Options) -> str | None:
    if options.chargers > LAST_CHARGER_ID - FIRST_CHARGER_ID + 1:
        return f"argument --chargers: at most {LAST_CHARGER_ID - FIRST_CHARGER_ID + 1}"
    if options.clock_reset_chargers > options.chargers:
        return "argument --clock-reset-chargers: more than --chargers"
    if options.gzip_level > 9:
        return f"argument --gzip-level: must be 1 to 9, got {options.gzip_level}"
    if options.start.year < 2002 or options.start.year > 2100:
        return "argument --start: the year must be between 2002 and 2100"
    if options.sample_interval > 3600:
        return "argument --sample-interval: at most 3600 seconds"
    line_rates = sum(
        getattr(options, name)
        for name in DEFECT_RATES
        if name not in ("late_rate", "glitch_rate", "end_before_start_rate")
    )
    if line_rates > 0.5:
        return f"the status defect rates add up to {line_rates:.3f}; at most 0.5"
    return None
