"""The live loop: batches delivered while it runs are landed, built, published, one line each.

A live run of the generator is delivered period by period into a landing folder while
``python -m chargerlogs.live_loop`` watches it; the published copy must then hold what a full
build of the same files gives for the dashboard's marts.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from conftest import VENV_BIN, run_dbt
from test_incremental import mart_differences

from chargerlogs import land
from chargerlogs.bench_live import periods

DASHBOARD_MARTS = (
    "fct_session_briefings",
    "fct_charging_profiles",
    "rpt_big_changes",
    "rpt_compressed_charging_profiles",
    "fct_sessions_in_progress",
    "fct_charging_profiles_in_progress",
    "fct_charger_summaries",
)
PROGRESS = re.compile(
    r"^batch (\d+): (\d+) files, ([\d,]+) lines, land [\d.]+ s, dbt (dashboard|all) [\d.]+ s, "
    r"publish [\d.]+ s, landed-to-published ([\d.]+) s$"
)


def test_the_loop_builds_and_publishes_each_batch_as_it_arrives(tmp_path: Path) -> None:
    generated = tmp_path / "generated"
    generator = VENV_BIN / "chargerlogs-generate"
    subprocess.run(
        [str(generator) if generator.exists() else "chargerlogs-generate", "--out", str(generated)]
        + [
            "--seed",
            "5",
            "--chargers",
            "8",
            "--live",
            "--no-wait",
            "--start",
            "2026-03-02T06:00:00",
        ]
        + ["--duration-minutes", "600", "--batch-seconds", "3600", "--quiet"],
        check=True,
    )
    by_period = periods(generated)
    assert len(by_period) >= 6
    landing = tmp_path / "landing"

    def deliver() -> None:
        time.sleep(8)  # the loop parses the project first
        for number in sorted(by_period):
            for stream, path in by_period[number]:
                (landing / stream).mkdir(parents=True, exist_ok=True)
                shutil.copy(path, landing / stream / path.name)
            time.sleep(3)

    delivery = threading.Thread(target=deliver)
    delivery.start()
    published = tmp_path / "published" / "warehouse.duckdb"
    warehouse = tmp_path / "warehouse.duckdb"
    lake = tmp_path / "lake"
    loop = subprocess.run(
        [sys.executable, "-m", "chargerlogs.live_loop", "--data", str(landing)]
        + ["--lake", str(lake), "--warehouse", str(warehouse), "--published", str(published)]
        + ["--seconds", "240", "--until-idle", "15", "--full-every", "3"]
        + ["--dbt-dir", str(tmp_path / "dbt")],
        capture_output=True,
        text=True,
        check=False,
    )
    delivery.join()
    assert loop.returncode == 0, loop.stderr[-3000:]
    progress = [PROGRESS.match(line) for line in loop.stdout.splitlines()]
    batches = [match for match in progress if match]
    # several batches, numbered in order, every third one the whole project
    assert len(batches) >= 3, loop.stdout
    assert [int(match.group(1)) for match in batches] == list(range(1, len(batches) + 1))
    assert {match.group(4) for match in batches} == {"dashboard", "all"}
    delivered_lines = sum(row.line_count for row in land.read_ledger(lake).values())
    assert sum(int(match.group(3).replace(",", "")) for match in batches) == delivered_lines
    assert "landed-to-published latency: p50" in loop.stdout
    # the parse writes the manifest once; the builds, no JSON artifact (no run_results.json)
    target = tmp_path / "dbt" / "target"
    assert (target / "manifest.json").is_file()
    assert not (target / "run_results.json").exists()
    # the views are created by the loop's first build only
    dbt_log = (tmp_path / "dbt" / "logs" / "dbt.log").read_text()
    assert len(re.findall(r'create view \S*"stg_charger_logs__readings__dbt_tmp"', dbt_log)) == 1
    full = tmp_path / "full.duckdb"
    run_dbt(["build"], landing, full, tmp_path, env={"CHARGER_LAKE_DIR": str(lake)})
    differences = mart_differences(full, published)
    assert {table: differences[table] for table in DASHBOARD_MARTS} == {
        table: (differences[table][0], 0, 0) for table in DASHBOARD_MARTS
    }
    assert differences["fct_session_briefings"][0] > 0


def test_the_loop_refuses_a_missing_argument_with_one_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "chargerlogs.live_loop", "--data", "x"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "required" in result.stderr
