"""The charger and user dimensions and the calendar marts on the default build, checked against the
generator's ground truth and against what Python computes with its own time-zone library."""

from __future__ import annotations

import csv
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from conftest import PROJECT_DIR, DefaultWarehouse, query, query_dicts


def time_zones() -> tuple[dict[int, str], str]:
    """The seed's charger zones and the fleet default."""
    with (PROJECT_DIR / "seeds" / "charger_time_zones.csv").open(encoding="utf-8") as handle:
        listed = {int(row["charger_id"]): row["time_zone"] for row in csv.DictReader(handle)}
    default = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text())["vars"][
        "fleet_default_time_zone"
    ]
    return listed, default


def local_day_seconds(start: datetime, end: datetime, zone: ZoneInfo) -> dict[date, int]:
    """Seconds of [start, end) (UTC) in each local day of ``zone``."""
    seconds: dict[date, int] = {}
    day = start.astimezone(zone).date()
    while True:
        day_start = datetime.combine(day, datetime.min.time(), zone).astimezone(UTC)
        day_end = datetime.combine(day + timedelta(days=1), datetime.min.time(), zone).astimezone(
            UTC
        )
        overlap = (min(end, day_end) - max(start, day_start)).total_seconds()
        seconds[day] = max(int(overlap), 0)
        if day_end >= end:
            return seconds
        day += timedelta(days=1)


def utc(naive: datetime) -> datetime:
    return naive.replace(tzinfo=UTC)


def test_charger_classes_and_phases_equal_the_generators_fleet(
    default_warehouse: DefaultWarehouse,
) -> None:
    fleet = {spec["charger_id"]: spec for spec in default_warehouse.manifest["chargers"]}
    listed, default = time_zones()
    rows = query_dicts(default_warehouse.db_path, "select * from dim_chargers")
    assert {row["charger_id"] for row in rows} == set(fleet)
    for row in rows:
        spec = fleet[row["charger_id"]]
        assert row["power_class"].replace(" ", "") == spec["kind"], row
        assert row["phases_seen"] == spec["phases"], row
        assert row["time_zone"] == listed.get(row["charger_id"], default)
    reset = set(default_warehouse.manifest["charger_log_status"]["clock_reset_chargers"])
    assert {row["charger_id"] for row in rows if row["corrected_clock_period_count"]} == reset
    window = default_warehouse.manifest["window"]
    for row in rows:  # true time: nothing seen before the window, whatever the chargers' clocks
        assert utc(row["first_seen_at"]).timestamp() >= window["start"] - 3600, row


def test_session_days_split_each_session_by_its_chargers_local_days(
    default_warehouse: DefaultWarehouse,
) -> None:
    db = default_warehouse.db_path
    zones = dict(query(db, "select charger_id, time_zone from dim_chargers"))
    sessions = query(
        db,
        "select session_id, charger_id, corrected_started_at, corrected_ended_at,"
        " reported_energy_wh, telemetry_energy_wh from fct_session_briefings",
    )
    days: dict[int, dict[date, int]] = defaultdict(dict)
    for session_id, local_date, plugged_in_s in query(
        db, "select session_id, local_date, plugged_in_s from fct_session_days"
    ):
        days[session_id][local_date] = plugged_in_s
    crossing_midnight = 0
    for session_id, charger_id, started, ended, _, _ in sessions:
        expected = local_day_seconds(utc(started), utc(ended), ZoneInfo(zones[charger_id]))
        assert days[session_id] == expected, session_id
        crossing_midnight += len(expected) > 1
    assert crossing_midnight >= 50
    # the bill of every session is split without loss, and so is the energy it delivered
    totals = query(
        db,
        "select briefings.session_id, briefings.reported_energy_wh, sum(days.billed_energy_wh),"
        " briefings.telemetry_energy_wh, sum(days.delivered_energy_wh)"
        " from fct_session_briefings as briefings"
        " inner join fct_session_days as days on briefings.session_id = days.session_id"
        " group by all",
    )
    for session_id, reported, billed, telemetry, delivered in totals:
        if reported is not None:
            assert billed == pytest.approx(reported, rel=1e-9, abs=1e-6), session_id
        # the briefing adds values rounded to 1e-6 Wh (exact sums): 5e-7 Wh a reading at most
        assert delivered == pytest.approx(telemetry, abs=2e-3), session_id


def test_daily_energy_is_the_profile_by_local_day(default_warehouse: DefaultWarehouse) -> None:
    db = default_warehouse.db_path
    zones = dict(query(db, "select charger_id, time_zone from dim_chargers"))
    expected: dict[tuple[int, date], float] = defaultdict(float)
    for charger_id, measured, energy in query(
        db,
        "select charger_id, corrected_measured_at,"
        " interval_energy_wh + interval_estimated_energy_wh from fct_charging_profiles",
    ):
        local = utc(measured).astimezone(ZoneInfo(zones[charger_id])).date()
        expected[(charger_id, local)] += energy / 1000
    found = {
        (charger_id, local_date): energy
        for charger_id, local_date, energy in query(
            db, "select charger_id, local_date, delivered_energy_kwh from fct_charger_days"
        )
    }
    for key, energy in expected.items():
        assert found[key] == pytest.approx(energy, rel=1e-9, abs=1e-6), key
    # each reading's energy is added as an exact decimal of 1e-6 Wh: at most 5e-10 kWh apart
    assert sum(found.values()) == pytest.approx(sum(expected.values()), abs=1e-3)
    # every day of every charger's life is there, idle ones with nothing
    assert all(energy == 0 for key, energy in found.items() if key not in expected)


def test_monthly_user_energy_adds_up_to_the_users_sessions(
    default_warehouse: DefaultWarehouse,
) -> None:
    rows = query(
        default_warehouse.db_path,
        "select users.user_id, users.session_count, users.total_energy_kwh, users.total_cost_eur,"
        " sum(months.sessions_started), sum(months.billed_energy_kwh), sum(months.billed_cost_eur)"
        " from dim_users as users"
        " inner join rpt_user_monthly_energy as months on users.user_id = months.user_id"
        " group by all",
    )
    assert len(rows) >= 10
    for user_id, sessions, energy, cost, started, billed_energy, billed_cost in rows:
        assert started == sessions, user_id
        assert billed_energy == pytest.approx(energy, rel=1e-9, abs=1e-6), user_id
        assert billed_cost == pytest.approx(cost, rel=1e-9, abs=1e-6), user_id


def test_utilisation_shares_are_of_the_local_day(default_warehouse: DefaultWarehouse) -> None:
    rows = query(
        default_warehouse.db_path,
        "select plugged_in_s, day_length_s, plugged_in_share, charging_s, charging_share"
        " from fct_charger_days",
    )
    assert rows
    for plugged, length, plugged_share, charging, charging_share in rows:
        assert length in (82_800, 86_400, 90_000)
        assert plugged_share == pytest.approx(plugged / length)
        assert charging_share == pytest.approx(charging / length)
        assert charging <= plugged + 60


def test_default_dataset_has_no_unknown_zone(default_warehouse: DefaultWarehouse) -> None:
    listed, _ = time_zones()
    for zone in {*listed.values()}:
        ZoneInfo(zone)  # an unknown IANA name raises
    assert Path(PROJECT_DIR / "seeds" / "charger_time_zones.csv").exists()
