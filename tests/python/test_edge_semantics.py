"""Edge cases of the input, each with the rule docs/input_format.md states, through a full build.

One small data folder holds every case; ``dbt build`` (models, unit, data and contract tests) runs
on it once, and each test checks one rule in the marts or the line ledger.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import query, query_dicts, run_dbt, write_lines
from test_staging_fixtures import THREE_PHASES, flat, nested, phase, session

T = 1614861230  # charger time of the first reading, 2021-03-04T12:33:50Z


def received(charger_ts: int) -> float:
    """A prompt upload, 2 s after the measurement."""
    return charger_ts + 2.0


@pytest.fixture(scope="module")
def edge_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build every model on the edge-case folder; the DuckDB file."""
    tmp = tmp_path_factory.mktemp("edges")
    data = tmp / "data"
    write_lines(
        data / "charger_log_status" / "edges.json",
        [
            # session 3600001 on charger 30001: readings at its start and end seconds
            flat(1, 30001, charger_ts=T, server_ts=received(T)),
            flat(2, 30001, charger_ts=T + 30, server_ts=received(T + 30)),
            # an empty phase array: kept, no phase, power 0
            nested(3, 30001, [], charger_ts=T + 60, server_ts=received(T + 60)),
            # an element without measurements, and an element with a key of a newer firmware
            nested(
                4,
                30001,
                [{"id": 2}, {**phase(1, 1600, 231, 38), "power_factor": 0.99}],
                charger_ts=T + 90,
                server_ts=received(T + 90),
            ),
            flat(5, 30001, charger_ts=T + 600, server_ts=received(T + 600)),
            # two sessions starting in the same second on charger 30002
            flat(6, 30002, charger_ts=T + 100, server_ts=received(T + 100)),
            # a phase id outside 1-3
            nested(
                7,
                30001,
                [phase(4, 1600, 231, 38)],
                charger_ts=T + 120,
                server_ts=received(T + 120),
            ),
            nested(8, 30001, THREE_PHASES, charger_ts=T + 150, server_ts=received(T + 150)),
        ],
    )
    write_lines(
        data / "charger_log_session" / "edges.json",
        [
            session(3600001, 30001, 500, 0.1, T, T + 600),
            session(3600002, 30002, 0, 0, T, T + 300),
            session(3600003, 30002, 0, 0, T, T + 600),
            session(3600004, 30003, 1000, 0.2, T + 1000, T),  # ends before it starts
            session(3600005, 30003, 2000, 0.4, T + 2000, T + 3000),
            session(3600005, 30003, 2500, 0.5, T + 2000, T + 3000),  # the id again, other values
        ],
    )
    db = tmp / "warehouse.duckdb"
    run_dbt(["build"], data, db, tmp)
    return db


def profile(db: Path, session_id: int) -> list[dict]:
    return query_dicts(
        db,
        "select * from fct_charging_profiles where session_id = ? order by reading_seq",
        [session_id],
    )


def reasons(db: Path, log_stream: str) -> dict[int, str | None]:
    rows = query(
        db,
        "select line_number, reason_code from int_log_lines_classified where log_stream = ?",
        [log_stream],
    )
    return dict(rows)


def test_readings_at_a_sessions_start_and_end_second_belong_to_it(edge_build: Path) -> None:
    rows = profile(edge_build, 3600001)
    assert [row["elapsed_s"] for row in rows] == [0, 30, 60, 90, 150, 600]
    assert [row["reading_id"] for row in rows] == [1, 2, 3, 4, 8, 5]


def test_empty_phase_array_is_kept_without_phases_and_flagged(edge_build: Path) -> None:
    row = next(row for row in profile(edge_build, 3600001) if row["reading_id"] == 3)
    assert row["phase_count"] == 0
    assert row["has_missing_measurement"] is True
    assert row["power_w"] == 0.0
    assert row["current_l1_a"] is None


def test_phase_element_without_measurements_is_kept_and_flagged(edge_build: Path) -> None:
    row = next(row for row in profile(edge_build, 3600001) if row["reading_id"] == 4)
    assert row["phase_count"] == 2
    assert row["has_missing_measurement"] is True
    assert row["current_l1_a"] == 16.0 and row["current_l2_a"] is None


def test_unknown_key_inside_phase_elements_is_reported_by_path(edge_build: Path) -> None:
    rows = query(
        edge_build, "select json_key, line_count, first_line_number from rpt_unexpected_keys"
    )
    assert rows == [("charger_phases[].power_factor", 1, 4)]


def test_phase_id_outside_one_to_three_is_quarantined(edge_build: Path) -> None:
    assert reasons(edge_build, "status")[7] == "invalid_phase_array"


def test_two_sessions_starting_in_the_same_second_the_higher_id_takes_the_readings(
    edge_build: Path,
) -> None:
    rows = query(
        edge_build,
        "select session_id, reading_count, is_overlapping from fct_session_briefings"
        " where charger_id = 30002 order by session_id",
    )
    assert rows == [(3600002, 0, True), (3600003, 1, True)]


def test_session_ending_before_it_starts_is_quarantined(edge_build: Path) -> None:
    assert reasons(edge_build, "session")[4] == "end_before_start"
    briefed = query(edge_build, "select session_id from fct_session_briefings order by 1")
    assert briefed == [(3600001,), (3600002,), (3600003,), (3600005,)]


def test_session_id_repeated_with_other_values_keeps_the_first(edge_build: Path) -> None:
    assert reasons(edge_build, "session")[5] is None
    assert reasons(edge_build, "session")[6] == "conflicting_duplicate"
    energy = query(
        edge_build,
        "select reported_energy_wh from fct_session_briefings where session_id = 3600005",
    )
    assert energy == [(2000.0,)]
