"""Staging, quarantine and de-duplication on small hand-written log files.

One data folder holds every case (each case on its own chargers, so that the de-duplication of one
case cannot touch another) and is built once with ``dbt build``, which also runs the data tests.
Each test then checks the values one case must produce.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
from conftest import build_data_quality, count_non_blank_lines, query, query_dicts, write_lines

# 2021-03-04T12:34:01.512Z, written as an ISO string (nested) and as UNIX seconds (flat).
SERVER_ISO = "2021-03-04T12:34:01.512Z"
SERVER_S = datetime.fromisoformat(SERVER_ISO).timestamp()
CHARGER_S = 1614861230
CLOCK_RESET_S = 978307200  # 2001-01-01, a charger clock reset years back

# Files of the status stream
MIXED = "charger_log_status-1.json"  # both layouts in one file, line defects
PHASES = "part-00000-5f0c1b8e.json.gz"  # nested, gzip-compressed, phase arrays
DEDUP = "charger_log_status-2.json"  # duplicates, clocks
TRUNCATED_LAST = "charger_log_status-3.json"  # last line cut, no newline at the end
EMPTY = "charger_log_status-4.json"  # no line at all
INDENTED = "charger_log_status-5.json"  # a JSON line indented with a tab
NOT_READ = (".part-00000-5f0c1b8e.json.gz.crc", "notes.json.bak")  # neither *.json nor *.json.gz
# Files of the session stream
SESSIONS = "part-00000-9a7d2c4e.json"


def flat(
    event_id: Any,
    charger_id: Any,
    *,
    charger_ts: Any = CHARGER_S,
    server_ts: Any = SERVER_S,
    currents: tuple[Any, Any, Any] = (1600, 1597, 1602),
    voltages: tuple[Any, Any, Any] = (231, 229, 230),
    temperatures: tuple[Any, Any, Any] = (38, 37, 39),
    **extra: Any,
) -> dict[str, Any]:
    """A status event in the documented flat layout; ``extra`` adds or overrides keys."""
    row: dict[str, Any] = {"id": event_id, "charger_id": charger_id}
    for phase in (1, 2, 3):
        row[f"ac_current_rms_{phase}"] = currents[phase - 1]
        row[f"ac_voltage_rms_{phase}"] = voltages[phase - 1]
        row[f"temperature_{phase}"] = temperatures[phase - 1]
    row.update(charger_timestamp=charger_ts, server_timestamp=server_ts)
    row.update(extra)
    return row


def phase(phase_id: int, current: Any, voltage: Any, temperature: Any) -> dict[str, Any]:
    """One element of the nested layout's ``charger_phases`` array."""
    return {
        "id": phase_id,
        "temperature": temperature,
        "ac_current_rms": current,
        "ac_voltage_rms": voltage,
    }


def nested(
    event_id: Any,
    charger_id: Any,
    phases: list[dict[str, Any]],
    *,
    charger_ts: Any = CHARGER_S,
    server_ts: Any = SERVER_ISO,
) -> dict[str, Any]:
    """A status event in the nested (Spark export) layout."""
    return {
        "id": event_id,
        "charger_id": charger_id,
        "charger_phases": phases,
        "charger_timestamp": charger_ts,
        "server_timestamp": server_ts,
    }


def session(
    session_id: int, charger_id: int, energy: Any, total_cost: Any, start: int, end: int
) -> dict[str, Any]:
    """A session event."""
    return {
        "id": session_id,
        "charger_id": charger_id,
        "user_id": 88121,
        "energy": energy,
        "total_cost": total_cost,
        "start_time": start,
        "end_time": end,
    }


THREE_PHASES = [phase(1, 1600, 231, 38), phase(2, 1597, 229, 37), phase(3, 1602, 230, 39)]

# Line numbers below are 1-based and count blank lines, as the warehouse does.
MIXED_LINES: list[str | dict[str, Any]] = [
    flat(101, 20001),  # 1: flat, numeric server time
    nested(102, 20002, THREE_PHASES),  # 2: nested, ISO server time, same instant
    flat(103, 20003, firmware_version="1.4.2"),  # 3: unknown key
    "",  # 4: blank
    flat(104, 20003, charger_ts=CHARGER_S + 30, firmware_version="1.4.2", meter_serial="M-77"),
    # 6: phase-2 temperature left out
    {k: v for k, v in flat(105, 20004).items() if k != "temperature_2"},
    # 7: nested, phase-1 temperature left out
    nested(106, 20005, [{"id": 1, "ac_current_rms": 1600, "ac_voltage_rms": 231}]),
    flat(107, 20006, voltages=(231, 229, None)),  # 8: explicit null measurement
    flat(108, None),  # 9: explicit null key field
    nested(None, 20007, THREE_PHASES),  # 10: explicit null event id
    flat(110, 20008, currents=("1600", 1597, 1602)),  # 11: a number written as a string
    nested(111, 20009, [phase(1, 1600, 231, "n/a")]),  # 12: not a number
    '{"id": 112, "charger_id": 20010, "ac_current_rms_1": 16',  # 13: truncated mid-file
    flat(113, 20011, currents=(-1600, 1597, 1602)),  # 14: negative current
    flat(114, 20012, currents=(3200, None, None), voltages=(230, None, None),
         temperatures=(41, None, None)),  # 15: single-phase charger, flat layout
]  # fmt: skip

PHASE_LINES: list[str | dict[str, Any]] = [
    nested(201, 20101, [phase(1, 3150, 228, 44)]),
    nested(202, 20102, [phase(2, 1210, 232, 35), phase(1, 1110, 231, 34)]),
    nested(203, 20103, [phase(3, 1303, 233, 43), phase(1, 1101, 221, 41), phase(2, 1202, 222, 42)]),
]

DEDUP_LINES: list[str | dict[str, Any]] = [
    # 1-2: event id 301 twice with other values; the later arrival is written first
    flat(301, 20201, server_ts=SERVER_S + 60, temperatures=(40, 37, 39)),
    flat(301, 20201),
    # 3-4: the same line twice
    flat(302, 20202),
    flat(302, 20202),
    # 5-6: a batch re-sent under a new id, later server time
    flat(303, 20203),
    flat(304, 20203, server_ts=SERVER_S + 120),
    # 7: clock reset years back
    flat(305, 20204, charger_ts=CLOCK_RESET_S),
    # 8: uploaded two hours late; 9: on time
    flat(306, 20205, charger_ts=int(SERVER_S) - 7200),
    flat(307, 20205, charger_ts=int(SERVER_S) - 5),
]

TRUNCATED_LAST_LINES: list[str | dict[str, Any]] = [
    flat(401, 20301),
    '{"id": 402, "charger_id": 20301, "charger_phases": [{"id": 1, "temp',
]

SESSION_LINES: list[str | dict[str, Any]] = [
    session(3500001, 20001, 12873, 2.57, 1614860000, 1614888000),
    session(3500002, 20002, 5000, 1.0, 1614900000, 1614890000),  # ends before it starts
    session(3500003, 20003, 10000, 3.5, 1614950000, 1614960000),
]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture data folder with every case."""
    root = tmp_path_factory.mktemp("fixtures") / "data"
    status = root / "charger_log_status"
    write_lines(status / MIXED, MIXED_LINES)
    write_lines(status / PHASES, PHASE_LINES)
    write_lines(status / DEDUP, DEDUP_LINES)
    write_lines(status / TRUNCATED_LAST, TRUNCATED_LAST_LINES, newline_at_end=False)
    write_lines(status / EMPTY, [])
    write_lines(status / INDENTED, ["\t" + json.dumps(flat(9901, 20901))])
    (status / "_SUCCESS").write_bytes(b"")
    for name in NOT_READ:  # Spark's checksum (binary, not UTF-8) and a backup copy
        (status / name).write_bytes(bytes(range(256)))
    write_lines(root / "charger_log_session" / SESSIONS, SESSION_LINES)
    return root


@pytest.fixture(scope="module")
def warehouse(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The DuckDB file after ``dbt build`` of the data-quality models (their data tests pass)."""
    return build_data_quality(data_dir, tmp_path_factory.mktemp("build"))


def status_row(warehouse: Path, reading_id: int) -> dict[str, Any]:
    """The single clean reading of a reading id, with every column staging gives it."""
    rows = query_dicts(
        warehouse,
        "select * from int_readings_classified where reason_code is null and reading_id = ?",
        [reading_id],
    )
    assert len(rows) == 1, f"reading {reading_id}: {len(rows)} clean rows"
    return rows[0]


def classified(warehouse: Path, file_name: str) -> dict[int, tuple[str, str | None]]:
    """Disposition and reason code of every non-blank line of a file, by line number."""
    rows = query(
        warehouse,
        "select line_number, disposition, reason_code from int_log_lines_classified"
        " where source_file like '%/' || ?",
        [file_name],
    )
    return {line: (disposition, reason) for line, disposition, reason in rows}


def quarantined(warehouse: Path, file_name: str) -> dict[int, tuple[str, str]]:
    """Reason code and raw text of every quarantined line of a file, by line number."""
    rows = query(
        warehouse,
        "select line_number, reason_code, raw_line from rpt_quarantined_lines"
        " where source_file like '%/' || ?",
        [file_name],
    )
    return {line: (reason, raw) for line, reason, raw in rows}


def encoded(line: str | dict[str, Any]) -> str:
    return line if isinstance(line, str) else json.dumps(line)


# Reconciliation


def test_every_file_is_reconciled_and_counts_its_non_blank_lines(
    warehouse: Path, data_dir: Path
) -> None:
    rows = query_dicts(warehouse, "select * from rpt_ingestion_reconciliation")
    by_name = {Path(row["source_file"]).name: row for row in rows}
    files = {
        path.name: path
        for pattern in ("charger_log_s*/*.json", "charger_log_s*/*.json.gz")
        for path in data_dir.glob(pattern)
    }
    assert set(by_name) == set(files)
    for name, row in by_name.items():
        assert row["raw_lines"] == count_non_blank_lines(files[name]), name
        assert row["raw_lines"] == (
            row["clean_rows"] + row["quarantined_rows"] + row["duplicate_rows"]
        ), name
        assert row["is_reconciled"] is True, name
        assert row["is_gzip"] is name.endswith(".gz"), name


def test_reconciliation_outcomes_per_file(warehouse: Path) -> None:
    rows = query(
        warehouse,
        "select source_file, log_stream, raw_lines, clean_rows, quarantined_rows,"
        " duplicate_rows from rpt_ingestion_reconciliation",
    )
    outcomes = {Path(row[0]).name: row[1:] for row in rows}
    assert outcomes == {
        MIXED: ("status", 14, 9, 5, 0),
        PHASES: ("status", 3, 3, 0, 0),
        DEDUP: ("status", 9, 6, 1, 2),
        TRUNCATED_LAST: ("status", 2, 1, 1, 0),
        EMPTY: ("status", 0, 0, 0, 0),
        INDENTED: ("status", 1, 1, 0, 0),
        SESSIONS: ("session", 3, 2, 1, 0),
    }


# Layouts, unit conversion, times


def test_flat_and_nested_layouts_in_one_file(warehouse: Path) -> None:
    layouts = dict(
        query(
            warehouse,
            "select line_number, line_layout from int_readings_classified"
            " where source_file like '%/' || ? and reason_code is null",
            [MIXED],
        )
    )
    assert layouts == {
        1: "flat",
        2: "nested",
        3: "flat",
        5: "flat",
        6: "flat",
        7: "nested",
        8: "flat",
        11: "flat",
        15: "flat",
    }


def test_flat_and_nested_files_in_one_folder(warehouse: Path) -> None:
    rows = query(
        warehouse,
        "select regexp_extract(source_file, '[^/]+$'),"
        " list(distinct line_layout order by line_layout)"
        " from int_readings_deduplicated group by 1",
    )
    assert dict(rows) == {
        MIXED: ["flat", "nested"],
        PHASES: ["nested"],
        DEDUP: ["flat"],
        TRUNCATED_LAST: ["flat"],
        INDENTED: ["flat"],
    }


def test_units_are_converted(warehouse: Path) -> None:
    row = status_row(warehouse, 101)
    assert row["current_l1_a"] == pytest.approx(16.0)
    assert row["current_l2_a"] == pytest.approx(15.97)
    assert row["current_l3_a"] == pytest.approx(16.02)
    assert (row["voltage_l1_v"], row["voltage_l2_v"], row["voltage_l3_v"]) == (231, 229, 230)
    assert (row["temperature_l1_c"], row["temperature_l2_c"], row["temperature_l3_c"]) == (
        38,
        37,
        39,
    )
    assert row["measured_epoch_s"] == CHARGER_S
    assert row["measured_at"] == datetime(2021, 3, 4, 12, 33, 50)


def test_iso_and_unix_server_timestamps_give_the_same_instant(warehouse: Path) -> None:
    from_number = status_row(warehouse, 101)
    from_iso = status_row(warehouse, 102)
    assert (from_number["line_layout"], from_iso["line_layout"]) == ("flat", "nested")
    expected = datetime(2021, 3, 4, 12, 34, 1, 512000)
    assert from_number["received_at"] == expected
    assert from_iso["received_at"] == expected
    assert math.isclose(from_iso["received_epoch_s"], SERVER_S, abs_tol=1e-6)
    assert math.isclose(from_number["received_epoch_s"], SERVER_S, abs_tol=1e-6)
    # the same values in both layouts land in the same columns
    measures = [f"{m}_l{p}_{u}" for p in (1, 2, 3) for m, u in (("current", "a"), ("voltage", "v"))]
    assert [from_iso[c] for c in measures] == [from_number[c] for c in measures]


# Nested phase arrays


def test_nested_single_phase(warehouse: Path) -> None:
    row = status_row(warehouse, 201)
    assert row["phase_count"] == 1
    assert (row["current_l1_a"], row["voltage_l1_v"], row["temperature_l1_c"]) == (31.5, 228, 44)
    other_phases = [
        row[f"{m}_l{p}_{u}"]
        for p in (2, 3)
        for m, u in (("current", "a"), ("voltage", "v"), ("temperature", "c"))
    ]
    assert other_phases == [None] * 6
    assert row["has_missing_measurement"] is False


def test_nested_two_phases_listed_out_of_order(warehouse: Path) -> None:
    row = status_row(warehouse, 202)
    assert row["phase_count"] == 2
    assert (row["current_l1_a"], row["voltage_l1_v"], row["temperature_l1_c"]) == (11.1, 231, 34)
    assert (row["current_l2_a"], row["voltage_l2_v"], row["temperature_l2_c"]) == (12.1, 232, 35)
    assert (row["current_l3_a"], row["voltage_l3_v"], row["temperature_l3_c"]) == (None,) * 3
    assert row["has_missing_measurement"] is False


def test_nested_three_phases_shuffled_land_by_element_id(warehouse: Path) -> None:
    row = status_row(warehouse, 203)
    assert row["phase_count"] == 3
    # written in the order 3, 1, 2
    expected = {1: (11.01, 221, 41), 2: (12.02, 222, 42), 3: (13.03, 233, 43)}
    for phase_id, (current, voltage, temperature) in expected.items():
        assert row[f"current_l{phase_id}_a"] == pytest.approx(current), phase_id
        assert row[f"voltage_l{phase_id}_v"] == voltage, phase_id
        assert row[f"temperature_l{phase_id}_c"] == temperature, phase_id


def test_flat_single_phase_charger(warehouse: Path) -> None:
    row = status_row(warehouse, 114)
    assert row["phase_count"] == 1
    assert row["current_l1_a"] == pytest.approx(32.0)
    assert row["current_l2_a"] is None and row["voltage_l3_v"] is None
    assert row["has_missing_measurement"] is False


def test_gzip_file_is_read(warehouse: Path) -> None:
    rows = query(
        warehouse,
        "select is_gzip, raw_lines, clean_rows from rpt_ingestion_reconciliation"
        " where source_file like '%/' || ?",
        [PHASES],
    )
    assert rows == [(True, 3, 3)]
    events = query(
        warehouse,
        "select line_number, reading_id from int_readings_classified"
        " where reason_code is null and source_file like '%/' || ? order by line_number",
        [PHASES],
    )
    assert events == [(1, 201), (2, 202), (3, 203)]


# Unknown keys, missing and null values


def test_unknown_field_is_kept_and_listed(warehouse: Path) -> None:
    for reading_id in (103, 104):
        row = status_row(warehouse, reading_id)
        assert len(row["unexpected_keys"]) > 0
        assert row["current_l1_a"] == pytest.approx(16.0)
    keys = query(
        warehouse,
        "select regexp_extract(source_file, '[^/]+$'), log_stream, json_key, line_count,"
        " first_line_number from rpt_unexpected_keys order by json_key",
    )
    assert keys == [
        (MIXED, "status", "firmware_version", 2, 3),
        (MIXED, "status", "meter_serial", 1, 5),
    ]


def test_omitted_measurement_is_null_and_flagged(warehouse: Path) -> None:
    flat_row = status_row(warehouse, 105)
    assert flat_row["temperature_l2_c"] is None
    assert flat_row["temperature_l1_c"] == 38 and flat_row["current_l2_a"] == pytest.approx(15.97)
    assert flat_row["phase_count"] == 3
    assert flat_row["has_missing_measurement"] is True
    nested_row = status_row(warehouse, 106)
    assert nested_row["temperature_l1_c"] is None
    assert nested_row["current_l1_a"] == pytest.approx(16.0)
    assert nested_row["phase_count"] == 1
    assert nested_row["has_missing_measurement"] is True


def test_explicit_null_measurement_is_kept_and_flagged(warehouse: Path) -> None:
    row = status_row(warehouse, 107)
    assert row["voltage_l3_v"] is None
    assert row["current_l3_a"] == pytest.approx(16.02)
    assert row["phase_count"] == 3
    assert row["has_missing_measurement"] is True
    complete = status_row(warehouse, 101)
    assert complete["has_missing_measurement"] is False


def test_explicit_null_key_field_is_quarantined(warehouse: Path) -> None:
    lines = quarantined(warehouse, MIXED)
    assert lines[9] == ("missing_key_field", encoded(MIXED_LINES[8]))
    assert lines[10] == ("missing_key_field", encoded(MIXED_LINES[9]))
    record = query(
        warehouse,
        "select record_id, charger_id from rpt_quarantined_lines"
        " where source_file like '%/' || ? and line_number = 9",
        [MIXED],
    )
    assert record == [(108, None)]


# Type drift and malformed lines


def test_a_number_written_as_a_string_is_read_and_flagged(warehouse: Path) -> None:
    row = status_row(warehouse, 110)  # "1600"
    assert row["current_l1_a"] == pytest.approx(16.0)
    assert row["has_string_number"] is True
    assert status_row(warehouse, 101)["has_string_number"] is False
    assert classified(warehouse, MIXED)[11] == ("clean", None)


def test_a_string_that_is_not_a_number_is_a_type_mismatch(warehouse: Path) -> None:
    assert quarantined(warehouse, MIXED)[12] == ("type_mismatch", encoded(MIXED_LINES[11]))
    kept = query(warehouse, "select count(*) from int_readings_deduplicated where reading_id = 111")
    assert kept == [(0,)]


def test_negative_current_is_out_of_range(warehouse: Path) -> None:
    assert quarantined(warehouse, MIXED)[14] == ("out_of_range", encoded(MIXED_LINES[13]))


def test_truncated_line_mid_file(warehouse: Path) -> None:
    lines = quarantined(warehouse, MIXED)
    assert lines[13] == (
        "malformed_json",
        '{"id": 112, "charger_id": 20010, "ac_current_rms_1": 16',
    )
    assert set(lines) == {9, 10, 12, 13, 14}
    # the lines around the cut one are read as usual
    assert status_row(warehouse, 114)["line_number"] == 15


def test_truncated_last_line_without_newline(warehouse: Path, data_dir: Path) -> None:
    assert not (data_dir / "charger_log_status" / TRUNCATED_LAST).read_bytes().endswith(b"\n")
    assert quarantined(warehouse, TRUNCATED_LAST) == {
        2: ("malformed_json", TRUNCATED_LAST_LINES[1])
    }
    assert status_row(warehouse, 401)["line_number"] == 1


def test_empty_file_is_listed_with_no_lines(warehouse: Path) -> None:
    rows = query(
        warehouse,
        "select log_stream, raw_lines, clean_rows, quarantined_rows, is_reconciled"
        " from rpt_ingestion_reconciliation where source_file like '%/' || ?",
        [EMPTY],
    )
    assert rows == [("status", 0, 0, 0, True)]


def test_line_numbers_count_blank_lines(warehouse: Path) -> None:
    assert status_row(warehouse, 104)["line_number"] == 5
    assert status_row(warehouse, 114)["line_number"] == 15


# Duplicates


def test_exact_duplicate_line_is_dropped_and_counted(warehouse: Path) -> None:
    lines = classified(warehouse, DEDUP)
    assert lines[3] == ("clean", None)
    assert lines[4] == ("duplicate", "exact_duplicate")
    assert status_row(warehouse, 302)["line_number"] == 3


def test_conflicting_duplicate_keeps_the_earliest_server_time(warehouse: Path) -> None:
    lines = classified(warehouse, DEDUP)
    assert lines[1] == ("quarantined", "conflicting_duplicate")
    assert lines[2] == ("clean", None)
    kept = status_row(warehouse, 301)
    assert kept["line_number"] == 2
    assert kept["temperature_l1_c"] == 38
    assert kept["received_epoch_s"] == pytest.approx(SERVER_S)
    assert quarantined(warehouse, DEDUP)[1] == ("conflicting_duplicate", encoded(DEDUP_LINES[0]))


def test_resent_measurement_under_new_id_is_a_duplicate(warehouse: Path) -> None:
    lines = classified(warehouse, DEDUP)
    assert lines[5] == ("clean", None)
    assert lines[6] == ("duplicate", "resent_duplicate")
    kept = query(
        warehouse, "select reading_id from int_readings_deduplicated where charger_id = 20203"
    )
    assert kept == [(303,)]


# Clocks


def clock_corrected_row(warehouse: Path, reading_id: int) -> dict[str, Any]:
    """A kept reading with its clock offset, corrected time and late-arrival flag."""
    rows = query_dicts(
        warehouse,
        "select * from int_readings_clock_corrected where reading_id = ?",
        [reading_id],
    )
    assert len(rows) == 1
    return rows[0]


def test_clock_reset_reading_is_corrected_to_true_time(warehouse: Path) -> None:
    row = clock_corrected_row(warehouse, 305)
    assert row["measured_at"] == datetime(2001, 1, 1)
    assert row["is_clock_corrected"] is True
    # its only upload was prompt: the estimated offset is the whole skew, to the second
    assert row["clock_offset_s"] == -round(SERVER_S - CLOCK_RESET_S)
    assert abs(row["corrected_measured_at"].timestamp() - SERVER_S) <= 1
    assert row["is_late_arrival"] is False
    assert status_row(warehouse, 305)["clock_skew_s"] == pytest.approx(SERVER_S - CLOCK_RESET_S)


def test_late_reading_is_late_arrival_not_a_clock_error(warehouse: Path) -> None:
    late = clock_corrected_row(warehouse, 306)
    assert (late["is_late_arrival"], late["is_clock_corrected"]) == (True, False)
    assert status_row(warehouse, 306)["clock_skew_s"] == pytest.approx(
        7200 + SERVER_S - int(SERVER_S)
    )
    on_time = clock_corrected_row(warehouse, 307)
    assert (on_time["is_late_arrival"], on_time["is_clock_corrected"]) == (False, False)


# Sessions


def test_session_energy_and_price(warehouse: Path) -> None:
    rows = query_dicts(
        warehouse,
        "select * from int_sessions_deduplicated where session_id = 3500001",
    )
    assert len(rows) == 1
    row = rows[0]
    assert row["energy_wh"] == 12873
    assert row["total_cost_eur"] == pytest.approx(2.57)
    assert row["unit_price_eur_per_kwh"] == pytest.approx(0.1996)
    assert row["session_duration_s"] == 28000
    assert row["started_at"] == datetime(2021, 3, 4, 12, 13, 20)


def test_session_ending_before_it_starts_is_quarantined(warehouse: Path) -> None:
    assert quarantined(warehouse, SESSIONS) == {2: ("end_before_start", encoded(SESSION_LINES[1]))}
    kept = query(warehouse, "select session_id from int_sessions_deduplicated order by 1")
    assert kept == [(3500001,), (3500003,)]


# dbt unit tests


def test_unit_tests_of_the_parsers_and_de_duplication_ran_and_passed(warehouse: Path) -> None:
    results = json.loads((warehouse.parent / "target" / "run_results.json").read_text())
    unit_tests = {
        result["unique_id"].rsplit(".", 1)[-1]: result["status"]
        for result in results["results"]
        if result["unique_id"].startswith("unit_test.")
    }
    expected = {
        "readings_parse_the_flat_layout_and_convert_units",
        "readings_parse_the_nested_layout_by_phase_id",
        "readings_reject_bad_lines_with_a_reason",
        "sessions_parse_energy_price_and_reject_end_before_start",
        "readings_classified_resolves_duplicates",
        "readings_classified_breaks_server_time_ties_by_file_and_line",
        "sessions_classified_keeps_the_first_occurrence_of_a_session_id",
        "line_ledger_takes_dispositions_from_the_seed",
    }
    assert expected <= set(unit_tests)
    assert {name: unit_tests[name] for name in expected} == dict.fromkeys(expected, "pass")


def test_id_above_bigint_range_is_quarantined_not_fatal(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    root = tmp_path_factory.mktemp("oversized_id") / "data"
    huge_id = json.dumps(flat(1, 20401)).replace('"id": 1,', '"id": 18446744073709551615,', 1)
    write_lines(root / "charger_log_status" / "a.json", [huge_id, flat(2, 20401)])
    write_lines(root / "charger_log_session" / SESSIONS, SESSION_LINES[:1])
    warehouse = build_data_quality(root, root.parent)
    assert quarantined(warehouse, "a.json")[1][0] == "out_of_range"
    assert status_row(warehouse, 2)["line_number"] == 2


def test_only_json_and_gzip_json_files_are_read(warehouse: Path, data_dir: Path) -> None:
    read = {
        Path(row[0]).name
        for row in query(warehouse, "select source_file from rpt_ingestion_reconciliation")
    }
    written = {path.name for path in data_dir.rglob("*") if path.is_file()}
    assert set(NOT_READ) <= written and "_SUCCESS" in written
    assert read == {name for name in written if name.endswith((".json", ".json.gz"))}


def test_json_line_indented_with_a_tab_is_parsed(warehouse: Path) -> None:
    row = status_row(warehouse, 9901)
    assert row["charger_id"] == 20901 and row["line_number"] == 1
    assert row["current_l1_a"] == 16.0


def test_line_numbering_fails_its_data_test_without_insertion_order(warehouse: Path) -> None:
    """The data test guarding the line numbers passes as built and fails if the order is off."""
    compiled = next(
        (warehouse.parent / "target" / "compiled").rglob("assert_insertion_order_is_preserved.sql")
    ).read_text()
    con = duckdb.connect()
    try:
        assert con.execute(compiled).fetchall() == []
        con.execute("set preserve_insertion_order = false")
        assert con.execute(compiled).fetchall() == [(False,)]
    finally:
        con.close()
