"""Tests of chargerlogs-generate --live: micro-batch files written atomically in arrival order,
holding the batch run's lines, deterministic, paced, stoppable, with one-line option errors."""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path

import pytest
from conftest import build_data_quality, query, seed_reasons

from chargerlogs.generate import main

STREAMS = ("charger_log_status", "charger_log_session")
NAME = re.compile(r"part-(\d{6})-(flat|nested)\.json(\.gz)?")
RATES = (
    "--late-rate",
    "0.05",
    "--resend-rate",
    "0.03",
    "--duplicate-rate",
    "0.01",
    "--conflict-rate",
    "0.01",
    "--truncate-rate",
    "0.01",
    "--extra-field-rate",
    "0.01",
)
# Eight chargers from 06:00 UTC, when the home sessions of the night end.
FLEET = ("--chargers", "8", "--seed", "3", "--start", "2021-03-01T06:00", *RATES)
HOUR = 3_600
DAY = 86_400


def live(out: Path, *args: str) -> Path:
    """Write a live window as fast as possible, quietly, into ``out``; return it."""
    assert main(["--out", str(out), "--live", "--no-wait", "--quiet", *args]) == 0
    return out


def batch(out: Path, *args: str) -> Path:
    """Write a batch dataset quietly into ``out``; return it."""
    assert main(["--out", str(out), "--quiet", *args]) == 0
    return out


def manifest(out: Path) -> dict:
    return json.loads((out / "_generator" / "manifest.json").read_text())


def read_lines(path: Path, name: str | None = None) -> list[str]:
    """The lines of a file (gzip when ``name``, by default its own, ends in .gz); the file must
    end with a newline."""
    raw = path.read_bytes()
    if (name or path.name).endswith(".gz"):
        raw = gzip.decompress(raw)
    text = raw.decode()
    assert text.endswith("\n"), path
    return text[:-1].split("\n")


def data_files(out: Path, stream: str) -> list[Path]:
    return sorted(p for p in (out / stream).iterdir() if p.name.endswith((".json", ".json.gz")))


def all_lines(out: Path, stream: str) -> list[str]:
    return [line for path in data_files(out, stream) for line in read_lines(path)]


def parse(line: str) -> dict | None:
    try:
        return json.loads(line)
    except json.JSONDecodeError:
        return None


def server_s(row: dict) -> float:
    value = row["server_timestamp"]
    if isinstance(value, str):
        return datetime.fromisoformat(value).timestamp()
    return float(value)


def measurements(row: dict) -> tuple:
    """A status row's measurements, whatever its layout."""
    if "charger_phases" in row:
        phases = sorted(row["charger_phases"], key=lambda element: element["id"])
        return tuple(
            (e["id"], e.get("ac_current_rms"), e.get("ac_voltage_rms"), e.get("temperature"))
            for e in phases
        )
    return tuple(
        (
            p,
            row.get(f"ac_current_rms_{p}"),
            row.get(f"ac_voltage_rms_{p}"),
            row.get(f"temperature_{p}"),
        )
        for p in (1, 2, 3)
        if row.get(f"ac_voltage_rms_{p}") is not None
    )


def digests(out: Path) -> dict[str, str]:
    return {
        str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*"))
        if p.is_file()
    }


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chargerlogs.generate", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def popen(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "chargerlogs.generate", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture(scope="module")
def gen_live(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three morning hours of eight chargers in one-minute batches, with three days of history."""
    out = tmp_path_factory.mktemp("live") / "data"
    return live(out, *FLEET, "--batches", "180")


# Files


def test_files_are_complete_and_named_by_batch(gen_live: Path) -> None:
    m = manifest(gen_live)
    unparsable = 0
    for stream in STREAMS:
        names = sorted(p.name for p in (gen_live / stream).iterdir())
        assert names and all(NAME.fullmatch(name) for name in names), names
        listed = {name: facts["lines"] for name, facts in m[stream]["files"].items()}
        on_disk = {f"{stream}/{p.name}": len(read_lines(p)) for p in data_files(gen_live, stream)}
        assert on_disk == listed
        assert sum(listed.values()) == m[stream]["lines"]
        lines = all_lines(gen_live, stream)
        assert all(lines)
        unparsable += sum(parse(line) is None for line in lines)
    malformed = sum(m[stream]["defects"]["malformed_json"] for stream in STREAMS)
    assert unparsable == malformed > 0
    assert not [p for p in gen_live.rglob(".*") if p.name != ".chargerlogs-generated"]


def test_nested_files_are_gzip_and_flat_files_plain(gen_live: Path) -> None:
    layouts = Counter()
    for path in data_files(gen_live, "charger_log_status"):
        layout, compressed = NAME.fullmatch(path.name).group(2, 3)
        layouts[layout] += 1
        assert (compressed is not None) == (layout == "nested")
        rows = [row for row in map(parse, read_lines(path)) if row]
        assert all(("charger_phases" in row) == (layout == "nested") for row in rows)
    assert layouts["flat"] > 10 and layouts["nested"] > 10


def test_status_lines_arrive_in_their_batch_period(gen_live: Path) -> None:
    m = manifest(gen_live)
    start, seconds = m["window"]["start"], m["live"]["batch_seconds"]
    assert m["window"]["end"] == start + 180 * seconds
    for path in data_files(gen_live, "charger_log_status"):
        number = int(NAME.fullmatch(path.name).group(1))
        first, end = start + (number - 1) * seconds, start + number * seconds
        arrivals = [server_s(row) for row in map(parse, read_lines(path)) if row]
        assert arrivals == sorted(arrivals)
        assert first <= arrivals[0] and arrivals[-1] < end


def test_late_and_resent_batches_arrive_in_later_files(gen_live: Path) -> None:
    m = manifest(gen_live)
    defects = m["charger_log_status"]["defects"]
    assert defects["late_batch_rows"] > 20 and defects["resent_duplicate"] > 20
    first_seen: dict[tuple, tuple[int, int]] = {}
    newest: dict[int, int] = defaultdict(int)
    late = out_of_order = resent_later = 0
    for path in data_files(gen_live, "charger_log_status"):
        number = int(NAME.fullmatch(path.name).group(1))
        for row in map(parse, read_lines(path)):
            if not row or any(
                row.get(key) is None for key in ("id", "charger_id", "charger_timestamp")
            ):
                continue
            charger, stamp = row["charger_id"], row["charger_timestamp"]
            delay = server_s(row) - stamp
            if HOUR < delay < 4 * DAY:
                late += 1
            if stamp < newest[charger]:
                out_of_order += 1
            newest[charger] = max(newest[charger], stamp)
            key = (charger, stamp, measurements(row))
            if key in first_seen and first_seen[key][0] != row["id"]:
                resent_later += number > first_seen[key][1]
            first_seen.setdefault(key, (row["id"], number))
    assert late > 20 and out_of_order > 20 and resent_later > 5


def test_manifest_accounts_for_every_line(gen_live: Path) -> None:
    m = manifest(gen_live)
    assert m["mode"] == "live"
    assert m["batches"] == {
        "planned": 180,
        "written": 180,
        "last": {"number": 180, "start": m["window"]["end"] - 60, "end": m["window"]["end"]},
        "state": "complete",
    }
    status, sessions = m["charger_log_status"], m["charger_log_session"]
    invalid = ("malformed_json", "missing_key_field", "type_mismatch", "out_of_range")
    copies = ("exact_duplicate", "resent_duplicate", "conflicting_duplicate")
    assert status["lines"] == status["clean_rows"] + sum(
        status["defects"][k] for k in invalid + copies
    )
    assert sessions["lines"] == sessions["clean_rows"] + sum(sessions["defects"].values())
    assert status["unknown_fields"]
    periods = (gen_live / "_generator" / "clock_periods.csv").read_text().splitlines()[1:]
    assert {int(line.split(",")[0]) for line in periods} == {c["charger_id"] for c in m["chargers"]}


# The batch run's lines


def clock_offsets(out: Path) -> dict[int, list[tuple[int, int, int]]]:
    """charger -> its clock periods as (start, end) in the charger's clock and the offset."""
    periods: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
    with (out / "_generator" / "clock_periods.csv").open() as handle:
        for row in csv.DictReader(handle):
            offset = int(row["offset_s"])
            periods[int(row["charger_id"])].append(
                (
                    int(row["period_start_server_time"]) + offset,
                    int(row["period_end_server_time"]) + offset,
                    offset,
                )
            )
    return periods


def true_end(line: str, periods: dict[int, list[tuple[int, int, int]]]) -> int | None:
    """A session line's unplug in true time, or None when the line does not tell it."""
    row = parse(line)
    keys = ("charger_id", "start_time", "end_time")
    if row is None or any(not isinstance(row.get(key), int) for key in keys):
        return None
    start, end = sorted((row["start_time"], row["end_time"]))
    (offset,) = [o for lo, hi, o in periods[row["charger_id"]] if lo <= start < hi]
    return end - offset


def test_union_is_the_batch_runs_lines_arriving_in_the_window(tmp_path: Path) -> None:
    args = ("--chargers", "6", "--seed", "7", "--clock-reset-chargers", "3", *RATES)
    out = live(
        *(tmp_path / "live", *args, "--history-days", "0"),
        *("--duration-minutes", "2880", "--batch-seconds", "3600"),
    )
    arguments = manifest(out)["arguments"]
    assert (arguments["start"], arguments["days"]) == ("2021-03-01", 3)
    whole = batch(tmp_path / "batch", *args, "--days", "3")
    assert arguments == {**manifest(whole)["arguments"], "out": str(out)}
    start, end = manifest(out)["window"]["start"], manifest(out)["window"]["end"]

    live_status = Counter(all_lines(out, "charger_log_status"))
    batch_status = Counter(all_lines(whole, "charger_log_status"))
    assert not live_status - batch_status
    arrived = Counter(
        {
            line: n
            for line, n in batch_status.items()
            if (row := parse(line)) and start <= server_s(row) < end
        }
    )
    assert not arrived - live_status
    unparsable = sum(n for line, n in live_status.items() if parse(line) is None)
    assert live_status.total() - arrived.total() == unparsable > 0
    assert unparsable == manifest(out)["charger_log_status"]["defects"]["malformed_json"]
    assert arrived.total() < batch_status.total() - unparsable

    periods = clock_offsets(whole)
    live_sessions = Counter(all_lines(out, "charger_log_session"))
    batch_sessions = Counter(all_lines(whole, "charger_log_session"))
    assert not live_sessions - batch_sessions
    ended = Counter(
        {
            line: n
            for line, n in batch_sessions.items()
            if (stamp := true_end(line, periods)) is not None and start <= stamp < end
        }
    )
    assert not ended - live_sessions and ended.total() > 5
    unknown = sum(n for line, n in live_sessions.items() if true_end(line, periods) is None)
    assert live_sessions.total() == ended.total() + unknown
    assert any(offset for charger in periods.values() for _, _, offset in charger)


def test_window_with_history_holds_the_batch_runs_arrivals(gen_live: Path, tmp_path: Path) -> None:
    arguments = manifest(gen_live)["arguments"]
    assert (arguments["start"], arguments["days"]) == ("2021-02-26", 5)
    whole = batch(
        tmp_path / "batch",
        "--chargers",
        "8",
        "--seed",
        "3",
        "--start",
        "2021-02-26",
        "--days",
        "5",
        *RATES,
    )
    window = manifest(gen_live)["window"]
    live_status = Counter(all_lines(gen_live, "charger_log_status"))
    batch_status = Counter(all_lines(whole, "charger_log_status"))
    assert not live_status - batch_status
    arrived = Counter(
        {
            line: n
            for line, n in batch_status.items()
            if (row := parse(line)) and window["start"] <= server_s(row) < window["end"]
        }
    )
    assert not arrived - live_status
    assert sum(live_status.values()) - sum(arrived.values()) == sum(
        n for line, n in live_status.items() if parse(line) is None
    )


def test_the_warehouse_accounts_for_a_live_window_as_the_manifest_does(
    gen_live: Path, tmp_path: Path
) -> None:
    db_path = build_data_quality(gen_live, tmp_path)
    rows = query(
        db_path,
        "select log_stream, coalesce(reason_code, disposition), count(*)"
        " from int_log_lines_classified group by all",
    )
    found = {(stream, kind): count for stream, kind, count in rows}
    m = manifest(gen_live)
    assert m["charger_log_status"]["copies_of_earlier_rows"] > 0
    for stream, log_stream in zip(STREAMS, ("status", "session"), strict=True):
        expected = {(log_stream, "clean"): m[stream]["clean_rows"]}
        for kind in seed_reasons(log_stream, "quarantined") + seed_reasons(log_stream, "duplicate"):
            if m[stream]["defects"].get(kind):
                expected[(log_stream, kind)] = m[stream]["defects"][kind]
        assert {key: n for key, n in found.items() if key[0] == log_stream} == expected


# Determinism


def test_same_arguments_give_identical_bytes(gen_live: Path, tmp_path: Path) -> None:
    again = live(tmp_path / "again", *FLEET, "--batches", "180")
    first = {k: v for k, v in digests(gen_live).items() if not k.endswith("manifest.json")}
    second = {k: v for k, v in digests(again).items() if not k.endswith("manifest.json")}
    assert first == second
    one, two = manifest(gen_live), manifest(again)
    one["arguments"].pop("out")
    two["arguments"].pop("out")
    assert one == two


def test_a_shorter_window_is_a_prefix_of_a_longer_one(gen_live: Path, tmp_path: Path) -> None:
    short = live(tmp_path / "short", *FLEET, "--batches", "40")

    def data(out: Path, last: int) -> dict[str, str]:
        return {
            name: digest
            for name, digest in digests(out).items()
            if name.startswith(STREAMS) and int(NAME.fullmatch(Path(name).name).group(1)) <= last
        }

    assert len(data(short, 40)) > 40
    assert data(short, 40) == data(gen_live, 40)


def test_another_seed_gives_other_lines(gen_live: Path, tmp_path: Path) -> None:
    other = live(tmp_path / "other", *FLEET, "--seed", "4", "--batches", "180")
    assert not set(all_lines(other, "charger_log_status")) & set(
        all_lines(gen_live, "charger_log_status")
    )


# Pace, progress, stopping


def test_speed_paces_the_batches(tmp_path: Path) -> None:
    began = time.perf_counter()
    args = ["--out", str(tmp_path / "paced"), "--live", "--quiet", "--chargers", "2"]
    assert main([*args, "--batches", "6", "--speed", "600"]) == 0
    assert time.perf_counter() - began >= 6 * 60 / 600


def test_progress_one_line_per_batch_unless_quiet(tmp_path: Path) -> None:
    args = ("--live", "--no-wait", "--chargers", "3", "--batches", "5")
    loud = cli("--out", str(tmp_path / "loud"), *args)
    assert loud.returncode == 0 and loud.stdout == ""
    batches = [line for line in loud.stderr.splitlines() if ": batch " in line]
    assert [line.split()[2] for line in batches] == [f"{k}/5" for k in range(1, 6)]
    assert "batches/s" in loud.stderr.splitlines()[-1]
    quiet = cli("--out", str(tmp_path / "quiet"), *args, "--quiet")
    assert quiet.returncode == 0 and quiet.stderr == "" and quiet.stdout == ""


def test_files_appear_only_as_renamed_complete_hidden_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    renamed: list[Path] = []
    rename = os.replace

    def checked_rename(source: str | Path, target: str | Path) -> None:
        source, target = Path(source), Path(target)
        assert source.parent == target.parent and source.name == f".{target.name}.tmp"
        if target.name.endswith((".json", ".json.gz")):
            lines = read_lines(source, target.name)
            assert lines and all(lines)
        else:
            assert json.loads(source.read_text())["mode"] == "live"
        renamed.append(target)
        rename(source, target)

    monkeypatch.setattr(os, "replace", checked_rename)
    out = live(tmp_path / "watched", *FLEET, "--batches", "60")
    files = [p for stream in STREAMS for p in data_files(out, stream)]
    assert len(files) > 60
    assert sorted(p for p in renamed if p.name != "manifest.json") == sorted(files)
    assert renamed[-1] == out / "_generator" / "manifest.json"


def test_sigterm_stops_after_a_complete_batch(tmp_path: Path) -> None:
    out = tmp_path / "stopped"
    process = popen(
        "--out",
        str(out),
        "--live",
        "--quiet",
        "--chargers",
        "20",
        "--start",
        "2021-03-01T06:00",
        "--batch-seconds",
        "1",
        "--batches",
        "600",
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        path = out / "_generator" / "manifest.json"
        if path.exists() and json.loads(path.read_text())["batches"]["written"] >= 3:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 128 + signal.SIGTERM
    assert stderr.count("\n") == 1 and stderr.startswith("chargerlogs-generate: stopped by SIGTERM")
    m = manifest(out)
    assert m["batches"]["state"] == "stopped" and 3 <= m["batches"]["written"] < 600
    on_disk = {f"{s}/{p.name}" for s in STREAMS for p in data_files(out, s)}
    assert on_disk == {name for s in STREAMS for name in m[s]["files"]}
    numbers = {int(NAME.fullmatch(Path(name).name).group(1)) for name in on_disk}
    assert max(numbers, default=0) <= m["batches"]["written"]
    assert not [p for p in out.rglob(".*") if p.name != ".chargerlogs-generated"]


# Options


def test_help_explains_the_live_options() -> None:
    result = cli("--help")
    assert result.returncode == 0
    for option in (
        "--live",
        "--batch-seconds",
        "--duration-minutes",
        "--batches",
        "--speed",
        "--no-wait",
        "--history-days",
    ):
        assert option in result.stdout, option
    assert "live mode" in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        ("--live", "--batches", "0"),
        ("--live", "--days", "2"),
        ("--live", "--speed", "0"),
        ("--live", "--speed", "fast"),
        ("--live", "--speed", "2", "--no-wait"),
        ("--live", "--batches", "5", "--duration-minutes", "5"),
        ("--live", "--batch-seconds", "86401"),
        ("--live", "--batch-seconds", "1", "--batches", "1000000"),
        ("--live", "--duration-minutes", "50000"),
        ("--live", "--history-days", "-1"),
        ("--live", "--start", "2002-01-02"),
        ("--live", "--start", "2021-03-01T25:00"),
        ("--live", "--start", "now", "--no-wait"),
        ("--batches", "5"),
        ("--no-wait",),
        ("--start", "2021-03-01T10:00"),
        ("--start", "now"),
    ],
)
def test_bad_option_exits_2_with_one_line(tmp_path: Path, args: tuple[str, ...]) -> None:
    result = cli("--out", str(tmp_path / "new"), *args)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("chargerlogs-generate: error: ")
    assert not (tmp_path / "new").exists()


def test_refuses_folders_it_did_not_write(tmp_path: Path) -> None:
    own = tmp_path / "export"
    own.mkdir()
    (own / "notes.txt").write_text("mine")
    result = cli("--out", str(own), "--live", "--no-wait", "--batches", "2")
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert [p.name for p in own.iterdir()] == ["notes.txt"]
    marked = live(tmp_path / "marked", "--chargers", "2", "--batches", "2")
    before = digests(marked)
    again = cli("--out", str(marked), "--live", "--no-wait", "--batches", "2")
    assert again.returncode == 2 and "--force" in again.stderr
    assert digests(marked) == before
