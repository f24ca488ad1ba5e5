"""Anomaly detection: fct_anomalies on the default build against the generator's labels, the
scoring rules, and a tiny run of the scoring command.

The default dataset (seed 42, 25 chargers, 14 days) holds 14 labelled anomalies of every kind; the
detectors find all of them with no false alarm (measured). The bounds below leave room for one
false alarm, not for a missed anomaly.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PROJECT_DIR, DefaultWarehouse, query

from chargerlogs.anomaly_scoring import KINDS, Span, matches, read_detections, read_labels, score

MIN_RECALL = 1.0  # measured on the default dataset: 14 of 14 labels found
MAX_FALSE_ALARMS = 1  # measured: 0


@pytest.fixture(scope="module")
def default_scores(default_warehouse: DefaultWarehouse) -> dict[str, object]:
    """The per-kind scores of the default build against its labels."""
    labels = read_labels(default_warehouse.data_dir / "_generator" / "anomalies.csv")
    detections = read_detections(default_warehouse.db_path)
    return {item.kind: item for item in score(labels, detections)}


def test_the_default_dataset_has_labels_of_every_kind(default_scores: dict) -> None:
    assert all(default_scores[kind].labels > 0 for kind in KINDS)


@pytest.mark.parametrize("kind", KINDS)
def test_every_labelled_anomaly_is_found(default_scores: dict, kind: str) -> None:
    assert default_scores[kind].recall >= MIN_RECALL


def test_false_alarms_stay_within_the_measured_bound(default_scores: dict) -> None:
    overall = default_scores["all"]
    assert overall.false_alarms <= MAX_FALSE_ALARMS
    assert overall.precision >= (overall.detections - MAX_FALSE_ALARMS) / overall.detections


def test_anomaly_ids_hash_charger_kind_phase_and_start(default_warehouse: DefaultWarehouse) -> None:
    rows = query(
        default_warehouse.db_path,
        "select anomaly_id, charger_id, kind, coalesce(phase, '-'), epoch_us(started_at),"
        " session_id from fct_anomalies",
    )
    assert rows
    for anomaly_id, charger_id, kind, phase, started_us, session_id in rows:
        text = f"{charger_id}|{kind}|{phase}|{started_us}"
        if kind == "energy_mismatch":  # a session's mismatch is also named by its session
            text += f"|{session_id}"
        assert anomaly_id == hashlib.md5(text.encode()).hexdigest()


def test_open_anomalies_reach_their_charger_phases_last_reading(
    default_warehouse: DefaultWarehouse,
) -> None:
    rows = query(
        default_warehouse.db_path,
        """
        with last_readings as (
            select charger_id, phase, max(corrected_measured_at) as last_measured_at
            from int_phase_readings_sequenced
            group by charger_id, phase
        )
        select fct_anomalies.is_open, fct_anomalies.ended_at = last_readings.last_measured_at
        from fct_anomalies
        inner join last_readings
            on fct_anomalies.charger_id = last_readings.charger_id
            and fct_anomalies.phase = last_readings.phase
        """,
    )
    assert rows
    assert all(is_open == reaches_last for is_open, reaches_last in rows)


def test_a_detection_matches_a_label_on_overlap_charger_kind_and_phase() -> None:
    label = Span(7, "voltage_sag", 2, 100.0, 200.0)
    assert matches(Span(7, "voltage_sag", 2, 200.0, 300.0), label)  # touching ends overlap
    assert matches(Span(7, "voltage_sag", 2, 50.0, 100.0), label)
    assert not matches(Span(7, "voltage_sag", 2, 201.0, 300.0), label)
    assert not matches(Span(7, "voltage_sag", 1, 150.0, 160.0), label)  # another phase
    assert not matches(Span(7, "voltage_swell", 2, 150.0, 160.0), label)
    assert not matches(Span(8, "voltage_sag", 2, 150.0, 160.0), label)
    session_label = Span(7, "energy_mismatch", None, 100.0, 200.0)
    assert matches(Span(7, "energy_mismatch", None, 100.0, 200.0), session_label)


def test_precision_recall_and_false_alarms_per_kind() -> None:
    labels = [Span(1, "overheating", 1, 0, 10), Span(1, "overheating", 1, 100, 110)]
    detections = [
        Span(1, "overheating", 1, 5, 6),  # matches the first label
        Span(1, "overheating", 1, 8, 20),  # matches it again: a true positive, not a new label
        Span(1, "overheating", 1, 50, 60),  # matches nothing: a false alarm
    ]
    overheating = next(item for item in score(labels, detections) if item.kind == "overheating")
    assert (overheating.labels, overheating.detections) == (2, 3)
    assert (overheating.matched_labels, overheating.matched_detections) == (1, 2)
    assert overheating.precision == pytest.approx(2 / 3)
    assert overheating.recall == pytest.approx(1 / 2)
    assert overheating.f1 == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))
    assert overheating.false_alarms == 1


def test_the_scoring_command_on_a_tiny_fleet(tmp_path: Path) -> None:
    work = tmp_path / "bench"
    command = [sys.executable, "-m", "chargerlogs.bench_anomalies", "--chargers", "3"]
    command += ["--days", "2", "--work", str(work)]
    result = subprocess.run(command, cwd=PROJECT_DIR, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    table = {
        cells[0]: cells[1:]
        for cells in (
            [cell.strip() for cell in line.strip("|").split("|")]
            for line in result.stdout.splitlines()
            if line.startswith("| ") and not line.startswith("| kind")
        )
    }
    assert set(table) == {*KINDS, "all"}
    labels = read_labels(work / "labelled" / "_generator" / "anomalies.csv")
    expected = score(labels, read_detections(work / "labelled.duckdb"))[-1]
    assert table["all"][:3] == [
        str(expected.labels),
        str(expected.detections),
        str(expected.matched_labels),
    ]
    no_anomaly = [line for line in result.stdout.splitlines() if "no-anomaly dataset" in line]
    assert len(no_anomaly) == 1
    assert ": 0 in 6 charger-days = 0.00 per 1,000 charger-days" in no_anomaly[0]
