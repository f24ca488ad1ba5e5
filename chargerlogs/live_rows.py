"""The lines of a live window, cut by arrival into batch periods.

The rows are the batch run's: each chunk of chargers is simulated and arranged exactly as
``chargerlogs-generate`` does (same seed, same days), then only the lines that arrive in the
window are kept. A status line arrives at its ``server_timestamp``, a session line at the
session's true end (unplug).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chargerlogs.anomalies import Anomaly
from chargerlogs.clock import ClockPeriod
from chargerlogs.defects import STATUS_LINE_DEFECTS, UNKNOWN_FIELDS
from chargerlogs.sessions import SessionLines
from chargerlogs.status import (
    BASE,
    CONFLICT,
    DUPLICATE,
    RESENT,
    ChunkTask,
    SessionRecord,
    arrange_chunk,
    status_lines,
)

# Compact types of the columns held for the whole window; the others stay int64.
_COMPACT = {
    "charger_id": np.int32,
    "phases": np.int8,
    "current_ca": np.int32,
    "voltage_v": np.int32,
    "temperature_c": np.int32,
    "order": np.int8,
}
_DROPPED = ("batch",)
# Line defects that the warehouse quarantines (the others leave the row valid).
_INVALID_CODES = tuple(range(1, 5))
_NAMED = {name: code for code, name in enumerate(STATUS_LINE_DEFECTS, start=1)}


@dataclass(frozen=True)
class WindowTask:
    """One chunk of chargers and the live window, in server milliseconds [start_ms, end_ms)."""

    chunk: ChunkTask
    start_ms: int
    end_ms: int


@dataclass
class WindowChunk:
    """A chunk's status lines that arrive in the window, and the chunk's whole simulation."""

    index: int
    rows: dict[str, np.ndarray]  # the columns of ChunkRows.rows, in arrival order
    spoilt: dict[int, str]  # position in rows -> defective line
    sessions: list[SessionRecord]
    anomalies: list[Anomaly]
    clock_periods: list[ClockPeriod]


def window_chunk(task: WindowTask) -> WindowChunk:
    """Arrange a chunk as the batch run does and keep the lines arriving in the window."""
    chunk = arrange_chunk(task.chunk)
    lo, hi = np.searchsorted(chunk.rows["server_ms"], [task.start_ms, task.end_ms])
    rows = {
        name: values[lo:hi].astype(_COMPACT.get(name, values.dtype))
        for name, values in chunk.rows.items()
        if name not in _DROPPED
    }
    return WindowChunk(
        index=chunk.index,
        rows=rows,
        spoilt={i - lo: line for i, line in chunk.spoilt.items() if lo <= i < hi},
        sessions=chunk.sessions,
        anomalies=chunk.anomalies,
        clock_periods=chunk.clock_periods,
    )


class StatusWindow:
    """Every status line of the window in arrival order: server time, then chunk, then the
    chunk's own order (the order of the batch run's files)."""

    def __init__(self, chunks: list[WindowChunk], start_ms: int, batch_ms: int, batches: int):
        """Merge the chunks' lines (in chunk order), taking their columns out of ``chunks``."""
        sizes = [len(c.rows["server_ms"]) for c in chunks]
        order = np.argsort(np.concatenate([c.rows["server_ms"] for c in chunks]), kind="stable")
        self.rows: dict[str, np.ndarray] = {}
        for name in list(chunks[0].rows):
            self.rows[name] = np.concatenate([c.rows.pop(name) for c in chunks])[order]
        position = np.empty(len(order), dtype=np.int64)
        position[order] = np.arange(len(order))
        self.spoilt: dict[int, str] = {}
        for chunk, offset in zip(chunks, np.cumsum([0, *sizes[:-1]]).tolist(), strict=True):
            for i, line in chunk.spoilt.items():
                self.spoilt[int(position[offset + i])] = line
        self.start_ms = start_ms
        ends = start_ms + batch_ms * np.arange(batches + 1, dtype=np.int64)
        self.edges = np.searchsorted(self.rows["server_ms"], ends).tolist()

    def __len__(self) -> int:
        return len(self.rows["server_ms"])

    def lines(self, batch: int) -> dict[str, list[str]]:
        """The batch's lines by layout ("flat", "nested"), in arrival order; empty layouts left
        out."""
        lo, hi = self.edges[batch], self.edges[batch + 1]
        out = {}
        for nested, layout in ((False, "flat"), (True, "nested")):
            at = lo + np.flatnonzero(self.rows["nested"][lo:hi] == nested)
            if len(at) == 0:
                continue
            part = {name: values[at] for name, values in self.rows.items()}
            coded = np.flatnonzero(part["code"]).tolist()
            local = {k: self.spoilt[int(at[k])] for k in coded}
            out[layout] = status_lines(part, local, nested)
        return out

    def unknown_fields(self, batch: int) -> set[str]:
        """The unknown field names written in the batch's lines."""
        lo, hi = self.edges[batch], self.edges[batch + 1]
        at = lo + np.flatnonzero(self.rows["code"][lo:hi] == _NAMED["unknown_field"])
        lines = [self.spoilt[int(i)] for i in at]
        return {name for name in UNKNOWN_FIELDS for line in lines if f'"{name}"' in line}

    def tally(self, batch: int) -> dict[str, int]:
        """The batch's lines, clean rows and defects, counted as the manifest counts them.

        A re-sent or conflicting copy whose original arrived before the window is the first
        arrival of its reading in the window's files: it counts as a clean row and as a
        ``copy_of_earlier_row``, not as a duplicate.
        """
        lo, hi = self.edges[batch], self.edges[batch + 1]
        kind = self.rows["kind"][lo:hi]
        code = self.rows["code"][lo:hi]
        earlier = self.rows["original_ms"][lo:hi] < self.start_ms
        base = kind == BASE
        copy = (kind == RESENT) | (kind == CONFLICT)
        invalid = np.isin(code, _INVALID_CODES)
        counts = {
            "lines": hi - lo,
            "clean_rows": int(np.count_nonzero(base & ~invalid) + np.count_nonzero(copy & earlier)),
            "exact_duplicate": int(np.count_nonzero(kind == DUPLICATE)),
            "resent_duplicate": int(np.count_nonzero((kind == RESENT) & ~earlier)),
            "conflicting_duplicate": int(np.count_nonzero((kind == CONFLICT) & ~earlier)),
        }
        for name, number in _NAMED.items():
            counts[name] = int(np.count_nonzero(code == number))
        for name, flag in (
            ("late_batch_rows", "is_late"),
            ("clock_reset_rows", "is_clock_reset"),
            ("glitch_rows", "is_glitch"),
        ):
            counts[name] = int(np.count_nonzero(base & self.rows[flag][lo:hi]))
        counts["copy_of_earlier_row"] = int(np.count_nonzero(copy & earlier))
        return counts


class SessionWindow:
    """The session lines that arrive in the window (at their session's true end), by batch."""

    def __init__(self, stream: SessionLines, start_s: int, batch_s: int, batches: int):
        self.stream = stream
        ends = start_s + batch_s * np.arange(batches + 1, dtype=np.int64)
        self.edges = np.searchsorted(np.array(stream.arrivals, dtype=np.int64), ends).tolist()

    def lines(self, batch: int) -> list[str]:
        """The batch's session lines, in arrival order."""
        return self.stream.lines[self.edges[batch] : self.edges[batch + 1]]

    def labels(self, batch: int) -> list[str]:
        """The defect label of each of the batch's session lines ("" for a clean line)."""
        return self.stream.labels[self.edges[batch] : self.edges[batch + 1]]
