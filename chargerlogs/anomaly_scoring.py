"""Score the warehouse's anomalies against the generator's labelled ones.

A detection matches a label when both are on the same charger and of the same kind, their time
spans overlap (true time, ends included), and, where the label names a phase, on that phase. Per
kind, precision is the share of detections that match a label and recall the share of labels that
a detection matches; a detection that matches no label is a false alarm.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

KINDS = (
    "voltage_sag",
    "voltage_swell",
    "overheating",
    "phase_loss",
    "stuck_sensor",
    "energy_mismatch",
)


@dataclass(frozen=True)
class Span:
    """A labelled or detected anomaly: charger, kind, phase (1-3, None for a session), UNIX s."""

    charger_id: int
    kind: str
    phase: int | None
    start_s: float
    end_s: float


@dataclass(frozen=True)
class KindScore:
    """Counts and rates of one kind (or of all kinds together)."""

    kind: str
    labels: int
    detections: int
    matched_labels: int
    matched_detections: int

    @property
    def precision(self) -> float | None:
        """Matched detections / detections; None without detections."""
        return self.matched_detections / self.detections if self.detections else None

    @property
    def recall(self) -> float | None:
        """Matched labels / labels; None without labels."""
        return self.matched_labels / self.labels if self.labels else None

    @property
    def f1(self) -> float | None:
        """Harmonic mean of precision and recall; None when either is unknown."""
        precision, recall = self.precision, self.recall
        if precision is None or recall is None:
            return None
        return 2 * precision * recall / (precision + recall) if precision + recall else 0.0

    @property
    def false_alarms(self) -> int:
        """Detections that match no label."""
        return self.detections - self.matched_detections


def read_labels(path: Path) -> list[Span]:
    """The generator's ``anomalies.csv`` (true UNIX seconds, phase 1-3 or empty)."""
    with path.open(newline="", encoding="utf-8") as handle:
        return [
            Span(
                charger_id=int(row["charger_id"]),
                kind=row["kind"],
                phase=int(row["phase"]) if row["phase"] else None,
                start_s=float(row["start_time"]),
                end_s=float(row["end_time"]),
            )
            for row in csv.DictReader(handle)
        ]


def read_detections(db_path: Path) -> list[Span]:
    """Every row of ``marts.fct_anomalies`` in a warehouse file (opened read-only, then closed)."""
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        rows = con.execute(
            "select charger_id, kind, cast(right(phase, 1) as integer), epoch(started_at),"
            " epoch(ended_at) from marts.fct_anomalies"
        ).fetchall()
    finally:
        con.close()
    return [Span(int(row[0]), row[1], row[2], float(row[3]), float(row[4])) for row in rows]


def matches(detection: Span, label: Span) -> bool:
    """Whether a detection matches a label (see the module's docstring)."""
    return (
        detection.charger_id == label.charger_id
        and detection.kind == label.kind
        and (label.phase is None or detection.phase == label.phase)
        and detection.start_s <= label.end_s
        and detection.end_s >= label.start_s
    )


def score(
    labels: Sequence[Span], detections: Sequence[Span], kinds: Iterable[str] = KINDS
) -> list[KindScore]:
    """One score per kind, in the order given, then one over all kinds named ``all``."""
    label_matched = [False] * len(labels)
    detection_matched = [False] * len(detections)
    for d, detection in enumerate(detections):
        for k, label in enumerate(labels):
            if matches(detection, label):
                detection_matched[d] = True
                label_matched[k] = True

    def kind_score(kind: str, wanted: Callable[[Span], bool]) -> KindScore:
        return KindScore(
            kind=kind,
            labels=sum(1 for label in labels if wanted(label)),
            detections=sum(1 for detection in detections if wanted(detection)),
            matched_labels=sum(
                1 for k, label in enumerate(labels) if wanted(label) and label_matched[k]
            ),
            matched_detections=sum(
                1
                for d, detection in enumerate(detections)
                if wanted(detection) and detection_matched[d]
            ),
        )

    scores = [kind_score(kind, lambda span, kind=kind: span.kind == kind) for kind in kinds]
    scores.append(kind_score("all", lambda span: True))
    return scores


def false_alarms_per_1000_charger_days(false_alarms: int, charger_days: int) -> float:
    """False alarms scaled to 1,000 charger-days."""
    return false_alarms * 1000 / charger_days
