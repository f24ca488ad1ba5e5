"""Cut a data folder into the batches in which its lines arrived, to replay it as a live feed.

Usage: ``python -m chargerlogs.replay --data DIR --out DIR --batches N`` (``--help`` explains every
option).

Every line of the two stream folders is given its arrival time: the ``server_timestamp`` of a
reading, the ``end_time`` of a session event (a session is sent when the car is unplugged). A line
that has none (malformed, or a blank line) arrives with the line before it in its file. The lines
are cut into N batches of about as many lines each, in arrival order, and each batch is written as a
folder ``<out>/batch-NNN/`` holding, for every input file with lines in the batch, one file of those
lines in their original order (gzip files stay gzip). Then, as a cloud delivers them: ``--swaps``
pairs of neighbouring batches change places (out of order), and ``--resends`` batches are delivered
again at the end under new file names (a re-sent upload). ``<out>/delivery_order.txt`` lists the
batch folders in the order to deliver them. Lines are copied byte for byte; nothing is dropped.
"""

from __future__ import annotations

import gzip
import json
import random
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from chargerlogs.cli import OneLineErrorParser, non_negative_int, positive_int

PROG = "python -m chargerlogs.replay"
STREAMS = {"charger_log_status": "server_timestamp", "charger_log_session": "end_time"}


def arrival_epoch_s(line: bytes, field: str) -> float | None:
    """The arrival time a line carries (UNIX seconds), or None when it carries none."""
    try:
        value = json.loads(line).get(field)
    except (ValueError, AttributeError):
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return None


def read_lines(path: Path) -> list[bytes]:
    """The lines of a file, without their line ends; blank lines kept."""
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as handle:
        return handle.read().splitlines()


def input_files(data_dir: Path) -> list[tuple[str, Path]]:
    """(stream, path) of every log file the warehouse would read, in name order."""
    found = []
    for stream in STREAMS:
        folder = data_dir / stream
        if not folder.is_dir():
            raise ValueError(f"{folder} is not a folder")
        for path in sorted(folder.iterdir()):
            if path.is_file() and path.name.endswith((".json", ".json.gz")):
                found.append((stream, path))
    return found


def split(
    data_dir: Path, out_dir: Path, batches: int, swaps: int = 0, resends: int = 0, seed: int = 0
) -> list[Path]:
    """Write the batches and the delivery order; return the batch folders in delivery order."""
    timed = []  # (arrival, stream, file index, line index)
    files = input_files(data_dir)
    contents = []
    for index, (stream, path) in enumerate(files):
        lines = read_lines(path)
        contents.append(lines)
        arrival = float("-inf")
        for number, line in enumerate(lines):
            found = arrival_epoch_s(line, STREAMS[stream]) if line.strip() else None
            arrival = arrival if found is None else found
            timed.append((arrival, index, number))
    timed.sort()
    size = -(-len(timed) // batches) if timed else 1
    batch_of = {(index, number): rank // size for rank, (_, index, number) in enumerate(timed)}
    folders = []
    for batch in range(batches):
        folder = out_dir / f"batch-{batch:03d}"
        _write_batch(folder, files, contents, batch_of, batch, suffix=f"b{batch:03d}")
        folders.append(folder)
    rng = random.Random(seed)
    order = list(folders)
    for _ in range(swaps):
        position = rng.randrange(len(order) - 1) if len(order) > 1 else 0
        if len(order) > 1:
            order[position], order[position + 1] = order[position + 1], order[position]
    for number, batch in enumerate(rng.sample(range(batches), min(resends, batches))):
        folder = out_dir / f"resend-{number:03d}"
        _write_batch(folder, files, contents, batch_of, batch, suffix=f"b{batch:03d}-resent")
        order.append(folder)
    (out_dir / "delivery_order.txt").write_text("".join(f"{folder.name}\n" for folder in order))
    return order


def _write_batch(
    folder: Path,
    files: list[tuple[str, Path]],
    contents: list[list[bytes]],
    batch_of: dict[tuple[int, int], int],
    batch: int,
    suffix: str,
) -> None:
    for index, (stream, path) in enumerate(files):
        lines = [
            line for number, line in enumerate(contents[index]) if batch_of[index, number] == batch
        ]
        if not lines:
            continue
        name = path.name
        stem, extension = (
            (name[: -len(".json.gz")], ".json.gz")
            if name.endswith(".gz")
            else (
                name[: -len(".json")],
                ".json",
            )
        )
        target = folder / stream / f"{stem}-{suffix}{extension}"
        target.parent.mkdir(parents=True, exist_ok=True)
        data = b"".join(line + b"\n" for line in lines)
        target.write_bytes(gzip.compress(data, mtime=0) if extension == ".json.gz" else data)


def build_parser() -> OneLineErrorParser:
    """The command line."""
    parser = OneLineErrorParser(
        prog=PROG, description="Cut a data folder into the batches in which its lines arrived."
    )
    parser.add_argument(
        "--data", required=True, type=Path, help="the data folder to cut (read only)"
    )
    parser.add_argument(
        "--out", required=True, type=Path, help="an empty or new folder for the batches"
    )
    parser.add_argument("--batches", required=True, type=positive_int, help="how many batches")
    parser.add_argument(
        "--swaps", type=non_negative_int, default=0, help="neighbouring batches delivered swapped"
    )
    parser.add_argument(
        "--resends",
        type=non_negative_int,
        default=0,
        help="batches delivered a second time at the end",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the swaps and re-sends")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (2 with one line on stderr on bad input)."""
    options = build_parser().parse_args(argv)
    if options.out.exists() and any(options.out.iterdir()):
        print(f"{PROG}: error: {options.out} is not empty", file=sys.stderr)
        return 2
    try:
        order = split(
            options.data, options.out, options.batches, options.swaps, options.resends, options.seed
        )
    except (ValueError, OSError) as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    print(f"{PROG}: {len(order)} batches in {options.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
