"""The session stream: ids in arrival order, duplicates and defects, flat JSON lines."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from chargerlogs.defects import SESSION_LINE_DEFECTS, split_pool, spoil_session
from chargerlogs.options import Options
from chargerlogs.status import SessionRecord
from chargerlogs.writer import write_lines

FIRST_SESSION_ID = 3_500_000
LAST_SESSION_ID = 4_500_000
SESSION_ROWS_PER_FILE = 1_000
SESSION_DEFECT_KINDS = ("exact_duplicate", *SESSION_LINE_DEFECTS)
_TEMPLATE = (
    '{"id": %d, "charger_id": %d, "user_id": %d, "energy": %d, "total_cost": %.2f, '
    '"start_time": %d, "end_time": %d}'
)


@dataclass
class SessionStream:
    """What the session stream wrote, for the manifest."""

    files: dict[str, dict[str, object]]
    lines: int
    clean_rows: int
    defects: dict[str, int]
    ids: dict[tuple[int, int], int]  # (charger_id, index within charger) -> session id


@dataclass
class SessionLines:
    """The session stream's lines in arrival order, before they are cut into files.

    ``arrivals`` is each line's arrival (the session's true end, UNIX seconds) and ``labels``
    its defect: "" for a clean line, "exact_duplicate" for the second copy, else one of
    SESSION_LINE_DEFECTS.
    """

    lines: list[str]
    arrivals: list[int]
    labels: list[str]
    ids: dict[tuple[int, int], int]  # (charger_id, index within charger) -> session id


def defect_counts(labels: list[str]) -> dict[str, int]:
    """The number of session lines of each defect kind, for lines labelled as in SessionLines."""
    return {kind: labels.count(kind) for kind in SESSION_DEFECT_KINDS}


def session_cost(energy_wh: int, unit_price: float) -> float:
    """total_cost in EUR: energy in kWh times the unit price, rounded to cents."""
    return round(energy_wh / 1000 * unit_price, 2)


def session_rng(options: Options) -> np.random.Generator:
    """The random generator of the session stream."""
    return np.random.default_rng([options.seed, 3])


def session_lines(
    records: list[SessionRecord], options: Options, rng: np.random.Generator
) -> SessionLines:
    """The sessions in arrival (true end) order, stamped with their charger's clock.

    Ids, duplicates and line defects are drawn from ``rng`` (``session_rng``).
    """
    records = sorted(records, key=lambda r: (r.end, r.charger_id, r.start))
    n = len(records)
    step = max(1, min(40, (LAST_SESSION_ID - FIRST_SESSION_ID - 100_000) // max(n, 1)))
    ids = (
        FIRST_SESSION_ID
        + int(rng.integers(0, 100_000))
        + np.cumsum(rng.integers(1, step + 1, size=n))
    )
    clean = [
        _TEMPLATE
        % (
            int(i),
            r.charger_id,
            r.user_id,
            r.energy_wh,
            session_cost(r.energy_wh, r.unit_price),
            r.start + r.clock_offset_s,
            r.end + r.clock_offset_s,
        )
        for i, r in zip(ids, records, strict=True)
    ]
    rates = (
        options.duplicate_rate,
        options.truncate_rate,
        options.null_key_rate,
        options.type_mismatch_rate,
        options.end_before_start_rate,
    )
    dup, *spoilt = split_pool(rng.permutation(n), [round(rate * n) for rate in rates])
    lines = list(clean)
    labels = [""] * n
    for defect, rows in zip(SESSION_LINE_DEFECTS, spoilt, strict=True):
        for row in rows:
            lines[row] = spoil_session(clean[row], defect, rng)
            labels[row] = defect
    doubled = set(dup.tolist())
    stream = SessionLines(
        lines=[],
        arrivals=[],
        labels=[],
        ids={(r.charger_id, r.index): int(i) for i, r in zip(ids, records, strict=True)},
    )
    for row, line in enumerate(lines):
        copies = 2 if row in doubled else 1
        stream.lines += [line] * copies
        stream.arrivals += [records[row].end] * copies
        stream.labels += [labels[row], "exact_duplicate"][:copies]
    return stream


def write_sessions(records: list[SessionRecord], options: Options, folder: Path) -> SessionStream:
    """Write the sessions in arrival (true end) order into files of up to 1,000 lines.

    Returns the manifest facts.
    """
    rng = session_rng(options)
    stream = session_lines(records, options, rng)
    written = stream.lines
    job = uuid.UUID(int=int(rng.integers(0, 2**63)) << 64 | int(rng.integers(0, 2**63)), version=4)
    files: dict[str, dict[str, object]] = {}
    for k, first in enumerate(range(0, max(len(written), 1), SESSION_ROWS_PER_FILE)):
        part = written[first : first + SESSION_ROWS_PER_FILE]
        name = f"part-{k:05d}-{job}.json"
        write_lines(folder / name, part, False, 0)
        files[f"{folder.name}/{name}"] = {"lines": len(part), "layout": "flat", "gzip": False}
    return SessionStream(
        files=files,
        lines=len(written),
        clean_rows=stream.labels.count(""),
        defects=defect_counts(stream.labels),
        ids=stream.ids,
    )
