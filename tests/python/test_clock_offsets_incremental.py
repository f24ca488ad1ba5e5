"""An upload that moves a wrong clock's offset, built incrementally, gives the marts of one build.

A clock level's offset is a low percentile of its upload batches' skews, so prompter uploads
arriving later move it, and with it the corrected time of every earlier reading and session of
that level.

An incremental build rewrites only the rows whose offset moved or whose lines changed: here the
readings, the sessions with readings and the session without readings of the first files, whose
lines do not change. The marts after the second files must equal a full build of all the files.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import query, run_dbt, write_lines
from test_incremental import mart_differences
from test_staging_fixtures import flat, session

TRUE_START = 1614861230  # true time of the first reading, 2021-03-04T12:33:50Z
BEHIND_S = 600_000_000  # charger 40001's clock, wrong from the start
RESET_BEHIND_S = 700_000_000  # charger 40002's clock after a reset
STEP_S = 30


def upload(
    charger_id: int, first_id: int, true_times: list[int], behind_s: int, delay_s: int
) -> list[dict]:
    """One upload batch: readings measured at ``true_times`` by a clock ``behind_s`` slow, all
    received ``delay_s`` after the last of them."""
    received = float(max(true_times) + delay_s)
    return [
        flat(first_id + index, charger_id, charger_ts=true_time - behind_s, server_ts=received)
        for index, true_time in enumerate(true_times)
    ]


def times(start: int, count: int) -> list[int]:
    return [start + STEP_S * index for index in range(count)]


def first_files(data: Path) -> None:
    lines = []
    # charger 40001: three late-ish uploads of nine readings inside session 5000001
    for batch, delay in enumerate((40, 50, 60)):
        lines += upload(40001, 1000 + 3 * batch, times(TRUE_START + 90 * batch, 3), BEHIND_S, delay)
    # charger 40002: right clock, then reset; three late-ish uploads after the reset
    for batch in range(3):
        lines += upload(40002, 2000 + 3 * batch, times(TRUE_START + 90 * batch, 3), 0, 2)
    for batch, delay in enumerate((40, 50, 60)):
        start = TRUE_START + 3600 + 90 * batch
        lines += upload(40002, 2100 + 3 * batch, times(start, 3), RESET_BEHIND_S, delay)
    write_lines(data / "charger_log_status" / "status-1.json", lines)
    c1 = TRUE_START - BEHIND_S
    c2 = TRUE_START + 3600 - RESET_BEHIND_S
    write_lines(
        data / "charger_log_session" / "sessions-1.json",
        [
            session(5000001, 40001, 1500, 0.3, c1 - 10, c1 + 8 * STEP_S + 10),
            # no reading inside: its offset is its clock period's
            session(5000002, 40001, 0, 0, c1 + 600, c1 + 700),
            session(5000003, 40002, 1500, 0.3, c2 - 10, c2 + 8 * STEP_S + 10),
        ],
    )


def second_files(data: Path) -> None:
    lines = []
    # prompt uploads, an hour later: the low percentile of each level's skews drops by ~40 s
    for batch in range(3):
        start = TRUE_START + 3600 + 90 * batch
        lines += upload(40001, 1100 + 3 * batch, times(start, 3), BEHIND_S, 2)
    for batch in range(3):
        start = TRUE_START + 7200 + 90 * batch
        lines += upload(40002, 2200 + 3 * batch, times(start, 3), RESET_BEHIND_S, 2)
    write_lines(data / "charger_log_status" / "status-2.json", lines)
    c1 = TRUE_START + 3600 - BEHIND_S
    write_lines(
        data / "charger_log_session" / "sessions-2.json",
        # the last three readings of charger 40001 are after it: a session in progress
        [session(5000004, 40001, 500, 0.1, c1 - 10, c1 + 5 * STEP_S + 10)],
    )


def offsets(db: Path) -> dict[int, list[int]]:
    rows = query(
        db,
        "select charger_id, list(distinct clock_offset_s order by clock_offset_s)"
        " from int_charger_clock_periods group by charger_id",
    )
    return {charger_id: values for charger_id, values in rows}


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict, dict]:
    """(incremental warehouse, full build, offsets after the first files, offsets at the end)."""
    tmp = tmp_path_factory.mktemp("clock_offsets")
    data = tmp / "data"
    first_files(data)
    incremental = tmp / "incremental.duckdb"
    run_dbt(["seed"], data, incremental, tmp)
    run_dbt(["run"], data, incremental, tmp)
    before = offsets(incremental)
    second_files(data)
    run_dbt(["run"], data, incremental, tmp)
    full = tmp / "full.duckdb"
    run_dbt(["build", "--full-refresh"], data, full, tmp)
    return incremental, full, before, offsets(full)


def test_the_second_files_move_both_clocks_offsets(builds: tuple[Path, Path, dict, dict]) -> None:
    _, _, before, after = builds
    assert before[40001] == [-(BEHIND_S + 41)]
    assert after[40001] == [-(BEHIND_S + 2)]
    assert before[40002] == [-(RESET_BEHIND_S + 41), 0]
    assert after[40002] == [-(RESET_BEHIND_S + 2), 0]


def test_batches_equal_one_full_build_when_an_offset_moves(
    builds: tuple[Path, Path, dict, dict],
) -> None:
    incremental, full, _, _ = builds
    differences = mart_differences(full, incremental)
    assert {table: (a, b) for table, (_, a, b) in differences.items() if a or b} == {}
    # the cases are there: every session briefed, with its offset; a session in progress
    briefed = query(
        incremental,
        "select session_id, clock_offset_s from fct_session_briefings order by session_id",
    )
    assert briefed == [
        (5000001, -(BEHIND_S + 2)),
        (5000002, -(BEHIND_S + 2)),
        (5000003, -(RESET_BEHIND_S + 2)),
        (5000004, -(BEHIND_S + 2)),
    ]
    # after their last session, by each charger's clock
    in_progress = "select charger_id from fct_sessions_in_progress order by charger_id"
    assert query(incremental, in_progress) == [(40001,), (40002,)]


def test_each_charger_is_rebuilt_from_its_first_reading_whose_offset_moved(
    builds: tuple[Path, Path, dict, dict],
) -> None:
    incremental, _, _, _ = builds
    # not from its first new line (an hour later): the offset of the first files' readings moved
    rows = query(
        incremental,
        "select charger_id, list(distinct rebuilt_from_epoch_s), count(*)"
        " from int_readings_clock_corrected group by charger_id order by charger_id",
    )
    assert rows == [
        (40001, [TRUE_START - BEHIND_S], 18),
        # by the charger's clock, its readings after the reset come first
        (40002, [TRUE_START + 3600 - RESET_BEHIND_S], 27),
    ]
