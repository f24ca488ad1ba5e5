"""Throughput benchmark of the generator: ``python -m chargerlogs.bench_generator``."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from chargerlogs.cli import OneLineErrorParser, positive_int
from chargerlogs.generate import generate
from chargerlogs.options import Options, without_defects


def main(argv: Sequence[str] | None = None) -> int:
    """Generate a dataset, print status rows, wall seconds and status rows per second."""
    defaults = Options(out=Path("."))
    parser = OneLineErrorParser(
        prog="python -m chargerlogs.bench_generator",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Measure chargerlogs-generate's throughput with its default options.",
    )
    parser.add_argument(
        "--chargers", type=positive_int, default=defaults.chargers, help="number of chargers"
    )
    parser.add_argument("--days", type=positive_int, default=defaults.days, help="number of days")
    parser.add_argument(
        "--workers", type=positive_int, default=defaults.workers, help="worker processes"
    )
    parser.add_argument("--clean", action="store_true", help="generate without defects")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="folder to write into and remove afterwards (default: a new temporary folder)",
    )
    args = parser.parse_args(argv)
    if args.out is not None and args.out.exists():
        parser.error(f"--out {args.out} exists")
    parent = Path(tempfile.mkdtemp(prefix="chargerlogs-bench-"))
    out = args.out if args.out is not None else parent / "data"
    options = Options(
        out=out, chargers=args.chargers, days=args.days, workers=args.workers, quiet=True
    )
    if args.clean:
        options = without_defects(options)
    try:
        summary = generate(options)
    finally:
        shutil.rmtree(out, ignore_errors=True)
        shutil.rmtree(parent, ignore_errors=True)
    print(f"status rows written: {summary.status_rows}")
    print(f"wall seconds: {summary.seconds:.2f}")
    print(f"status rows per second: {summary.status_rows / summary.seconds:,.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
