"""Tests of chargerlogs-generate: determinism, physics, defects, layouts, clocks, anomalies, CLI."""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import re
import subprocess
import sys
from bisect import bisect_left
from collections import Counter, defaultdict
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from statistics import median

import duckdb
import pytest

from chargerlogs.generate import main
from chargerlogs.options import DEFECT_RATES, build_parser

STATUS_KEYS = ("id", "charger_id", "charger_timestamp")
MEASURES = ("ac_current_rms", "ac_voltage_rms", "temperature")
FLAT_FIELDS = {"id", "charger_id", "charger_timestamp", "server_timestamp"} | {
    f"{m}_{p}" for m in MEASURES for p in (1, 2, 3)
}
NESTED_FIELDS = {"id", "charger_id", "charger_phases", "charger_timestamp", "server_timestamp"}
LINE_RATE_KINDS = {
    "exact_duplicate": "duplicate_rate",
    "conflicting_duplicate": "conflict_rate",
    "malformed_json": "truncate_rate",
    "missing_key_field": "null_key_rate",
    "type_mismatch": "type_mismatch_rate",
    "out_of_range": "out_of_range_rate",
    "null_measurement": "null_measurement_rate",
    "unknown_field": "extra_field_rate",
}
BATCH_RATE_KINDS = {
    "resent_duplicate": "resend_rate",
    "late_batch_rows": "late_rate",
    "glitch_rows": "glitch_rate",
}
RATE = 0.02
DAY = 86_400
YEAR = 365 * DAY
SESSION_KEYS = ("id", "charger_id", "start_time", "end_time")
Period = tuple[int, int, int]  # true start, true end (UNIX s), charger clock minus true time


def run(out: Path, *args: str) -> Path:
    """Generate quietly into ``out`` and return it."""
    assert main(["--out", str(out), "--quiet", *args]) == 0
    return out


def read_lines(path: Path) -> list[str]:
    """The non-blank lines of a (possibly gzip) JSON lines file."""
    raw = path.read_bytes()
    if path.suffix == ".gz":
        raw = gzip.decompress(raw)
    return [line for line in raw.decode().split("\n") if line.strip()]


def manifest(out: Path) -> dict:
    return json.loads((out / "_generator" / "manifest.json").read_text())


def stream_lines(out: Path, stream: str) -> dict[str, list[str]]:
    """Lines per file (relative name) of one stream, from the manifest's file list."""
    return {name: read_lines(out / name) for name in manifest(out)[stream]["files"]}


def phases_of(record: dict) -> dict[int, dict]:
    """Per-phase measurements of a parsed status row, whatever its layout."""
    if "charger_phases" in record:
        return {element["id"]: element for element in record["charger_phases"]}
    return {
        p: {m: record.get(f"{m}_{p}") for m in MEASURES}
        for p in (1, 2, 3)
        if record.get(f"ac_voltage_rms_{p}") is not None
        or record.get(f"ac_current_rms_{p}") is not None
        or record.get(f"temperature_{p}") is not None
    }


def parsed_lines(out: Path, stream: str) -> list[dict]:
    """Every line of a stream that is valid JSON, parsed."""
    rows = []
    for lines in stream_lines(out, stream).values():
        for line in lines:
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return rows


def parsed_status(out: Path) -> list[dict]:
    """Every status line that is valid JSON, parsed."""
    return parsed_lines(out, "charger_log_status")


def sessions_of(out: Path) -> list[dict]:
    """Every session line that is valid JSON, parsed."""
    return parsed_lines(out, "charger_log_session")


def telemetry_by_charger(out: Path) -> dict[int, list[tuple[int, dict[int, dict]]]]:
    """charger_id -> [(charger_timestamp, phases)] sorted by time, first copy of each instant."""
    seen: set[tuple[int, int]] = set()
    by_charger: dict[int, list] = defaultdict(list)
    for row in parsed_status(out):
        if any(row.get(k) is None for k in STATUS_KEYS):
            continue
        key = (row["charger_id"], row["charger_timestamp"])
        if key in seen:
            continue
        seen.add(key)
        by_charger[row["charger_id"]].append((row["charger_timestamp"], phases_of(row)))
    for rows in by_charger.values():
        rows.sort(key=lambda item: item[0])
    return by_charger


def power_w(phases: dict[int, dict]) -> float:
    """Sum over phases of V x I, skipping anything that is not a number."""
    total = 0.0
    for element in phases.values():
        volts, amps = element.get("ac_voltage_rms"), element.get("ac_current_rms")
        if isinstance(volts, int) and isinstance(amps, int) and volts >= 0 and amps >= 0:
            total += volts * amps / 100
    return total


def integral_wh(samples: list[tuple[int, dict]], start: int, end: int) -> float:
    inside = [(t, power_w(p)) for t, p in samples if start <= t <= end]
    return sum((b[0] - a[0]) * (a[1] + b[1]) / 2 for a, b in pairwise(inside)) / 3600


def digests(out: Path, skip_manifest: bool = False) -> dict[str, str]:
    return {
        str(path.relative_to(out)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(out.rglob("*"))
        if path.is_file() and not (skip_manifest and path.name == "manifest.json")
    }


def clock_periods(out: Path) -> dict[int, list[Period]]:
    """charger_id -> its clock periods in time order, from _generator/clock_periods.csv."""
    periods: dict[int, list[Period]] = defaultdict(list)
    with (out / "_generator" / "clock_periods.csv").open(newline="") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == [
            "charger_id",
            "period_start_server_time",
            "period_end_server_time",
            "offset_s",
        ]
        for row in reader:
            periods[int(row["charger_id"])].append(
                (
                    int(row["period_start_server_time"]),
                    int(row["period_end_server_time"]),
                    int(row["offset_s"]),
                )
            )
    return dict(periods)


def period_of_stamp(periods: list[Period], stamp: int) -> Period:
    """The one period whose span in the charger's own clock holds a charger time."""
    found = [p for p in periods if p[0] + p[2] <= stamp < p[1] + p[2]]
    assert len(found) == 1, stamp
    return found[0]


def offset_at(periods: list[Period], true_t: int) -> int:
    """The clock offset of a charger at a true instant."""
    return next(offset for start, end, offset in periods if start <= true_t < end)


def reset_chargers(periods: dict[int, list[Period]]) -> list[int]:
    """The chargers with a period in a reset clock."""
    return sorted(c for c, spans in periods.items() if any(offset for *_, offset in spans))


def status_rows_of(out: Path, chargers: set[int]) -> list[dict]:
    """The valid status rows of some chargers, parsed (other chargers' lines are skipped)."""
    tags = tuple(f'"charger_id": {c},' for c in chargers)
    rows = []
    for name in manifest(out)["charger_log_status"]["files"]:
        for line in read_lines(out / name):
            if not any(tag in line for tag in tags):
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if all(row.get(k) is not None for k in STATUS_KEYS):
                rows.append(row)
    return rows


def server_s(row: dict) -> float:
    """server_timestamp in UNIX seconds, from either layout."""
    value = row["server_timestamp"]
    return datetime.fromisoformat(value).timestamp() if isinstance(value, str) else value


def complete_sessions(out: Path) -> dict[int, dict]:
    """Session id -> session, for the valid session lines with every key field."""
    return {s["id"]: s for s in sessions_of(out) if all(s.get(k) is not None for k in SESSION_KEYS)}


@pytest.fixture(scope="module")
def gen_clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("clean") / "data"
    return run(
        out,
        "--clean",
        "--chargers",
        "6",
        "--days",
        "3",
        "--seed",
        "7",
        "--admin-price-share",
        "0",
        "--rows-per-file",
        "20000",
    )


@pytest.fixture(scope="module")
def gen_defects(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rates = []
    for name in DEFECT_RATES:
        rates += ["--" + name.replace("_", "-"), str(RATE)]
    out = tmp_path_factory.mktemp("defects") / "data"
    return run(
        out,
        "--chargers",
        "6",
        "--days",
        "3",
        "--seed",
        "11",
        "--anomaly-rate",
        "1",
        "--clock-reset-chargers",
        "3",
        *rates,
    )


@pytest.fixture(scope="module")
def gen_default(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default dataset, as ``make data`` writes it."""
    return run(tmp_path_factory.mktemp("default") / "data", "--seed", "42")


@pytest.fixture(scope="module")
def gen_sessions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sessions") / "data"
    return run(
        out,
        "--chargers",
        "30",
        "--days",
        "10",
        "--sample-interval",
        "900",
        "--duplicate-rate",
        "0.05",
        "--truncate-rate",
        "0.05",
        "--null-key-rate",
        "0.05",
        "--type-mismatch-rate",
        "0.05",
        "--end-before-start-rate",
        "0.05",
    )


# Determinism


def test_same_arguments_give_identical_bytes(tmp_path: Path) -> None:
    args = ("--chargers", "4", "--days", "2", "--seed", "5")
    out = run(tmp_path / "a", *args)
    first = digests(out)
    assert any(name.endswith(".json.gz") for name in first)
    run(out, *args, "--force")
    assert digests(out) == first


def test_output_does_not_depend_on_workers(tmp_path: Path) -> None:
    one = run(tmp_path / "one", "--chargers", "7", "--days", "2", "--workers", "1")
    two = run(tmp_path / "two", "--chargers", "7", "--days", "2", "--workers", "2")
    assert digests(one, skip_manifest=True) == digests(two, skip_manifest=True)
    assert manifest(one)["charger_log_status"] == manifest(two)["charger_log_status"]
    assert "workers" not in manifest(one)["arguments"]


def test_another_seed_gives_other_data(tmp_path: Path) -> None:
    a = run(tmp_path / "a", "--chargers", "4", "--days", "2", "--seed", "1")
    b = run(tmp_path / "b", "--chargers", "4", "--days", "2", "--seed", "2")
    data = ("charger_log_status/", "charger_log_session/")
    a_files = {d for n, d in digests(a).items() if n.startswith(data) and "_SUCCESS" not in n}
    b_files = {d for n, d in digests(b).items() if n.startswith(data) and "_SUCCESS" not in n}
    assert len(a_files) >= 3 and a_files.isdisjoint(b_files)


# Physics


def test_reported_energy_is_the_telemetry_integral(gen_clean: Path) -> None:
    telemetry = telemetry_by_charger(gen_clean)
    sessions = sessions_of(gen_clean)
    assert len(sessions) >= 10
    for session in sessions:
        wh = integral_wh(
            telemetry[session["charger_id"]], session["start_time"], session["end_time"]
        )
        assert session["energy"] == pytest.approx(wh, rel=0.02, abs=1.0)
        assert session["total_cost"] == pytest.approx(session["energy"] / 1000 * 0.2, abs=0.0051)


def test_sessions_have_realistic_ranges(gen_clean: Path) -> None:
    sessions = sessions_of(gen_clean)
    energies = [s["energy"] for s in sessions]
    hours = [(s["end_time"] - s["start_time"]) / 3600 for s in sessions]
    assert 150 <= min(energies) and max(energies) <= 33_000
    assert max(energies) > 5_000
    assert 0.3 <= min(hours) and max(hours) <= 22.5
    assert all(3_500_000 <= s["id"] <= 4_500_000 for s in sessions)
    assert len({s["id"] for s in sessions}) == len(sessions)
    by_charger = defaultdict(list)
    for s in sessions:
        by_charger[s["charger_id"]].append((s["start_time"], s["end_time"]))
    for spans in by_charger.values():
        spans.sort()
        assert all(a[1] < b[0] for a, b in pairwise(spans))


def test_session_time_exceeds_charging_time(gen_clean: Path) -> None:
    telemetry = telemetry_by_charger(gen_clean)
    for s in sessions_of(gen_clean):
        charging = [
            t
            for t, phases in telemetry[s["charger_id"]]
            if s["start_time"] <= t <= s["end_time"]
            and max(p["ac_current_rms"] for p in phases.values()) > 100
        ]
        assert charging, s
        assert s["start_time"] < charging[0] and charging[-1] < s["end_time"]


def test_voltage_and_temperature(gen_clean: Path) -> None:
    volts, hot, idle = [], [], []
    for samples in telemetry_by_charger(gen_clean).values():
        for _, phases in samples:
            for element in phases.values():
                volts.append(element["ac_voltage_rms"])
                target = hot if element["ac_current_rms"] > 1000 else idle
                target.append(element["temperature"])
    assert 226 <= sum(volts) / len(volts) <= 234
    assert min(volts) > 200 and max(volts) < 250
    assert sum(hot) / len(hot) > sum(idle) / len(idle) + 3


def test_ids_and_idle_current(gen_clean: Path) -> None:
    rows = parsed_status(gen_clean)
    chargers = {r["charger_id"] for r in rows}
    assert len(chargers) == 6 and all(14_000 <= c <= 105_000 for c in chargers)
    ids = [r["id"] for r in rows]
    assert len(set(ids)) == len(ids) and min(ids) > 100_000_000
    currents = [p["ac_current_rms"] for r in rows for p in phases_of(r).values()]
    idle = [c for c in currents if c < 100]
    assert idle and max(idle) <= 5


def test_sampling_is_irregular(gen_clean: Path) -> None:
    steps = Counter()
    for samples in telemetry_by_charger(gen_clean).values():
        times = [t for t, _ in samples]
        steps.update(b - a for a, b in pairwise(times))
    total = sum(steps.values())
    regular = sum(n for step, n in steps.items() if 29 <= step <= 31)
    assert regular / total > 0.9
    assert sum(n for step, n in steps.items() if step <= 5) > 0
    assert max(steps) >= 120


# Layouts


def test_single_phase_rows(gen_clean: Path) -> None:
    single = {c["charger_id"] for c in manifest(gen_clean)["chargers"] if c["phases"] == 1}
    three = {c["charger_id"] for c in manifest(gen_clean)["chargers"] if c["phases"] == 3}
    assert single and three
    shuffled = 0
    for row in parsed_status(gen_clean):
        if "charger_phases" in row:
            ids = [e["id"] for e in row["charger_phases"]]
            assert sorted(ids) == ([1] if row["charger_id"] in single else [1, 2, 3])
            shuffled += ids != sorted(ids)
        elif row["charger_id"] in single:
            assert row["ac_current_rms_2"] is None and row["temperature_3"] is None
    assert shuffled > 0


@pytest.mark.parametrize("layout", ["flat", "nested", "mixed"])
def test_layouts_are_written_as_asked(tmp_path: Path, layout: str) -> None:
    out = run(tmp_path / layout, "--clean", "--chargers", "4", "--days", "2", "--layout", layout)
    files = manifest(out)["charger_log_status"]["files"]
    layouts = {meta["layout"] for meta in files.values()}
    assert layouts == ({"flat", "nested"} if layout == "mixed" else {layout})
    for name, meta in files.items():
        fields = FLAT_FIELDS if meta["layout"] == "flat" else NESTED_FIELDS
        assert name.endswith(".json.gz") == meta["gzip"]
        assert meta["gzip"] == (meta["layout"] == "nested")
        lines = read_lines(out / name)
        assert len(lines) == meta["lines"]
        for line in lines[:200]:
            assert set(json.loads(line)) == fields
    success = out / "charger_log_status" / "_SUCCESS"
    assert success.exists() == (layout != "flat")


def test_no_gzip_writes_plain_part_files(tmp_path: Path) -> None:
    out = run(
        tmp_path / "plain",
        "--clean",
        "--chargers",
        "3",
        "--days",
        "1",
        "--layout",
        "nested",
        "--no-gzip",
    )
    names = list(manifest(out)["charger_log_status"]["files"])
    assert names and all(n.endswith(".json") and "/part-" in n for n in names)


def test_duckdb_reads_both_layouts(gen_clean: Path) -> None:
    status = gen_clean / "charger_log_status"
    con = duckdb.connect()
    flat = con.execute(
        f"""select count(*), sum(ac_current_rms_1), count(ac_current_rms_2)
        from read_json('{status}/charger_log_status-*.json', format='newline_delimited',
            columns={{'id': 'BIGINT', 'charger_id': 'INTEGER', 'ac_current_rms_1': 'INTEGER',
            'ac_current_rms_2': 'INTEGER', 'charger_timestamp': 'BIGINT',
            'server_timestamp': 'DOUBLE'}})"""
    ).fetchone()
    nested = con.execute(
        f"""select count(*), sum(list_sum([p.ac_current_rms for p in charger_phases
            if p.id = 1])), min(server_timestamp)
        from read_json('{status}/part-*.json.gz', format='newline_delimited',
            columns={{'id': 'BIGINT', 'charger_id': 'INTEGER',
            'charger_phases': 'STRUCT(id INTEGER, temperature INTEGER,
                ac_current_rms INTEGER, ac_voltage_rms INTEGER)[]',
            'charger_timestamp': 'BIGINT', 'server_timestamp': 'TIMESTAMPTZ'}})"""
    ).fetchone()
    expected = {"flat": [0, 0, 0], "nested": [0, 0]}
    for row in parsed_status(gen_clean):
        if "charger_phases" in row:
            expected["nested"][0] += 1
            expected["nested"][1] += phases_of(row)[1]["ac_current_rms"]
        else:
            expected["flat"][0] += 1
            expected["flat"][1] += row["ac_current_rms_1"]
            expected["flat"][2] += row["ac_current_rms_2"] is not None
    assert list(flat) == expected["flat"]
    assert list(nested[:2]) == expected["nested"]
    assert nested[2].year == 2021


# Defects


def test_accounting_invariant(gen_defects: Path, gen_sessions: Path) -> None:
    for out in (gen_defects, gen_sessions):
        m = manifest(out)
        for stream in ("charger_log_status", "charger_log_session"):
            facts = m[stream]
            d = facts["defects"]
            quarantined = (
                d["exact_duplicate"]
                + d["malformed_json"]
                + d["missing_key_field"]
                + d["type_mismatch"]
                + d.get("out_of_range", 0)
                + d.get("end_before_start", 0)
                + d.get("resent_duplicate", 0)
                + d.get("conflicting_duplicate", 0)
            )
            assert facts["lines"] == facts["clean_rows"] + quarantined
            on_disk = stream_lines(out, stream)
            assert facts["lines"] == sum(len(v) for v in on_disk.values())
            assert {n: len(v) for n, v in on_disk.items()} == {
                n: meta["lines"] for n, meta in facts["files"].items()
            }


def test_defect_keys_are_exact(gen_defects: Path) -> None:
    m = manifest(gen_defects)
    assert set(m["charger_log_status"]["defects"]) == {
        "exact_duplicate",
        "resent_duplicate",
        "conflicting_duplicate",
        "malformed_json",
        "missing_key_field",
        "type_mismatch",
        "out_of_range",
        "null_measurement",
        "unknown_field",
        "late_batch_rows",
        "clock_reset_rows",
        "glitch_rows",
    }
    assert set(m["charger_log_session"]["defects"]) == {
        "exact_duplicate",
        "malformed_json",
        "missing_key_field",
        "type_mismatch",
        "end_before_start",
    }


def test_defect_rates_are_honoured(gen_defects: Path) -> None:
    status = manifest(gen_defects)["charger_log_status"]
    d = status["defects"]
    base = status["lines"] - d["exact_duplicate"] - d["resent_duplicate"]
    base -= d["conflicting_duplicate"]
    for kind in LINE_RATE_KINDS:
        assert d[kind] / base == pytest.approx(RATE, rel=0.05), kind
    for kind in BATCH_RATE_KINDS:
        assert RATE * 0.95 <= d[kind] / base <= RATE * 1.5, kind


def test_session_defect_rates(gen_sessions: Path) -> None:
    facts = manifest(gen_sessions)["charger_log_session"]
    d = facts["defects"]
    sessions = facts["lines"] - d["exact_duplicate"]
    assert sessions > 200
    for kind, count in d.items():
        assert count / sessions == pytest.approx(0.05, abs=0.005), kind
    lines = [line for v in stream_lines(gen_sessions, "charger_log_session").values() for line in v]
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    assert len(lines) - len(parsed) == d["malformed_json"]
    whole = [line for line in lines if line.endswith("}")]
    assert len(whole) - len(set(whole)) == d["exact_duplicate"]
    keys = ("id", "charger_id", "start_time", "end_time")
    missing = [r for r in parsed if any(r.get(k) is None for k in keys)]
    assert len(missing) == d["missing_key_field"]
    assert (
        sum(
            isinstance(r["energy"], str) or isinstance(r["total_cost"], str)
            for r in parsed
            if "energy" in r
        )
        == d["type_mismatch"]
    )
    complete = [r for r in parsed if r not in missing]
    assert sum(r["end_time"] < r["start_time"] for r in complete) == d["end_before_start"]


def test_status_manifest_matches_files(gen_defects: Path) -> None:
    status = manifest(gen_defects)["charger_log_status"]
    d = status["defects"]
    phases = {c["charger_id"]: c["phases"] for c in manifest(gen_defects)["chargers"]}
    lines = [line for v in stream_lines(gen_defects, "charger_log_status").values() for line in v]
    rows = []
    for line in lines:
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    assert len(lines) - len(rows) == d["malformed_json"]
    whole = [line for line in lines if line.endswith("}")]
    assert len(whole) - len(set(whole)) == d["exact_duplicate"]
    missing = [r for r in rows if any(r.get(k) is None for k in STATUS_KEYS)]
    assert len(missing) == d["missing_key_field"]
    unknown = [r for r in rows if set(r) - FLAT_FIELDS - NESTED_FIELDS]
    assert len(unknown) == d["unknown_field"]
    assert {k for r in unknown for k in set(r) - FLAT_FIELDS - NESTED_FIELDS} == set(
        status["unknown_fields"]
    )
    typed, negative, nulls = 0, 0, 0
    for r in rows:
        values = []
        for p in range(1, phases.get(r.get("charger_id"), 3) + 1):
            if "charger_phases" in r:
                element = next((e for e in r["charger_phases"] if e["id"] == p), {})
            else:
                element = {m: r.get(f"{m}_{p}") for m in MEASURES}
            values += [element.get(m) for m in MEASURES]
        typed += any(isinstance(v, str) for v in values)
        # a type mismatch is never a number written as a string: the warehouse reads those
        assert not any(isinstance(v, str) and re.fullmatch(r"-?[0-9.]+", v) for v in values)
        negative += any(isinstance(v, int) and v < 0 for v in values)
        nulls += any(v is None for v in values)
    missing_charger = sum(r.get("charger_id") is None for r in rows)
    assert typed == d["type_mismatch"]
    assert negative == d["out_of_range"]
    assert d["null_measurement"] <= nulls <= d["null_measurement"] + missing_charger
    quoted = [r for r in rows if "n/a" in json.dumps(r)]
    assert 0 < len(quoted) < d["type_mismatch"]

    valid = [r for r in rows if r not in missing]
    ids_per_instant: dict[tuple[int, int], set[int]] = defaultdict(set)
    for r in valid:
        ids_per_instant[(r["charger_id"], r["charger_timestamp"])].add(r["id"])
    assert sum(len(ids) - 1 for ids in ids_per_instant.values()) == d["resent_duplicate"]
    payloads: dict[int, set[str]] = defaultdict(set)
    for r in valid:
        payloads[r["id"]].add(json.dumps({k: v for k, v in r.items() if k != "server_timestamp"}))
    assert sum(len(p) - 1 for p in payloads.values()) == d["conflicting_duplicate"]


def test_duplicates_arrive_later(gen_defects: Path) -> None:
    def server_s(r: dict) -> float:
        value = r["server_timestamp"]
        if isinstance(value, str):
            return duckdb.sql(f"select epoch(timestamptz '{value}')").fetchall()[0][0]
        return value

    first_seen: dict[int, dict] = {}
    later = 0
    for r in parsed_status(gen_defects):
        if r.get("id") is None:
            continue
        if r["id"] in first_seen and r != first_seen[r["id"]]:
            assert server_s(r) > server_s(first_seen[r["id"]])
            later += 1
        first_seen.setdefault(r["id"], r)
    assert later == manifest(gen_defects)["charger_log_status"]["defects"]["conflicting_duplicate"]


def test_files_are_in_arrival_order_with_late_batches(gen_defects: Path) -> None:
    late = 0
    for name, lines in stream_lines(gen_defects, "charger_log_status").items():
        if "charger_log_status-" not in name:
            continue
        last_server, last_time = 0.0, {}
        for line in lines:
            try:
                r = json.loads(line)
            except json.JSONDecodeError:
                continue
            assert r["server_timestamp"] >= last_server
            last_server = r["server_timestamp"]
            cid, t = r.get("charger_id"), r.get("charger_timestamp")
            if cid is None or t is None:
                continue
            late += t < last_time.get(cid, 0) - 3600
            last_time[cid] = max(t, last_time.get(cid, 0))
    assert late > 0


# Clocks


def test_default_clock_periods_cover_the_window(gen_default: Path) -> None:
    m = manifest(gen_default)
    periods = clock_periods(gen_default)
    assert sorted(periods) == sorted(c["charger_id"] for c in m["chargers"])
    for spans in periods.values():
        assert spans[0][0] == m["window"]["start"] and spans[-1][1] == m["window"]["end"]
        assert all(a[1] == b[0] and a[2] != b[2] for a, b in pairwise(spans))
        assert all(offset == 0 or offset < -10 * YEAR for *_, offset in spans)
    reset = reset_chargers(periods)
    assert reset == m["charger_log_status"]["clock_reset_chargers"] and len(reset) == 2
    shapes = sorted([offset != 0 for *_, offset in periods[c]] for c in reset)
    assert shapes == [[True], [True, False]]
    synced = [c for c in reset if len(periods[c]) == 2]
    sync = periods[synced[0]][1][0]
    assert sync - m["window"]["start"] > 3 * DAY and m["window"]["end"] - sync > 3 * DAY
    assert m["clock_periods"]["synced_chargers"] == synced
    assert m["clock_periods"]["periods"] == sum(len(spans) for spans in periods.values())


def test_default_sessions_of_reset_chargers_are_in_the_reset_clock(gen_default: Path) -> None:
    m = manifest(gen_default)
    periods = clock_periods(gen_default)
    reset = set(reset_chargers(periods))
    charging = defaultdict(list)
    for r in status_rows_of(gen_default, reset):
        currents = [p.get("ac_current_rms") for p in phases_of(r).values()]
        if max((a for a in currents if isinstance(a, int)), default=0) > 100:
            charging[r["charger_id"]].append(r["charger_timestamp"])
    for stamps in charging.values():
        stamps.sort()
    sides: dict[int, Counter] = defaultdict(Counter)
    for s in complete_sessions(gen_default).values():
        charger = s["charger_id"]
        first, last = sorted((s["start_time"], s["end_time"]))
        if charger not in reset:
            assert m["window"]["start"] <= first and last < m["window"]["end"]
            continue
        # start and end are true times + the offset of the one period holding the session
        start, end, offset = period_of_stamp(periods[charger], first)
        assert start <= first - offset and last - offset < end
        sides[charger][offset != 0] += 1
        # the status rows measured during the session are stamped in the same clock
        stamps = charging[charger]
        i = bisect_left(stamps, first)
        assert i < len(stamps) and stamps[i] <= last, s
    stamped_reset = sum(counts[True] for counts in sides.values())
    lost = sum(
        m["charger_log_session"]["defects"][k] for k in ("malformed_json", "missing_key_field")
    )
    assert stamped_reset <= m["clock_periods"]["reset_sessions"] <= stamped_reset + lost
    assert stamped_reset >= 10
    (synced,) = m["clock_periods"]["synced_chargers"]
    assert sides[synced][True] >= 1 and sides[synced][False] >= 1


def test_default_status_rows_carry_the_offset_of_their_period(gen_default: Path) -> None:
    m = manifest(gen_default)
    periods = clock_periods(gen_default)
    reset = reset_chargers(periods)
    delays = defaultdict(list)
    stamped_reset = set()
    for r in status_rows_of(gen_default, set(reset)):
        charger, stamp = r["charger_id"], r["charger_timestamp"]
        start, end, offset = period_of_stamp(periods[charger], stamp)
        measured = stamp - offset
        assert start <= measured < end
        # server_timestamp is true time: the upload follows the true measurement time
        delay = server_s(r) - measured
        assert 0.4 < delay < 3 * DAY + 2 * 3600, r
        delays[(charger, start)].append(delay)
        if offset:
            stamped_reset.add((charger, stamp))
    assert sorted(delays) == sorted((c, p[0]) for c in reset for p in periods[c])
    # a batch of at most 20 samples is uploaded 0.5-8 s after its last sample
    assert all(min(found) < 8 and median(found) < 600 for found in delays.values())
    d = m["charger_log_status"]["defects"]
    lost = d["malformed_json"] + d["missing_key_field"]
    assert len(stamped_reset) <= d["clock_reset_rows"] <= len(stamped_reset) + lost


def test_default_anomalies_are_in_true_time(gen_default: Path) -> None:
    periods = clock_periods(gen_default)
    sessions = complete_sessions(gen_default)
    with (gen_default / "_generator" / "anomalies.csv").open(newline="") as handle:
        anomalies = list(csv.DictReader(handle))
    on_reset_clock = 0
    for a in anomalies:
        charger, start, end = int(a["charger_id"]), int(a["start_time"]), int(a["end_time"])
        offset = offset_at(periods[charger], start)
        assert offset_at(periods[charger], end) == offset
        on_reset_clock += offset != 0
        session = sessions.get(int(a["session_id"]))
        if session is not None:
            assert session["start_time"] - offset <= start <= end <= session["end_time"] - offset
    assert on_reset_clock > 0


def test_clock_patterns_take_turns(gen_defects: Path) -> None:
    m = manifest(gen_defects)
    periods = clock_periods(gen_defects)
    reset = reset_chargers(periods)
    assert reset == m["charger_log_status"]["clock_reset_chargers"] and len(reset) == 3
    shapes = sorted([offset != 0 for *_, offset in periods[c]] for c in reset)
    assert shapes == [[False, True, False], [True], [True, False]]
    assert m["clock_periods"]["synced_chargers"] == [c for c in reset if len(periods[c]) > 1]
    for s in complete_sessions(gen_defects).values():
        first, last = sorted((s["start_time"], s["end_time"]))
        assert period_of_stamp(periods[s["charger_id"]], first) == period_of_stamp(
            periods[s["charger_id"]], last
        )


def test_reset_clocks_in_a_short_early_window(tmp_path: Path) -> None:
    args = ("--chargers", "3", "--days", "1", "--start", "2002-01-01")
    out = run(tmp_path / "early", *args, "--clock-reset-chargers", "3")
    m = manifest(out)
    periods = clock_periods(out)
    assert len(reset_chargers(periods)) == 3
    for spans in periods.values():
        assert spans[0][0] == m["window"]["start"] and spans[-1][1] == m["window"]["end"]
        assert all(offset == 0 or offset < -YEAR for *_, offset in spans)
    for s in complete_sessions(out).values():
        first, last = sorted((s["start_time"], s["end_time"]))
        start, end, offset = period_of_stamp(periods[s["charger_id"]], first)
        assert start <= first - offset and last - offset < end


# Anomalies


def test_anomalies_are_labelled_and_visible(gen_defects: Path) -> None:
    with (gen_defects / "_generator" / "anomalies.csv").open(newline="") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == [
            "charger_id",
            "session_id",
            "phase",
            "start_time",
            "end_time",
            "kind",
        ]
        anomalies = list(reader)
    kinds = Counter(a["kind"] for a in anomalies)
    assert set(kinds) == {
        "overheating",
        "voltage_sag",
        "voltage_swell",
        "phase_loss",
        "stuck_sensor",
        "energy_mismatch",
    }
    assert sum(kinds.values()) == sum(manifest(gen_defects)["anomalies"].values())
    telemetry = telemetry_by_charger(gen_defects)
    periods = clock_periods(gen_defects)
    sessions = {s["id"]: s for s in sessions_of(gen_defects) if s.get("id") is not None}
    on_reset_clock = 0
    for a in anomalies:
        # anomalies.csv is in true time; the session and the telemetry in the charger's clock
        charger = int(a["charger_id"])
        offset = offset_at(periods[charger], int(a["start_time"]))
        on_reset_clock += offset != 0
        start, end = int(a["start_time"]) + offset, int(a["end_time"]) + offset
        assert start <= end and 3_500_000 <= int(a["session_id"]) <= 4_500_000
        session = sessions[int(a["session_id"])]
        assert session["start_time"] <= start and end <= session["end_time"]
        if a["kind"] == "energy_mismatch":
            assert a["phase"] == ""
            wh = integral_wh(telemetry[charger], start, end)
            assert 0.13 <= abs(session["energy"] / wh - 1) <= 0.42
            continue
        phase = int(a["phase"])
        window = [p[phase] for t, p in telemetry[charger] if start <= t <= end and phase in p]
        other = [p[phase] for t, p in telemetry[charger] if not start <= t <= end and phase in p]
        assert len(window) >= 3

        def values(rows: list[dict], field: str) -> list[int]:
            return sorted(v for r in rows if isinstance(v := r.get(field), int) and v >= 0)

        def median(rows: list[dict], field: str) -> int:
            found = values(rows, field)
            return found[len(found) // 2]

        if a["kind"] == "overheating":
            assert max(values(window, "temperature")) >= median(other, "temperature") + 20
        elif a["kind"] == "voltage_sag":
            assert median(window, "ac_voltage_rms") < 207
        elif a["kind"] == "voltage_swell":
            assert median(window, "ac_voltage_rms") > 253
        elif a["kind"] == "phase_loss":
            assert median(window, "ac_current_rms") < 10 and median(window, "ac_voltage_rms") < 10
        else:
            volts = Counter(values(window, "ac_voltage_rms"))
            assert volts.most_common(1)[0][1] >= 0.9 * sum(volts.values())
    assert on_reset_clock > 0


# Command line


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chargerlogs.generate", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_help_mentions_every_option() -> None:
    result = cli("--help")
    assert result.returncode == 0
    options = [o for action in build_parser()._actions for o in action.option_strings]
    assert len(options) > 30
    for option in options:
        assert option in result.stdout, option
    for name in DEFECT_RATES:
        assert "--" + name.replace("_", "-") in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        ("--bogus",),
        ("--duplicate-rate", "-0.1"),
        ("--late-rate", "1.5"),
        ("--anomaly-rate", "abc"),
        ("--start", "2021-13-01"),
        ("--start", "2001-06-01"),
        ("--chargers", "0"),
        ("--layout", "diagonal"),
        ("--clock-reset-chargers", "99"),
    ],
)
def test_bad_argument_exits_2_with_one_line(tmp_path: Path, args: tuple[str, ...]) -> None:
    result = cli("--out", str(tmp_path / "new"), *args)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("chargerlogs-generate: error: ")
    assert not (tmp_path / "new").exists()


def test_existing_out_needs_force(tmp_path: Path) -> None:
    out = run(tmp_path / "data", "--chargers", "2", "--days", "1")
    before = digests(out)
    result = cli("--out", str(out), "--chargers", "2", "--days", "1")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "--force" in result.stderr
    assert digests(out) == before
    assert cli("--out").returncode == 2


def test_progress_on_stderr_unless_quiet(tmp_path: Path) -> None:
    loud = cli("--out", str(tmp_path / "loud"), "--chargers", "4", "--days", "1")
    assert loud.returncode == 0 and "rows/s" in loud.stderr
    quiet = cli("--out", str(tmp_path / "quiet"), "--chargers", "4", "--days", "1", "--quiet")
    assert quiet.returncode == 0 and quiet.stderr == "" and quiet.stdout == ""
