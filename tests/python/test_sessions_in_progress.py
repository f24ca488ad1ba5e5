"""Sessions in progress across batches: a charge seen in the telemetry before its session event
arrives is a provisional session, and the build after the event replaces it with the briefing.

The live generator writes one file set per minute; the first files of a run are what the warehouse
has seen at that minute. Two builds: one on the files up to an evening minute (cars charging, their
session events not written yet), one on the whole run.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import VENV_BIN, query, query_dicts, run_dbt

CUT_BATCH = 20 * 60  # 20:00 on the live window's day, minute batches from midnight


@pytest.fixture(scope="module")
def live_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clean one-day live run of 6 chargers, every minute's files written at once."""
    out = tmp_path_factory.mktemp("live") / "data"
    command = [str(VENV_BIN / "chargerlogs-generate"), "--live", "--out", str(out)]
    command += ["--chargers", "6", "--seed", "11", "--start", "2021-03-02T00:00", "--clean"]
    command += ["--duration-minutes", "1440", "--no-wait", "--quiet"]
    subprocess.run(command, check=True)
    return out


def first_batches(run: Path, last_batch: int, into: Path) -> Path:
    """A data folder with the files of batches 1 to ``last_batch`` of a live run."""
    for stream in ("charger_log_status", "charger_log_session"):
        (into / stream).mkdir(parents=True)
        for path in (run / stream).glob("part-*"):
            if int(path.name.split("-")[1]) <= last_batch:
                shutil.copy(path, into / stream / path.name)
    return into


def build(data: Path, tmp: Path) -> Path:
    db = tmp / "warehouse.duckdb"
    run_dbt(["build"], data, db, tmp)
    return db


@pytest.fixture(scope="module")
def builds(live_run: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the build at the cut minute, the build on the whole run)."""
    early = tmp_path_factory.mktemp("early")
    late = tmp_path_factory.mktemp("late")
    early_db = build(first_batches(live_run, CUT_BATCH, early / "data"), early)
    late_db = build(first_batches(live_run, 10**6, late / "data"), late)
    return early_db, late_db


def test_a_charge_without_its_session_event_is_a_session_in_progress(
    builds: tuple[Path, Path],
) -> None:
    early_db, _ = builds
    rows = query_dicts(early_db, "select * from fct_sessions_in_progress")
    assert rows, "cars charging at 20:00 have no session event yet"
    briefed = {row[0] for row in query(early_db, "select charger_id from fct_session_briefings")}
    for row in rows:
        assert row["energy_so_far_wh"] > 0 and row["elapsed_s"] > 0, row
        assert row["cost_so_far_eur"] == pytest.approx(
            row["energy_so_far_wh"] / 1000 * row["unit_price_eur_per_kwh"]
        )
        # its readings are in no briefing yet
        inside = query(
            early_db,
            "select count(*) from fct_charging_profiles where reading_id = ?",
            [row["first_reading_id"]],
        )
        assert inside == [(0,)], row
    assert briefed  # the sessions that ended before the cut are briefed


def test_the_session_event_replaces_the_provisional_session(builds: tuple[Path, Path]) -> None:
    early_db, late_db = builds
    provisional = query_dicts(early_db, "select * from fct_sessions_in_progress")
    still = {
        row["first_reading_id"]
        for row in query_dicts(late_db, "select first_reading_id from fct_sessions_in_progress")
    }
    replaced = 0
    for row in provisional:
        if row["first_reading_id"] in still:
            continue  # still charging at the end of the run
        briefing = query_dicts(
            late_db,
            "select briefings.* from fct_charging_profiles as profiles"
            " inner join fct_session_briefings as briefings"
            " on profiles.session_id = briefings.session_id where profiles.reading_id = ?",
            [row["first_reading_id"]],
        )
        assert len(briefing) == 1, row
        session = briefing[0]
        assert session["charger_id"] == row["charger_id"]
        assert session["corrected_started_at"] <= row["corrected_started_at"]
        assert session["corrected_ended_at"] >= row["corrected_last_reading_at"]
        # the energy so far was part of what the session measured in the end
        assert row["energy_so_far_wh"] <= session["measured_energy_wh"] + 1e-6
        replaced += 1
    assert replaced >= 1


def test_the_cut_is_inside_the_run(live_run: Path) -> None:
    batches = {
        int(path.name.split("-")[1]) for path in (live_run / "charger_log_status").glob("part-*")
    }
    assert min(batches) < CUT_BATCH < max(batches)
