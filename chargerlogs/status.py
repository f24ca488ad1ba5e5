"""One chunk of chargers: simulate, add duplicates and defects, write the status part files."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from chargerlogs.anomalies import Anomaly
from chargerlogs.charger import ChargerOutput, simulate_charger
from chargerlogs.clock import ClockPeriod
from chargerlogs.defects import STATUS_LINE_DEFECTS, UNKNOWN_FIELDS, split_pool, spoil_status
from chargerlogs.fleet import ChargerSpec
from chargerlogs.lines import PHASE_ORDERS, format_status
from chargerlogs.options import Options
from chargerlogs.writer import write_lines

SHUFFLED_SHARE = 0.1
ID_BASE = 1_000_000_000
ID_SPAN_PER_CHUNK = 100_000_000
BASE, RESENT, CONFLICT, DUPLICATE = 0, 1, 2, 3
LAYOUTS = {False: "flat", True: "nested"}
# The defect counts of the status stream in the manifest, in their order there.
STATUS_DEFECT_KEYS = (
    "exact_duplicate",
    "resent_duplicate",
    "conflicting_duplicate",
    *STATUS_LINE_DEFECTS,
    "late_batch_rows",
    "clock_reset_rows",
    "glitch_rows",
)


@dataclass(frozen=True)
class SessionRecord:
    """A finished session as the charger cloud reports it (id assigned later).

    ``start`` and ``end`` are true times; the charger stamps them with its clock, that is
    plus ``clock_offset_s``.
    """

    charger_id: int
    index: int
    user_id: int
    energy_wh: int
    unit_price: float
    start: int
    end: int
    clock_offset_s: int


@dataclass
class ChunkResult:
    """What a chunk wrote and what the manifest needs to know about it."""

    index: int
    files: list[tuple[str, int, str, bool]]  # temporary name, lines, layout, gzip
    rows: int
    defects: dict[str, int]
    clean_rows: int
    sessions: list[SessionRecord]
    anomalies: list[Anomaly]
    clock_periods: list[ClockPeriod]
    unknown_fields: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ChunkTask:
    """The input of one chunk: which chargers, and where to write."""

    options: Options
    index: int
    specs: tuple[ChargerSpec, ...]
    clock_patterns: dict[int, str]  # charger id -> clock pattern, for reset chargers only
    status_dir: Path


@dataclass
class ChunkRows:
    """A chunk's status lines in arrival order, decided down to the byte but not yet written.

    ``rows`` holds the columns ``format_status`` reads plus, per line: ``kind`` (BASE, RESENT,
    CONFLICT or DUPLICATE), ``code`` (line defect, an index into STATUS_LINE_DEFECTS plus one;
    0 for none), ``nested`` (the line's layout), ``original_ms`` (arrival of the row it copies,
    its own for a base row) and the flags ``is_late``, ``is_glitch`` and ``is_clock_reset`` of
    the measurement. ``spoilt`` maps a line's position to its defective text; every other line
    is ``format_status`` of its row. ``bounds`` cuts the lines into the batch run's files.
    """

    index: int
    rows: dict[str, np.ndarray]
    spoilt: dict[int, str]
    bounds: list[int]
    defects: dict[str, int]
    clean_rows: int
    sessions: list[SessionRecord]
    anomalies: list[Anomaly]
    clock_periods: list[ClockPeriod]
    unknown_fields: list[str]


def build_chunk(task: ChunkTask) -> ChunkResult:
    """Simulate the chunk's chargers and write their rows as status files in arrival order."""
    chunk = arrange_chunk(task)
    return ChunkResult(
        index=task.index,
        files=_write_files(task, chunk),
        rows=len(chunk.rows["id"]),
        defects=chunk.defects,
        clean_rows=chunk.clean_rows,
        sessions=chunk.sessions,
        anomalies=chunk.anomalies,
        clock_periods=chunk.clock_periods,
        unknown_fields=chunk.unknown_fields,
    )


def arrange_chunk(task: ChunkTask) -> ChunkRows:
    """Simulate the chunk's chargers; add duplicates, copies and line defects; order by arrival."""
    options = task.options
    outputs = [
        simulate_charger(spec, options, task.clock_patterns.get(spec.charger_id))
        for spec in task.specs
    ]
    base = _concat(outputs)
    n = len(base["charger_id"])
    rng = np.random.default_rng([options.seed, 2, task.index])
    resent, resent_ms = _pick_resent(base, round(options.resend_rate * n), rng)
    eligible = np.ones(n, dtype=bool)
    eligible[resent] = False
    pool = rng.permutation(np.flatnonzero(eligible))
    rates = (
        options.duplicate_rate,
        options.conflict_rate,
        options.truncate_rate,
        options.null_key_rate,
        options.type_mismatch_rate,
        options.out_of_range_rate,
        options.null_measurement_rate,
        options.extra_field_rate,
    )
    dup, conflict, *spoilt = split_pool(pool, [round(rate * n) for rate in rates])
    line_code = np.zeros(n, dtype=np.int8)
    for code, rows in enumerate(spoilt, start=1):
        line_code[rows] = code
    conflict_ms = base["server_ms"][conflict] + rng.integers(1000, 3_600_000, size=len(conflict))

    src = np.concatenate((np.arange(n), resent, conflict, dup))
    kind = np.concatenate(
        (
            np.full(n, BASE),
            np.full(len(resent), RESENT),
            np.full(len(conflict), CONFLICT),
            np.full(len(dup), DUPLICATE),
        )
    )
    server_ms = np.concatenate((base["server_ms"], resent_ms, conflict_ms, base["server_ms"][dup]))
    tail = 2 * n + 2 * np.arange(len(resent) + len(conflict))
    tiebreak = np.concatenate((2 * np.arange(n), tail, 2 * dup + 1))
    order = np.lexsort((tiebreak, server_ms))
    src, kind, server_ms = src[order], kind[order], server_ms[order]

    rows = {name: values[src] for name, values in base.items() if name != "server_ms"}
    rows["server_ms"] = server_ms
    base_order = np.where(
        rng.random(n) < SHUFFLED_SHARE, rng.integers(1, len(PHASE_ORDERS), size=n), 0
    )
    rows["order"] = base_order[src]
    _alter_conflicts(rows, kind == CONFLICT, rng)
    rows["id"] = _event_ids(task.index, src, kind, n, rng)
    rows["kind"] = kind
    rows["code"] = np.where(kind == BASE, line_code[src], 0).astype(np.int8)
    bounds, rows["nested"] = _layouts(task, kind)
    spoilt_lines, unknown = _spoil(rows, rng)

    counts = [len(rows_) for rows_ in spoilt]
    defects = {
        "exact_duplicate": len(dup),
        "resent_duplicate": len(resent),
        "conflicting_duplicate": len(conflict),
        **dict(zip(STATUS_LINE_DEFECTS, counts, strict=True)),
        "late_batch_rows": sum(o.late_batch_rows for o in outputs),
        "clock_reset_rows": sum(o.clock_reset_rows for o in outputs),
        "glitch_rows": sum(o.glitch_rows for o in outputs),
    }
    return ChunkRows(
        index=task.index,
        rows=rows,
        spoilt=spoilt_lines,
        bounds=bounds,
        defects=defects,
        clean_rows=n - sum(counts[:4]),
        sessions=[
            SessionRecord(
                o.spec.charger_id,
                i,
                s.user_id,
                s.energy_wh,
                o.spec.unit_price,
                s.start,
                s.end,
                offset,
            )
            for o in outputs
            for i, (s, offset) in enumerate(zip(o.sessions, o.session_offsets, strict=True))
        ],
        anomalies=[a for o in outputs for a in o.anomalies],
        clock_periods=[p for o in outputs for p in o.clock_periods],
        unknown_fields=unknown,
    )


def _concat(outputs: list[ChargerOutput]) -> dict[str, np.ndarray]:
    """The chunk's base rows, charger after charger, with a chunk-wide batch number.

    ``original_ms`` is a copy of ``server_ms`` that the copies of a row keep: their original's
    arrival.
    """
    batch_offsets = np.cumsum([0] + [int(o.batch[-1]) + 1 for o in outputs[:-1]])
    return {
        "charger_id": np.concatenate([np.full(len(o.true_t), o.spec.charger_id) for o in outputs]),
        "phases": np.concatenate([np.full(len(o.true_t), o.spec.phases) for o in outputs]),
        "charger_t": np.concatenate([o.charger_t for o in outputs]),
        "server_ms": np.concatenate([o.server_ms for o in outputs]),
        "batch": np.concatenate(
            [o.batch + off for o, off in zip(outputs, batch_offsets, strict=True)]
        ),
        "current_ca": np.concatenate([o.current_ca for o in outputs]),
        "voltage_v": np.concatenate([o.voltage_v for o in outputs]),
        "temperature_c": np.concatenate([o.temperature_c for o in outputs]),
        "original_ms": np.concatenate([o.server_ms for o in outputs]),
        "is_late": np.concatenate([o.is_late for o in outputs]),
        "is_glitch": np.concatenate([o.is_glitch for o in outputs]),
        "is_clock_reset": np.concatenate([o.charger_t != o.true_t for o in outputs]),
    }


def _pick_resent(
    base: dict[str, np.ndarray], target: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Whole batches re-sent 2 s to 15 min after their upload; returns rows and new ms."""
    if target <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    batch = base["batch"]
    counts = np.bincount(batch)
    order = rng.permutation(len(counts))
    chosen = order[: int(np.searchsorted(np.cumsum(counts[order]), target)) + 1]
    delay = np.zeros(len(counts), dtype=np.int64)
    delay[chosen] = rng.integers(2000, 900_000, size=len(chosen))
    rows = np.flatnonzero(np.isin(batch, chosen))
    return rows, base["server_ms"][rows] + delay[batch[rows]]


def _alter_conflicts(
    rows: dict[str, np.ndarray], mask: np.ndarray, rng: np.random.Generator
) -> None:
    """Give conflicting copies different measurements: phase 1 temperature and voltage."""
    count = int(mask.sum())
    if count == 0:
        return
    steps = rng.choice(np.array([-3, -2, -1, 1, 2, 3]), size=(count, 2))
    for name, column in (("temperature_c", 0), ("voltage_v", 1)):
        values = rows[name].copy()
        values[mask, 0] += steps[:, column]
        rows[name] = values


def _event_ids(
    chunk: int, src: np.ndarray, kind: np.ndarray, n: int, rng: np.random.Generator
) -> np.ndarray:
    """Increasing ids in arrival order; duplicates and conflicting copies reuse the original's."""
    ids = np.zeros(len(src), dtype=np.int64)
    fresh = (kind == BASE) | (kind == RESENT)
    start = ID_BASE + chunk * ID_SPAN_PER_CHUNK
    ids[fresh] = start + np.cumsum(rng.integers(1, 4, size=int(fresh.sum())))
    by_base = np.zeros(n, dtype=np.int64)
    is_base = kind == BASE
    by_base[src[is_base]] = ids[is_base]
    ids[~fresh] = by_base[src[~fresh]]
    return ids


def _file_bounds(kind: np.ndarray, rows_per_file: int, at_least: int) -> list[int]:
    """File boundaries: at most rows_per_file rows, never starting with an exact duplicate."""
    total = len(kind)
    files = max(at_least, -(-total // rows_per_file))
    bounds = [round(total * k / files) for k in range(files + 1)]
    for k in range(1, files):
        while bounds[k] < total and kind[bounds[k]] == DUPLICATE:
            bounds[k] += 1
    return sorted(set(bounds))


def _layouts(task: ChunkTask, kind: np.ndarray) -> tuple[list[int], np.ndarray]:
    """The batch run's file bounds and whether each line is nested (else flat)."""
    options = task.options
    mixed = options.layout == "mixed"
    bounds = _file_bounds(kind, options.rows_per_file, 2 if mixed else 1)
    nested = np.zeros(len(kind), dtype=bool)
    for k in range(len(bounds) - 1):
        if mixed:
            nested[bounds[k] : bounds[k + 1]] = (task.index + k) % 2 == 0
        else:
            nested[bounds[k] : bounds[k + 1]] = options.layout == "nested"
    return bounds, nested


def _spoil(
    rows: dict[str, np.ndarray], rng: np.random.Generator
) -> tuple[dict[int, str], list[str]]:
    """The defective text of every line with a line defect, drawn in line order.

    Returns position -> line and the unknown field names written.
    """
    coded = np.flatnonzero(rows["code"])
    clean: dict[int, str] = {}
    for nested in (False, True):
        at = coded[rows["nested"][coded] == nested]
        part = {name: values[at] for name, values in rows.items()}
        clean.update(zip(at.tolist(), format_status(LAYOUTS[nested], part), strict=True))
    spoilt: dict[int, str] = {}
    unknown: set[str] = set()
    for i in coded.tolist():
        defect = STATUS_LINE_DEFECTS[int(rows["code"][i]) - 1]
        spoilt[i] = spoil_status(clean[i], defect, int(rows["phases"][i]), rng)
        if defect == "unknown_field":
            unknown.update(name for name in UNKNOWN_FIELDS if f'"{name}"' in spoilt[i])
    return spoilt, sorted(unknown)


def status_lines(rows: dict[str, np.ndarray], spoilt: dict[int, str], nested: bool) -> list[str]:
    """The lines of ``rows`` (all in one layout), defective ones as ``spoilt`` (by position)."""
    lines = format_status(LAYOUTS[nested], rows)
    for i, line in spoilt.items():
        lines[i] = line
    return lines


def _write_files(task: ChunkTask, chunk: ChunkRows) -> list[tuple[str, int, str, bool]]:
    """Write the chunk's lines into its files (cut at ``bounds``); returns their facts."""
    options = task.options
    files = []
    for k in range(len(chunk.bounds) - 1):
        lo, hi = chunk.bounds[k], chunk.bounds[k + 1]
        nested = bool(chunk.rows["nested"][lo])
        part = {name: values[lo:hi] for name, values in chunk.rows.items()}
        spoilt = {i - lo: line for i, line in chunk.spoilt.items() if lo <= i < hi}
        lines = status_lines(part, spoilt, nested)
        compress = nested and options.gzip
        name = f".chunk-{task.index:05d}-{k:04d}.tmp"
        write_lines(task.status_dir / name, lines, compress, options.gzip_level)
        files.append((name, len(lines), LAYOUTS[nested], compress))
    return files
