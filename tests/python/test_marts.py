"""The charging marts on a small clean generated fleet, checked against independent computations.

One full ``dbt build`` (models, unit, data and contract tests) of a dataset without defects or
anomalies, then the marts are compared with what Python computes from the raw files and from the
profiles: session energy, average session time per charger, the big-change rule, the compressed
profile, the documented columns and a second build.
"""

from __future__ import annotations

import json
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest
from conftest import VENV_BIN, query, query_dicts, run_dbt

MARTS = (
    "fct_session_briefings",
    "fct_session_briefings_v2",
    "fct_charging_profiles",
    "rpt_big_changes",
    "rpt_compressed_charging_profiles",
    "fct_charger_summaries",
    "rpt_quarantined_lines",
    "rpt_ingestion_reconciliation",
    "rpt_unexpected_keys",
    "rpt_schema_drift",
    "dim_chargers",
    "dim_users",
    "fct_session_days",
    "fct_charger_days",
    "rpt_user_monthly_energy",
    "fct_sessions_in_progress",
    "fct_charging_profiles_in_progress",
    "fct_anomalies",
)


@pytest.fixture(scope="module")
def clean_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """Generate a clean fleet (6 chargers, 4 days) and build everything; (data, db, tmp)."""
    tmp = tmp_path_factory.mktemp("marts")
    data = tmp / "data"
    subprocess.run(
        [
            str(VENV_BIN / "chargerlogs-generate"),
            "--out",
            str(data),
            "--chargers",
            "6",
            "--days",
            "4",
            "--seed",
            "7",
            "--clean",
            "--quiet",
        ],
        check=True,
    )
    db = tmp / "warehouse.duckdb"
    run_dbt(["build"], data, db, tmp)
    return data, db, tmp


def raw_sessions(data: Path) -> list[dict]:
    """Every session event of the raw files, parsed by Python."""
    sessions = []
    for path in sorted((data / "charger_log_session").glob("*.json")):
        for line in path.read_text().splitlines():
            if line.strip():
                sessions.append(json.loads(line))
    return sessions


def test_every_raw_session_has_one_briefing(clean_build: tuple[Path, Path, Path]) -> None:
    data, db, _ = clean_build
    expected = sorted(session["id"] for session in raw_sessions(data))
    briefed = [
        row[0] for row in query(db, "select session_id from fct_session_briefings order by 1")
    ]
    assert briefed == expected


def test_integrated_energy_matches_reported_energy_on_clean_sessions(
    clean_build: tuple[Path, Path, Path],
) -> None:
    _, db, _ = clean_build
    rows = query_dicts(
        db,
        """
        select session_id, reported_energy_wh, telemetry_energy_wh, energy_ratio
        from fct_session_briefings
        where gap_count = 0 and not has_no_telemetry and reported_energy_wh >= 200
        """,
    )
    assert len(rows) >= 10
    off = [row for row in rows if abs(row["energy_ratio"] - 1) > 0.02]
    assert off == []


def test_average_session_time_per_charger_equals_python(
    clean_build: tuple[Path, Path, Path],
) -> None:
    data, db, _ = clean_build
    durations: dict[int, list[int]] = defaultdict(list)
    for session in raw_sessions(data):
        durations[session["charger_id"]].append(session["end_time"] - session["start_time"])
    summaries = {
        row["charger_id"]: row for row in query_dicts(db, "select * from fct_charger_summaries")
    }
    assert set(summaries) == set(durations)
    for charger_id, values in durations.items():
        row = summaries[charger_id]
        assert row["session_count"] == len(values)
        assert row["avg_session_duration_s"] == pytest.approx(sum(values) / len(values))
        assert row["max_session_duration_s"] == max(values)
        assert row["avg_session_duration_h"] == pytest.approx(sum(values) / len(values) / 3600)


def big_changes_in_python(
    profile: list[dict], threshold_pct: float, deadbands: dict[str, float]
) -> set[tuple[int, str, str]]:
    """The big-change rule written independently: (reading_seq, measure, phase) that changed."""
    series = {
        (measure, f"L{phase}"): f"{measure.rsplit('_', 1)[0]}_l{phase}_{measure.rsplit('_', 1)[1]}"
        for measure in ("current_a", "voltage_v", "temperature_c", "power_w")
        for phase in (1, 2, 3)
    }
    series[("power_w", "total")] = "power_w"
    found = set()
    for previous, sample in zip(profile, profile[1:], strict=False):
        for (measure, phase), column in series.items():
            old, new = previous[column], sample[column]
            if old is None or new is None:
                continue
            change = abs(new - old)
            if change <= deadbands[measure]:
                continue
            if old == 0 or round(change / abs(old) * 100, 6) > threshold_pct:
                found.add((sample["reading_seq"], measure, phase))
    return found


def test_big_change_report_matches_an_independent_implementation(
    clean_build: tuple[Path, Path, Path],
) -> None:
    _, db, _ = clean_build
    deadbands = {"current_a": 0.5, "voltage_v": 2.0, "temperature_c": 1.0, "power_w": 100.0}
    session_ids = [
        row[0]
        for row in query(
            db, "select session_id from fct_session_briefings where reading_count > 0 order by 1"
        )
    ]
    assert session_ids
    total = 0
    for session_id in session_ids:
        profile = query_dicts(
            db,
            "select * from fct_charging_profiles where session_id = ? order by reading_seq",
            [session_id],
        )
        expected = big_changes_in_python(profile, 10.0, deadbands)
        reported = {
            (row[0], row[1], row[2])
            for row in query(
                db,
                "select reading_seq, measure, phase from rpt_big_changes where session_id = ?",
                [session_id],
            )
        }
        assert reported == expected, session_id
        total += len(reported)
    assert total > 0


def test_compressed_profile_keeps_first_last_and_big_change_samples(
    clean_build: tuple[Path, Path, Path],
) -> None:
    _, db, _ = clean_build
    expected = set(
        query(
            db,
            """
            select session_id, reading_seq from fct_charging_profiles
            where reading_seq = 1
               or reading_seq = (select max(last_profile.reading_seq) from fct_charging_profiles
                                as last_profile
                                where last_profile.session_id = fct_charging_profiles.session_id)
            union
            select session_id, reading_seq from rpt_big_changes
            """,
        )
    )
    kept = set(query(db, "select session_id, reading_seq from rpt_compressed_charging_profiles"))
    assert kept == expected
    ratio = query(
        db,
        "select (select count(*) from rpt_compressed_charging_profiles) * 1.0"
        " / (select count(*) from fct_charging_profiles)",
    )[0][0]
    assert ratio < 0.2


def test_documented_columns_are_the_built_columns(clean_build: tuple[Path, Path, Path]) -> None:
    _, db, tmp = clean_build
    manifest = json.loads((tmp / "target" / "manifest.json").read_text())
    drift = {}
    for node in manifest["nodes"].values():
        if node["resource_type"] not in ("model", "seed"):
            continue
        # a versioned model's relation is named by its alias (fct_session_briefings_v2)
        built = {
            row[0]
            for row in query(
                db,
                "select column_name from information_schema.columns where table_name = ?",
                [node["alias"]],
            )
        }
        documented = set(node["columns"])
        if built != documented:
            drift[node["alias"]] = (sorted(built - documented), sorted(documented - built))
        assert node["description"].strip(), node["name"]
        for column in node["columns"].values():
            assert column["description"].strip(), (node["name"], column["name"])
    assert drift == {}


def test_every_mart_enforces_its_contract(clean_build: tuple[Path, Path, Path]) -> None:
    _, _, tmp = clean_build
    manifest = json.loads((tmp / "target" / "manifest.json").read_text())
    marts = {
        node["alias"]: node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["path"].startswith("marts/")
    }
    assert set(marts) == set(MARTS)
    for name, node in marts.items():
        assert node["config"]["contract"]["enforced"] is True, name
        assert all(column.get("data_type") for column in node["columns"].values()), name


def table_fingerprints(db: Path) -> dict[str, tuple]:
    """Row count and an order-independent hash of every mart."""
    return {name: query(db, f"select count(*), sum(hash(t)) from {name} as t")[0] for name in MARTS}


def test_building_twice_gives_the_same_marts(clean_build: tuple[Path, Path, Path]) -> None:
    data, db, tmp = clean_build
    before = table_fingerprints(db)
    run_dbt(["run"], data, db, tmp)
    assert table_fingerprints(db) == before


def test_bi_tools_see_only_the_marts_with_their_descriptions(
    clean_build: tuple[Path, Path, Path],
) -> None:
    _, db, _ = clean_build
    relations = query(
        db,
        "select schema_name, table_name, 'table', comment from duckdb_tables()"
        " union all select schema_name, view_name, 'view', comment from duckdb_views()"
        " where not internal",
    )
    in_marts = {name: kind for schema, name, kind, _ in relations if schema == "marts"}
    assert in_marts == dict.fromkeys(MARTS, "table")
    # nothing is left in the default schema; the views that read input files live in `staging`
    assert [name for schema, name, _, _ in relations if schema == "main"] == []
    views = {schema for schema, _, kind, _ in relations if kind == "view"}
    assert views <= {"staging", "intermediate"}
    described = {"marts", "intermediate", "staging", "reference"}
    assert all(comment for schema, _, _, comment in relations if schema in described)
    undocumented = query(
        db,
        "select table_name, column_name from duckdb_columns()"
        " where schema_name = 'marts' and (comment is null or comment = '')",
    )
    assert undocumented == []


def test_briefing_versions_keep_v1_where_its_readers_look(
    clean_build: tuple[Path, Path, Path],
) -> None:
    """v1 keeps the table name the notebook, the dashboard and BI tools read; v2 is the latest, and
    the only model that reads v1 (dbt's warning about references to a model slated for
    deprecation is silenced for that one reference)."""
    data, db, tmp = clean_build
    manifest = json.loads((tmp / "target" / "manifest.json").read_text())
    versions = {
        node["version"]: node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["name"] == "fct_session_briefings"
    }
    assert {v: (n["alias"], n["latest_version"]) for v, n in versions.items()} == {
        1: ("fct_session_briefings", 2),
        2: ("fct_session_briefings_v2", 2),
    }
    assert versions[1]["deprecation_date"].startswith("2027-05-31")
    assert versions[2]["deprecation_date"] is None
    v1_id = versions[1]["unique_id"]
    model_children = [child for child in manifest["child_map"][v1_id] if child.startswith("model.")]
    assert model_children == [versions[2]["unique_id"]]
    # the unpinned ref of every other model resolves to v2
    summaries = next(
        node for node in manifest["nodes"].values() if node["name"] == "fct_charger_summaries"
    )
    briefing_parents = [
        node for node in summaries["depends_on"]["nodes"] if ".fct_session_briefings" in node
    ]
    assert briefing_parents == [versions[2]["unique_id"]]
    # v2 = v1 with idle_plugged_in_s split in two; the same sessions and the same other values
    v1_columns = [
        row[0]
        for row in query(
            db,
            "select column_name from information_schema.columns"
            " where table_name = 'fct_session_briefings' order by ordinal_position",
        )
    ]
    v2_columns = [
        row[0]
        for row in query(
            db,
            "select column_name from information_schema.columns"
            " where table_name = 'fct_session_briefings_v2' order by ordinal_position",
        )
    ]
    assert set(v1_columns) - set(v2_columns) == {"idle_plugged_in_s"}
    assert set(v2_columns) - set(v1_columns) == {"measured_idle_s", "unmeasured_s"}
    shared = [column for column in v1_columns if column in v2_columns]
    listed = ", ".join(shared)
    assert query(
        db,
        f"select count(*) from (select {listed} from fct_session_briefings"
        f" except select {listed} from fct_session_briefings_v2)",
    ) == [(0,)]
    split = query(
        db,
        "select count(*), count(*) filter (where v1.idle_plugged_in_s"
        " = v2.measured_idle_s + v2.unmeasured_s) from fct_session_briefings as v1"
        " inner join fct_session_briefings_v2 as v2 on v1.session_id = v2.session_id",
    )
    count, equal = split[0]
    assert count == len(raw_sessions(data)) and equal == count
