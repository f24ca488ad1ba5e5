"""The ground-truth files of ``_generator/``: labelled anomalies and charger clock periods."""

from __future__ import annotations

import csv
from pathlib import Path

from chargerlogs.anomalies import KINDS, Anomaly
from chargerlogs.clock import ClockPeriod
from chargerlogs.status import SessionRecord


def write_anomalies(path: Path, anomalies: list[Anomaly], ids: dict[tuple[int, int], int]) -> None:
    """The ground truth of the labelled anomalies, ordered by start time."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("charger_id", "session_id", "phase", "start_time", "end_time", "kind"))
        for a in sorted(anomalies, key=lambda a: (a.start, a.charger_id, a.kind)):
            writer.writerow(
                (
                    a.charger_id,
                    ids[(a.charger_id, a.session)],
                    "" if a.phase is None else a.phase,
                    a.start,
                    a.end,
                    a.kind,
                )
            )


def write_clock_periods(path: Path, periods: list[ClockPeriod]) -> None:
    """The ground truth of every charger's clock: its periods of true time and their offsets."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(
            ("charger_id", "period_start_server_time", "period_end_server_time", "offset_s")
        )
        for p in sorted(periods, key=lambda p: (p.charger_id, p.start)):
            writer.writerow((p.charger_id, p.start, p.end, p.offset_s))


def anomaly_counts(anomalies: list[Anomaly]) -> dict[str, int]:
    """The number of labelled anomalies of each kind, for the manifest."""
    return {kind: sum(a.kind == kind for a in anomalies) for kind in KINDS}


def clock_summary(periods: list[ClockPeriod], sessions: list[SessionRecord]) -> dict[str, object]:
    """The manifest's summary of the clock periods and of the sessions stamped in a reset clock."""
    return {
        "periods": len(periods),
        "synced_chargers": sorted(
            {p.charger_id for p in periods if p.offset_s}
            & {p.charger_id for p in periods if p.offset_s == 0}
        ),
        "reset_sessions": sum(1 for s in sessions if s.clock_offset_s),
    }
