"""Any slice of the stream builds: one file of each stream, or one hour of uploads.

Near-real-time work builds on partial data all the time: sessions cut at the window's edges,
chargers with a few readings, a session stream without the telemetry of its sessions. Each slice of
the default dataset is built with ``dbt build``; it must end without an error (tests on the
distribution of the data may warn) and leave every mart in place.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path

from conftest import DefaultWarehouse, file_lines, query, run_dbt, write_lines
from test_marts import MARTS

HOUR = 3600


def build_slice(data: Path, tmp: Path) -> Path:
    """``dbt build`` on a sliced folder (fails the test on any error); the DuckDB file."""
    db = tmp / "warehouse.duckdb"
    result = run_dbt(["build"], data, db, tmp)
    summary = json.loads((tmp / "target" / "run_results.json").read_text())
    statuses = {row["status"] for row in summary["results"]}
    assert statuses <= {"success", "pass", "warn", "no-op"}, result.stdout[-3000:]
    return db


def assert_every_mart_is_built(db: Path) -> None:
    tables = {
        row[0]
        for row in query(db, "select table_name from duckdb_tables() where schema_name = 'marts'")
    }
    assert tables == set(MARTS)


def received_epoch(line: str) -> float | None:
    """The upload time of a status line, whichever way it is written; None when unreadable."""
    try:
        value = json.loads(line).get("server_timestamp")
    except (ValueError, AttributeError):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return None


def session_end(line: str) -> object:
    """The end_time of a session line as written; None when the line is not a JSON object."""
    try:
        return json.loads(line).get("end_time")
    except (ValueError, AttributeError):
        return None


def test_one_file_of_each_stream_builds(
    default_warehouse: DefaultWarehouse, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    for stream in ("charger_log_status", "charger_log_session"):
        first = sorted((default_warehouse.data_dir / stream).glob("*.json*"))[0]
        (data / stream).mkdir(parents=True)
        shutil.copy(first, data / stream / first.name)
    db = build_slice(data, tmp_path)
    assert_every_mart_is_built(db)
    assert query(db, "select count(*) > 0 from fct_session_briefings") == [(True,)]


def test_one_hour_of_uploads_builds(default_warehouse: DefaultWarehouse, tmp_path: Path) -> None:
    ends = sorted(
        end
        for path in (default_warehouse.data_dir / "charger_log_session").glob("*.json*")
        for line in file_lines(path)
        if isinstance(end := session_end(line), int) and end > 1_500_000_000
    )
    median_end = ends[len(ends) // 2]
    start = median_end - median_end % HOUR  # an hour in which sessions end
    data = tmp_path / "data"
    lines: list[str] = []
    for path in sorted((default_warehouse.data_dir / "charger_log_status").glob("*.json*")):
        lines += [
            line
            for line in file_lines(path)
            if (epoch := received_epoch(line)) is not None and start <= epoch < start + HOUR
        ]
    sessions: list[str] = []
    for path in sorted((default_warehouse.data_dir / "charger_log_session").glob("*.json*")):
        sessions += [
            line
            for line in file_lines(path)
            if isinstance(end := session_end(line), int) and start <= end < start + HOUR
        ]
    assert len(lines) > 1000 and sessions
    write_lines(data / "charger_log_status" / "part-00000-hour.json", lines)
    write_lines(data / "charger_log_session" / "part-00000-hour.json", sessions)
    db = build_slice(data, tmp_path)
    assert_every_mart_is_built(db)
    # the sessions ended in the hour but mostly started before it: cut at the window's edge
    cut = query(
        db, "select count(*) filter (where has_sparse_telemetry) from fct_session_briefings"
    )
    assert cut[0][0] > 0
