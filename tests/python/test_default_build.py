"""The data-quality models on the generated default dataset, checked against its manifest.

The dataset is generated with the arguments of ``make run`` (seed 42) and built once per session
into a temporary DuckDB file; the manifest says how many lines and defects of each kind were
written, so every count of the warehouse can be checked exactly.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from conftest import (
    DATA_QUALITY_TABLES,
    DefaultWarehouse,
    build_data_quality,
    count_non_blank_lines,
    file_lines,
    query,
    query_dicts,
    seed_reasons,
    table_fingerprint,
)

STREAMS = ("charger_log_status", "charger_log_session")
LOG_STREAM = {"charger_log_status": "status", "charger_log_session": "session"}
SAMPLE_SIZE = 50


@pytest.fixture(scope="session")
def default_build(default_warehouse: DefaultWarehouse) -> DefaultWarehouse:
    """The shared full build of the default dataset (see conftest)."""
    return default_warehouse


@pytest.fixture(scope="session")
def first_fingerprints(default_build: DefaultWarehouse) -> dict[str, tuple[int, int]]:
    """Row count and hash of every data-quality table, taken before any rebuild."""
    return {table: table_fingerprint(default_build.db_path, table) for table in DATA_QUALITY_TABLES}


def relative(source_file: str, data_dir: Path) -> str:
    """A source file as the manifest names it: relative to the data folder."""
    return Path(source_file).resolve().relative_to(data_dir.resolve()).as_posix()


def test_every_file_is_reconciled_with_the_manifest_line_counts(
    default_build: DefaultWarehouse,
) -> None:
    rows = query(
        default_build.db_path,
        "select source_file, raw_lines, clean_rows + quarantined_rows + duplicate_rows,"
        " is_reconciled from rpt_ingestion_reconciliation",
    )
    found = {relative(row[0], default_build.data_dir): row[1:] for row in rows}
    expected = {
        name: spec["lines"]
        for stream in STREAMS
        for name, spec in default_build.manifest[stream]["files"].items()
    }
    assert set(found) == set(expected)
    for name, (raw_lines, accounted, is_reconciled) in found.items():
        assert raw_lines == expected[name], name
        assert accounted == raw_lines, name
        assert is_reconciled is True, name


def test_line_counts_match_the_files_read_independently(default_build: DefaultWarehouse) -> None:
    rows = query(
        default_build.db_path, "select source_file, raw_lines from rpt_ingestion_reconciliation"
    )
    for source_file, raw_lines in rows:
        assert raw_lines == count_non_blank_lines(Path(source_file)), source_file


@pytest.mark.parametrize("stream", STREAMS)
def test_stream_totals_equal_the_manifest(default_build: DefaultWarehouse, stream: str) -> None:
    rows = query(
        default_build.db_path,
        "select sum(raw_lines), sum(clean_rows) from rpt_ingestion_reconciliation"
        " where log_stream = ?",
        [LOG_STREAM[stream]],
    )
    expected = default_build.manifest[stream]
    assert rows == [(expected["lines"], expected["clean_rows"])]


@pytest.mark.parametrize("stream", STREAMS)
def test_quarantine_counts_per_reason_equal_the_manifest(
    default_build: DefaultWarehouse, stream: str
) -> None:
    rows = query(
        default_build.db_path,
        "select reason_code, count(*) from rpt_quarantined_lines where log_stream = ?"
        " group by reason_code",
        [LOG_STREAM[stream]],
    )
    defects = default_build.manifest[stream]["defects"]
    expected = {
        reason: defects.get(reason, 0) for reason in seed_reasons(LOG_STREAM[stream], "quarantined")
    }
    assert dict(rows) == {reason: count for reason, count in expected.items() if count}


@pytest.mark.parametrize("stream", STREAMS)
def test_duplicate_counts_equal_the_manifest(default_build: DefaultWarehouse, stream: str) -> None:
    rows = query(
        default_build.db_path,
        "select reason_code, count(*) from int_log_lines_classified"
        " where log_stream = ? and disposition = 'duplicate' group by reason_code",
        [LOG_STREAM[stream]],
    )
    defects = default_build.manifest[stream]["defects"]
    expected = {
        reason: defects.get(reason, 0) for reason in seed_reasons(LOG_STREAM[stream], "duplicate")
    }
    assert dict(rows) == {reason: count for reason, count in expected.items() if count}
    total = query(
        default_build.db_path,
        "select sum(duplicate_rows) from rpt_ingestion_reconciliation where log_stream = ?",
        [LOG_STREAM[stream]],
    )
    assert total == [(sum(expected.values()),)]


def assert_raw_lines_match_files(rows: list[tuple[str, int, str]]) -> None:
    """Each (source_file, line_number, raw_line) must be that line of that file."""
    cache: dict[str, list[str]] = {}
    for source_file, line_number, raw_line in rows:
        if source_file not in cache:
            cache[source_file] = file_lines(Path(source_file))
        lines = cache[source_file]
        assert 1 <= line_number <= len(lines), (source_file, line_number)
        assert raw_line == lines[line_number - 1], (source_file, line_number)


def test_sampled_quarantined_lines_point_at_their_line(default_build: DefaultWarehouse) -> None:
    rows = query(
        default_build.db_path,
        "select source_file, line_number, raw_line from rpt_quarantined_lines"
        " where log_stream = 'status' order by hash(source_file, line_number) limit ?",
        [SAMPLE_SIZE],
    )
    assert len(rows) == SAMPLE_SIZE
    # the sample spans several files, flat and gzip-compressed nested ones
    assert len({source_file for source_file, _, _ in rows}) > 5
    assert any(source_file.endswith(".gz") for source_file, _, _ in rows)
    assert any(source_file.endswith(".json") for source_file, _, _ in rows)
    assert_raw_lines_match_files(rows)


def test_every_quarantined_line_of_the_session_stream_points_at_its_line(
    default_build: DefaultWarehouse,
) -> None:
    rows = query(
        default_build.db_path,
        "select source_file, line_number, raw_line from rpt_quarantined_lines"
        " where log_stream = 'session'",
    )
    defects = default_build.manifest["charger_log_session"]["defects"]
    assert len(rows) == sum(
        defects.get(reason, 0) for reason in seed_reasons("session", "quarantined")
    )
    assert_raw_lines_match_files(rows)


def test_every_quarantined_line_of_the_smallest_status_file_points_at_its_line(
    default_build: DefaultWarehouse,
) -> None:
    rows = query(
        default_build.db_path,
        "select source_file, line_number, raw_line from rpt_quarantined_lines"
        " where source_file = (select arg_min(source_file, raw_lines)"
        " from rpt_ingestion_reconciliation where log_stream = 'status')",
    )
    assert rows
    assert_raw_lines_match_files(rows)


def test_kept_rows_point_at_their_line(default_build: DefaultWarehouse) -> None:
    rows = query(
        default_build.db_path,
        "select source_file, line_number, reading_id, measured_epoch_s"
        " from int_readings_classified where reason_code is null"
        " order by hash(reading_id) limit ?",
        [SAMPLE_SIZE],
    )
    cache: dict[str, list[str]] = {}
    for source_file, line_number, reading_id, measured_epoch_s in rows:
        lines = cache.setdefault(source_file, file_lines(Path(source_file)))
        written = json.loads(lines[line_number - 1])
        assert (written["id"], written["charger_timestamp"]) == (reading_id, measured_epoch_s)


def test_unexpected_keys_equal_the_manifest(default_build: DefaultWarehouse) -> None:
    rows = query(
        default_build.db_path,
        "select log_stream, json_key, sum(line_count) from rpt_unexpected_keys group by all",
    )
    status = default_build.manifest["charger_log_status"]
    assert {stream for stream, _, _ in rows} == {"status"}
    assert sorted(key for _, key, _ in rows) == sorted(status["unknown_fields"])
    assert sum(count for _, _, count in rows) == status["defects"]["unknown_field"]


def test_schema_drift_equals_the_manifest_and_raises_no_alert(
    default_build: DefaultWarehouse,
) -> None:
    """The injected defects are stray lines, not a producer's schema change: listed per file and
    charger in rpt_schema_drift, never systematic; no number is written as a bare string."""
    rows = query(
        default_build.db_path,
        "select log_stream, drift_kind, sum(line_count), count(*) filter (where raises_alert)"
        " from rpt_schema_drift group by all",
    )
    found = {(stream, kind): (lines, alerts) for stream, kind, lines, alerts in rows}
    expected = {}
    for stream, log_stream in (
        ("charger_log_status", "status"),
        ("charger_log_session", "session"),
    ):
        defects = default_build.manifest[stream]["defects"]
        for kind in ("missing_key_field", "type_mismatch"):
            if defects.get(kind):
                expected[(log_stream, kind)] = (defects[kind], 0)
    expected[("status", "unexpected_key")] = (
        default_build.manifest["charger_log_status"]["defects"]["unknown_field"],
        0,
    )
    assert found == expected


def clock_truth(default_build: DefaultWarehouse) -> dict[int, list[tuple[float, float, int]]]:
    """The generator's clock periods: charger -> [(true start, true end, offset)]."""
    truth: dict[int, list[tuple[float, float, int]]] = {}
    path = default_build.data_dir / "_generator" / "clock_periods.csv"
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            truth.setdefault(int(row["charger_id"]), []).append(
                (
                    float(row["period_start_server_time"]),
                    float(row["period_end_server_time"]),
                    int(row["offset_s"]),
                )
            )
    return truth


def test_clock_offsets_are_estimated_for_exactly_the_reset_chargers(
    default_build: DefaultWarehouse,
) -> None:
    truth = clock_truth(default_build)
    reset = default_build.manifest["charger_log_status"]["clock_reset_chargers"]
    assert len(reset) >= 2
    assert {c for c, periods in truth.items() if any(o for _, _, o in periods)} == set(reset)
    rows = query(
        default_build.db_path,
        "select charger_id, first_received_epoch_s, last_received_epoch_s, clock_offset_s"
        " from int_charger_clock_periods",
    )
    assert {charger for charger, _, _, offset in rows if offset} == set(reset)
    for charger, first_received, last_received, offset in rows:
        # a period's uploads fall in one true period (late uploads a few days after it at most)
        matching = [
            o for start, end, o in truth[charger] if start <= first_received < end + 4 * 86_400
        ]
        assert any(abs(offset - o) <= 5 for o in matching), (charger, first_received, offset)
        assert last_received >= first_received


def test_reset_clock_sessions_have_their_profile_and_true_times(
    default_build: DefaultWarehouse,
) -> None:
    truth = clock_truth(default_build)
    reset = default_build.manifest["charger_log_status"]["clock_reset_chargers"]
    rows = query_dicts(
        default_build.db_path,
        "select session_id, charger_id, epoch(started_at) as charger_start,"
        " epoch(corrected_started_at) as corrected_start, clock_offset_s, is_clock_corrected,"
        " reading_count, energy_ratio, ("
        "   select count(*) from int_readings_deduplicated as readings"
        "   where readings.charger_id = briefings.charger_id"
        "   and readings.measured_epoch_s between epoch(briefings.started_at)"
        "   and epoch(briefings.ended_at)"
        " ) as readings_in_charger_clock"
        " from fct_session_briefings as briefings where charger_id in (select unnest(?))",
        [reset],
    )
    corrected = 0
    for row in rows:
        # the true period of the session: the one whose offset maps its charger time inside it
        offsets = [
            o
            for start, end, o in truth[row["charger_id"]]
            if start <= row["charger_start"] - o < end
        ]
        assert len(offsets) == 1, row
        assert abs(row["clock_offset_s"] - offsets[0]) <= 5, row
        assert abs(row["corrected_start"] - (row["charger_start"] - offsets[0])) <= 5, row
        assert row["is_clock_corrected"] is (offsets[0] != 0)
        corrected += row["is_clock_corrected"]
        # its whole profile: every kept reading of its charger inside it, by the charger's clock
        assert row["reading_count"] == row["readings_in_charger_clock"] > 0, row
        assert abs(row["energy_ratio"] - 1) <= 0.05, row
    # every session stamped in a reset clock that survived the line defects
    assert 0 < corrected <= default_build.manifest["clock_periods"]["reset_sessions"]
    synced = default_build.manifest["clock_periods"]["synced_chargers"]
    assert synced
    for charger in synced:
        sides = {row["is_clock_corrected"] for row in rows if row["charger_id"] == charger}
        assert sides == {True, False}, "sessions on both sides of the time sync"


def test_sessions_with_lost_telemetry_agree_with_the_reported_energy(
    default_build: DefaultWarehouse,
) -> None:
    path = default_build.data_dir / "_generator" / "anomalies.csv"
    with path.open(newline="", encoding="utf-8") as handle:
        metering = {
            int(row["session_id"])
            for row in csv.DictReader(handle)
            if row["kind"] == "energy_mismatch"
        }
    rows = query_dicts(
        default_build.db_path,
        "select session_id, energy_ratio,"
        " measured_energy_wh / reported_energy_wh as measured_ratio,"
        " is_shortfall_from_lost_telemetry, has_energy_mismatch"
        " from fct_session_briefings where gap_count > 0 and reported_energy_wh >= 1000",
    )
    with_gaps = [row for row in rows if row["session_id"] not in metering]
    assert len(with_gaps) >= 20
    # within 5 % each with the gaps estimated; measured alone, many fall short
    assert [row for row in with_gaps if abs(row["energy_ratio"] - 1) > 0.05] == []
    assert sum(row["measured_ratio"] < 0.95 for row in with_gaps) >= 5
    assert not any(row["has_energy_mismatch"] for row in with_gaps)
    shortfalls = [row for row in with_gaps if row["measured_ratio"] < 0.95]
    assert all(row["is_shortfall_from_lost_telemetry"] for row in shortfalls)


def test_null_measurements_and_unknown_fields_are_kept_and_flagged(
    default_build: DefaultWarehouse,
) -> None:
    rows = query(
        default_build.db_path,
        "select count(*) filter (where has_missing_measurement),"
        " count(*) filter (where len(unexpected_keys) > 0)"
        " from int_readings_classified where reason_code is null",
    )
    defects = default_build.manifest["charger_log_status"]["defects"]
    assert rows == [(defects["null_measurement"], defects["unknown_field"])]


def test_a_second_build_gives_identical_tables(
    default_build: DefaultWarehouse, first_fingerprints: dict[str, tuple[int, int]]
) -> None:
    # runs last in this module: it rebuilds the warehouse the other tests read (identically)
    build_data_quality(default_build.data_dir, default_build.tmp)
    again = {
        table: table_fingerprint(default_build.db_path, table) for table in DATA_QUALITY_TABLES
    }
    assert all(count > 0 for count, _ in again.values())
    assert again == first_fingerprints
