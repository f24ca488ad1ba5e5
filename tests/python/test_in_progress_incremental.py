"""A charge in progress across incremental builds: each build reads the readings from the earliest
time, over the changed chargers, from which a charge in progress can start, and the marts equal one
build of every file.

Four chargers, with their telemetry in three files, one build after each:
- 41001 charges after its session's end, from the first files on, and goes on charging: the
  later builds must keep its charge's start, though their new readings begin after it;
- 41002 has no session at all, idles, then charges from the second files on;
- 41003 charges through the first two files, and its session event comes with the third;
- 41004 charges inside its session, then idles; with the third files comes a copy of that session
  event in a file that sorts first (the copy that counts, as in one build of every file), which
  ends earlier: its last session's end moves back, and the charge after that end is in progress.

A build reads from the earliest, over the changed chargers, of each one's stored charge's start or
first changed reading, the earlier (its last session's end when a session event of it changed),
no longer from each one's last session's end: that is days back for a charger rarely used, and the
whole history for one without a session.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import query, run_dbt, write_lines
from test_incremental import mart_differences
from test_staging_fixtures import flat, session

T0 = 1614861230  # 2021-03-04T12:33:50Z, every clock right
STEP_S = 30
CHARGING = {"currents": (1600, 1597, 1602)}  # 16 A on each phase
IDLE = {"currents": (0, 0, 0)}


def readings(charger_id: int, start: int, end: int, state: dict) -> list[dict]:
    """One reading every STEP_S from ``start`` to ``end`` (seconds after T0), each uploaded 2 s
    after its measurement."""
    return [
        flat(
            charger_id * 100_000 + offset // STEP_S,
            charger_id,
            charger_ts=T0 + offset,
            server_ts=float(T0 + offset + 2),
            **state,
        )
        for offset in range(start, end + 1, STEP_S)
    ]


# Per build, the status lines: (charger, first and last reading in seconds after T0, state).
STATUS_FILES = {
    1: [
        (41001, 30, 570, CHARGING),
        (41001, 630, 3600, IDLE),
        (41001, 3630, 3870, CHARGING),
        (41002, 0, 3870, IDLE),
        (41003, 0, 1770, IDLE),
        (41003, 1800, 3870, CHARGING),
        (41004, 30, 2370, CHARGING),
        (41004, 2400, 3870, IDLE),
    ],
    2: [
        (41001, 3900, 4170, CHARGING),
        (41002, 3900, 4170, CHARGING),
        (41003, 3900, 4170, CHARGING),
        (41004, 3900, 4170, IDLE),
    ],
    3: [
        (41001, 4200, 4470, CHARGING),
        (41002, 4200, 4470, CHARGING),
        (41003, 4230, 4470, IDLE),
        (41004, 4200, 4470, IDLE),
    ],
}

# Per build, the session files by name.
SESSION_FILES = {
    1: {
        "sessions-1.json": [
            session(6000001, 41001, 2000, 0.4, T0, T0 + 600),
            session(6000004, 41004, 8000, 1.6, T0, T0 + 2390),
        ],
    },
    2: {},
    3: {
        "sessions-3.json": [session(6000003, 41003, 9000, 1.8, T0 + 1790, T0 + 4210)],
        # sorts before sessions-1.json: this copy of session 6000004 counts, the other is a conflict
        "sessions-0.json": [session(6000004, 41004, 4000, 0.8, T0, T0 + 1200)],
    },
}


def write_files(data: Path, number: int) -> None:
    lines = [line for spec in STATUS_FILES[number] for line in readings(*spec)]
    write_lines(data / "charger_log_status" / f"status-{number}.json", lines)
    for name, sessions in SESSION_FILES[number].items():
        write_lines(data / "charger_log_session" / name, sessions)


def charge_starts(db: Path) -> dict[int, int]:
    """Per charger with a charge in progress, its start, in seconds after T0."""
    rows = query(
        db,
        "select charger_id, epoch(corrected_started_at)::bigint from fct_sessions_in_progress",
    )
    return {charger_id: started - T0 for charger_id, started in rows}


def readings_bound(tmp: Path) -> int | None:
    """The lower bound on corrected time the last build's sessions in progress read from, in
    seconds after T0 (None: no bound, every reading)."""
    found_files = list(
        (tmp / "target" / "compiled").rglob("int_in_progress_readings_integrated.sql")
    )
    assert len(found_files) == 1, found_files
    compiled = found_files[0].read_text()
    found = re.search(r"corrected_measured_at > \S*\(cast\((-?\d+) as bigint\)", compiled)
    return int(found.group(1)) - T0 if found else None


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("in_progress")
    data = tmp / "data"
    incremental = tmp / "incremental.duckdb"
    found: dict = {"starts": [], "bounds": []}
    for number in (1, 2, 3):
        write_files(data, number)
        if number == 1:
            run_dbt(["seed"], data, incremental, tmp)
        run_dbt(["run"], data, incremental, tmp)
        found["starts"].append(charge_starts(incremental))
        found["bounds"].append(readings_bound(tmp))
    full = tmp / "full.duckdb"
    run_dbt(["build", "--full-refresh"], data, full, tmp)
    found.update(incremental=incremental, full=full, full_starts=charge_starts(full))
    return found


def test_each_build_keeps_the_start_of_a_charge_in_progress(builds: dict) -> None:
    assert builds["starts"] == [
        {41001: 3630, 41003: 1800},
        {41001: 3630, 41002: 3900, 41003: 1800},
        # 41003's session event arrived: its charge is a session now; 41004's last session ends
        # earlier now, and its readings charging after that end are a charge in progress
        {41001: 3630, 41002: 3900, 41004: 1230},
    ]
    assert builds["full_starts"] == builds["starts"][-1]


def test_batches_equal_one_full_build(builds: dict) -> None:
    differences = mart_differences(builds["full"], builds["incremental"])
    assert {table: (a, b) for table, (_, a, b) in differences.items() if a or b} == {}


def test_each_build_reads_from_the_earliest_possible_charge_start(builds: dict) -> None:
    assert builds["bounds"] == [
        None,  # the first build reads everything
        # 41001: its stored charge, from 3630; 41002 (no session): its first new reading, 3900;
        # 41003: its stored charge, from 1800; 41004: its first new reading, 3900
        1800 - 1,
        # 41001: 3630; 41002: its stored charge, 3900; 41003: its new session's end, 4210;
        # 41004: a session event of it changed, so from its last session's end, now 1200
        1200,
    ]
