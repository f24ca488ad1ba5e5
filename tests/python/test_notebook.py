"""The charging-analysis notebook, run end to end on a warehouse built from generated data.

The default dataset (seed 42) is generated and built with dbt once per test session into a
temporary folder, never into build/. The notebook is executed through ``chargerlogs.notebook``,
and the numbers its answers print are checked against direct queries of the marts; for a session
whose charger clock was reset, what its charts drew is read back from the kernel and checked too.
"""

from __future__ import annotations

import base64
import csv
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import jupytext
import nbformat
import pytest
import yaml
from conftest import PROJECT_DIR, DefaultWarehouse, query, query_dicts
from jupyter_client.kernelspec import NATIVE_KERNEL_NAME
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from chargerlogs.notebook import (
    DEFAULT_SOURCE,
    InterpreterKernelManager,
    InterpreterKernelSpecManager,
    NotebookRun,
    notebook_environment,
    run_notebook,
)

SECTION_HEADINGS = (
    "## 1. The data",
    "## 2. Session time",
    "## 3. One session: briefing and charging profile",
    "## 4. Big changes",
    "## 5. Average session time per charger",
    "## 6. Reported versus telemetry-integrated energy",
    "## 7. The fleet in local time",
    "## 8. Anomalies",
)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MAX_NOTEBOOK_SECONDS = 60
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
SECONDS_PER_YEAR = 365.25 * 86400


@pytest.fixture(scope="session")
def warehouse_file(default_warehouse: DefaultWarehouse) -> Path:
    """The DuckDB file of the shared full build of the default dataset (see conftest)."""
    return default_warehouse.db_path


@dataclass(frozen=True)
class ExecutedNotebook:
    """One execution of the notebook: where it went, and the executed notebook itself."""

    run: NotebookRun
    notebook: Any


@pytest.fixture(scope="session")
def executed(warehouse_file: Path, tmp_path_factory: pytest.TempPathFactory) -> ExecutedNotebook:
    """Execute the notebook once on the default warehouse with its default session."""
    run = run_notebook(warehouse_file, tmp_path_factory.mktemp("notebook_out"))
    return ExecutedNotebook(run, nbformat.read(run.notebook_path, as_version=4))


def tagged_cells(notebook: Any, tag: str) -> list[Any]:
    """The code cells carrying ``tag``, in notebook order."""
    return [
        cell
        for cell in notebook.cells
        if cell.cell_type == "code" and tag in cell.metadata.get("tags", [])
    ]


def answers(notebook: Any) -> list[str]:
    """The Markdown text that each answer cell displayed, in notebook order."""
    texts = []
    for cell in tagged_cells(notebook, "answer"):
        texts += [
            output["data"]["text/markdown"]
            for output in cell.outputs
            if output.output_type == "display_data" and "text/markdown" in output.get("data", {})
        ]
    return texts


def answer_of_section(notebook: Any, number: int) -> str:
    """The answer of section ``number`` (1-based); the notebook has one per section."""
    texts = answers(notebook)
    assert len(texts) == len(SECTION_HEADINGS), texts
    return texts[number - 1]


def png_outputs(cells: Sequence[Any]) -> list[bytes]:
    """Every PNG image that ``cells`` output, decoded."""
    return [
        base64.b64decode(output["data"]["image/png"])
        for cell in cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if "image/png" in output.get("data", {})
    ]


def number(text: str) -> float:
    """A number as the notebook prints it (thousands separators allowed)."""
    return float(text.replace(",", ""))


def copy_warehouse(warehouse_file: Path, folder: Path) -> Path:
    """A copy of the warehouse file in ``folder``, for a test that changes or locks it."""
    copy = folder / "warehouse.duckdb"
    shutil.copyfile(warehouse_file, copy)
    return copy


def test_notebook_runs_without_errors_within_a_minute(executed: ExecutedNotebook) -> None:
    code_cells = [cell for cell in executed.notebook.cells if cell.cell_type == "code"]
    errors = [
        f"{output.ename}: {output.evalue}"
        for cell in code_cells
        for output in cell.outputs
        if output.output_type == "error"
    ]
    assert errors == []
    assert all(cell.execution_count is not None for cell in code_cells)
    assert executed.run.seconds < MAX_NOTEBOOK_SECONDS


def test_every_section_opens_with_a_question_and_closes_with_an_answer(
    executed: ExecutedNotebook,
) -> None:
    markdown = [cell.source for cell in executed.notebook.cells if cell.cell_type == "markdown"]
    for heading in SECTION_HEADINGS:
        opening = [text for text in markdown if text.startswith(heading)]
        assert len(opening) == 1, heading
        assert "**Question:**" in opening[0], heading
    texts = answers(executed.notebook)
    assert len(texts) == len(SECTION_HEADINGS)
    assert all(text.startswith("**Answer.**") and re.search(r"\d", text) for text in texts)


def test_notebook_shows_its_figures_as_png(executed: ExecutedNotebook) -> None:
    images = png_outputs(executed.notebook.cells)
    assert len(images) >= 6
    assert all(image.startswith(PNG_MAGIC) for image in images)
    profile_cells = tagged_cells(executed.notebook, "profile-figure")
    assert len(profile_cells) == 1
    assert len(png_outputs(profile_cells)) == 1


def test_the_briefed_session_is_the_documented_default(
    executed: ExecutedNotebook, warehouse_file: Path
) -> None:
    match = re.search(
        r"Session (\d+) on charger (\d+) lasted ([\d.]+) h",
        answer_of_section(executed.notebook, 3),
    )
    assert match
    expected = query(
        warehouse_file,
        """
        select briefings.session_id, briefings.charger_id, briefings.session_duration_h
        from marts.fct_session_briefings as briefings
        left join marts.rpt_big_changes as changes on briefings.session_id = changes.session_id
        where briefings.phases_used = 3 and not briefings.has_sparse_telemetry
            and briefings.gap_count = 0 and not briefings.has_energy_mismatch
            and not briefings.is_overlapping and not briefings.is_clock_corrected
        group by all
        order by count(changes.session_id) desc, briefings.session_id
        limit 1
        """,
    )[0]
    assert int(match[1]) == expected[0]
    assert int(match[2]) == expected[1]
    assert float(match[3]) == pytest.approx(expected[2], abs=0.005)


def test_data_answer_matches_the_warehouse(
    executed: ExecutedNotebook, warehouse_file: Path
) -> None:
    text = answer_of_section(executed.notebook, 1)
    match = re.search(r"([\d,]+) sessions on (\d+) chargers", text)
    assert match
    sessions, chargers = query(
        warehouse_file,
        "select count(*), count(distinct charger_id) from marts.fct_session_briefings",
    )[0]
    assert (number(match[1]), number(match[2])) == (sessions, chargers)
    files, quarantined, duplicates = query(
        warehouse_file,
        "select count(*), sum(quarantined_rows), sum(duplicate_rows)"
        " from marts.rpt_ingestion_reconciliation",
    )[0]
    match = re.search(
        r"(\d+) files held .*?([\d,]+) lines were quarantined and ([\d,]+) dropped as duplicates",
        text,
    )
    assert match
    assert [number(group) for group in match.groups()] == [files, quarantined, duplicates]
    assert (
        quarantined
        == query(warehouse_file, "select count(*) from marts.rpt_quarantined_lines")[0][0]
    )


def true_time_range(warehouse: Path) -> tuple[date, date]:
    """The first corrected start date and the last corrected end date of the sessions."""
    return query(
        warehouse,
        "select min(corrected_started_at)::date, max(corrected_ended_at)::date"
        " from marts.fct_session_briefings",
    )[0]


def charger_clock_first_date(warehouse: Path) -> date:
    """The earliest session start by a charger's own clock (years back for a reset clock)."""
    return query(warehouse, "select min(started_at)::date from marts.fct_session_briefings")[0][0]


def test_data_answer_states_the_dates_in_true_time(
    executed: ExecutedNotebook, warehouse_file: Path
) -> None:
    text = answer_of_section(executed.notebook, 1)
    match = re.search(
        r"from (\d{4}-\d{2}-\d{2}) to (\d{4}-\d{2}-\d{2}), .*the busiest day was "
        r"(\d{4}-\d{2}-\d{2}) with (\d+) sessions started",
        text,
    )
    assert match
    first, last = true_time_range(warehouse_file)
    assert (match[1], match[2]) == (f"{first:%Y-%m-%d}", f"{last:%Y-%m-%d}")
    # The default dataset has a charger whose clock was reset: by the charger's clock the data
    # would start years earlier, so an answer from started_at fails here.
    assert charger_clock_first_date(warehouse_file) < first
    busiest_day, sessions = query(
        warehouse_file,
        """
        select corrected_started_at::date, count(*)
        from marts.fct_session_briefings
        group by 1
        order by 2 desc, 1
        limit 1
        """,
    )[0]
    assert (match[3], int(match[4])) == (f"{busiest_day:%Y-%m-%d}", sessions)


def test_clock_corrections_are_counted_from_the_marts(
    executed: ExecutedNotebook, default_warehouse: DefaultWarehouse
) -> None:
    match = re.search(
        r"Reset charger clocks were corrected to true time in (\d+) sessions \(([\d,]+) "
        r"readings\) on (\d+) chargers \(([\d, ]+)\), whose clocks were off by up to ([\d.]+) "
        r"years\.",
        answer_of_section(executed.notebook, 1),
    )
    assert match
    warehouse = default_warehouse.db_path
    sessions, largest_offset_s = query(
        warehouse,
        "select count(*), max(abs(clock_offset_s)) from marts.fct_session_briefings"
        " where is_clock_corrected",
    )[0]
    readings = query(
        warehouse,
        "select count(*) from marts.fct_charging_profiles where is_clock_corrected",
    )[0][0]
    chargers = [
        row[0]
        for row in query(
            warehouse,
            "select distinct charger_id from marts.fct_session_briefings"
            " where is_clock_corrected order by 1",
        )
    ]
    assert (int(match[1]), number(match[2]), int(match[3])) == (sessions, readings, len(chargers))
    assert [int(charger) for charger in match[4].split(", ")] == chargers
    assert float(match[5]) == pytest.approx(largest_offset_s / SECONDS_PER_YEAR, abs=0.05)
    # The chargers are those the generator gave a wrong clock.
    clock_periods = default_warehouse.data_dir / "_generator" / "clock_periods.csv"
    with clock_periods.open(newline="", encoding="utf-8") as handle:
        wrong_clocks = {
            int(row["charger_id"]) for row in csv.DictReader(handle) if row["offset_s"] != "0"
        }
    assert set(chargers) == wrong_clocks
    assert sessions > 0


def output_texts(notebook: Any) -> list[str]:
    """Every text a code cell showed: printed streams, tables, Markdown."""
    texts = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        for output in cell.outputs:
            if output.output_type == "stream":
                texts.append(output.text)
            for kind in ("text/plain", "text/markdown"):
                if kind in output.get("data", {}):
                    texts.append(output["data"][kind])
    return texts


def test_every_date_the_notebook_shows_is_true_time(
    executed: ExecutedNotebook, warehouse_file: Path
) -> None:
    first, last = true_time_range(warehouse_file)
    shown = {
        date(int(year), int(month), int(day))
        for text in output_texts(executed.notebook)
        for year, month, day in ISO_DATE.findall(text)
    }
    assert shown
    assert all(first <= day <= last for day in shown), sorted(shown)
    assert charger_clock_first_date(warehouse_file) not in shown


def test_missing_measurements_are_quoted_as_readings_not_as_a_flag(
    executed: ExecutedNotebook, warehouse_file: Path
) -> None:
    match = re.search(
        r"(\d+) sessions have a reading with a missing measurement, but only ([\d,]+) of "
        r"([\d,]+) readings do \(at most ([\d.]+)% of a session's readings\)",
        answer_of_section(executed.notebook, 1),
    )
    assert match
    sessions, readings_missing, readings, max_share = query(
        warehouse_file,
        """
        select
            count(*) filter (where missing_measurement_reading_count > 0),
            sum(missing_measurement_reading_count),
            sum(reading_count),
            max(missing_measurement_share)
        from marts.fct_session_briefings
        """,
    )[0]
    assert [number(group) for group in match.groups()[:3]] == [
        sessions,
        readings_missing,
        readings,
    ]
    assert float(match[4]) == pytest.approx(max_share * 100, abs=0.05)
    assert 0 < readings_missing < readings


def stated_rule(text: str) -> tuple[float, dict[str, float]]:
    """The big-change threshold (percent) and deadband per measure that an answer states."""
    match = re.search(r"\(threshold ([\d.]+) %, deadbands ([^)]*)\)", text)
    assert match, text
    deadbands = {}
    for item in match[2].split("; "):
        measure, value = item.split(" ")
        deadbands[measure] = float(value)
    return float(match[1]), deadbands


def stored_rule(warehouse: Path) -> tuple[float, dict[str, float]]:
    """The big-change threshold and deadbands stored in rpt_big_changes (one of each)."""
    rows = query(
        warehouse,
        "select distinct measure, threshold_pct, deadband from marts.rpt_big_changes",
    )
    assert len(rows) == len({measure for measure, _, _ in rows})
    (threshold,) = {threshold for _, threshold, _ in rows}
    return threshold, {measure: deadband for measure, _, deadband in rows}


def test_big_change_answer_matches_the_warehouse(
    executed: ExecutedNotebook, warehouse_file: Path
) -> None:
    text = answer_of_section(executed.notebook, 4)
    match = re.search(
        r"Session (\d+) has (\d+) big changes .*Across the fleet there are ([\d,]+) big changes "
        r"in (\d+) sessions .*\. ([\d,]+) of them start from a value inside the deadband",
        text,
    )
    assert match
    session_changes = query(
        warehouse_file,
        "select count(*) from marts.rpt_big_changes where session_id = ?",
        [int(match[1])],
    )[0][0]
    fleet_changes, sessions, from_inside_deadband = query(
        warehouse_file,
        "select count(*), count(distinct session_id), count(*) filter (where change_pct is null)"
        " from marts.rpt_big_changes",
    )[0]
    assert int(match[2]) == session_changes
    assert [number(group) for group in match.groups()[2:]] == [
        fleet_changes,
        sessions,
        from_inside_deadband,
    ]
    assert from_inside_deadband > 0
    assert stated_rule(text) == stored_rule(warehouse_file)


def test_average_session_time_per_charger_matches_a_direct_query(
    executed: ExecutedNotebook, warehouse_file: Path
) -> None:
    match = re.search(
        r"Across (\d+) chargers the average session time ranges from ([\d.]+) h \(charger (\d+), "
        r"(\d+) sessions\) to ([\d.]+) h \(charger (\d+), (\d+) sessions\); the mean over "
        r"chargers is ([\d.]+) h",
        answer_of_section(executed.notebook, 5),
    )
    assert match
    # From the session briefings, not from fct_charger_summaries that the notebook reads.
    per_charger = query(
        warehouse_file,
        """
        select charger_id, avg(epoch(ended_at) - epoch(started_at)) / 3600, count(*)
        from marts.fct_session_briefings
        group by charger_id
        order by 2, charger_id
        """,
    )
    shortest, longest = per_charger[0], per_charger[-1]
    mean_over_chargers = sum(row[1] for row in per_charger) / len(per_charger)
    assert int(match[1]) == len(per_charger)
    assert float(match[2]) == pytest.approx(shortest[1], abs=0.005)
    assert (int(match[3]), int(match[4])) == (shortest[0], shortest[2])
    assert float(match[5]) == pytest.approx(longest[1], abs=0.005)
    assert (int(match[6]), int(match[7])) == (longest[0], longest[2])
    assert float(match[8]) == pytest.approx(mean_over_chargers, abs=0.005)


def stated_tolerance(text: str) -> float:
    """The energy-mismatch tolerance (a share) that the answer of section 6 states."""
    match = re.search(r"than the ([\d.]+) % tolerance", text)
    assert match, text
    return float(match[1]) / 100


def named_sessions(text: str, pattern: str) -> set[int]:
    """The session ids that ``text`` lists after ``pattern`` ("none" for no session)."""
    match = re.search(pattern + r": sessions ([\d, ]+|none)\.", text)
    assert match, text
    return set() if match[1] == "none" else {int(session) for session in match[1].split(", ")}


def test_energy_mismatches_are_the_flagged_sessions_outside_the_stored_tolerance(
    executed: ExecutedNotebook, warehouse_file: Path
) -> None:
    text = answer_of_section(executed.notebook, 6)
    named = named_sessions(text, r"even with the estimate, [^:]*")
    flagged = query(
        warehouse_file,
        "select session_id from marts.fct_session_briefings where has_energy_mismatch",
    )
    assert named == {row[0] for row in flagged}
    assert named
    tolerances = query(
        warehouse_file, "select distinct energy_mismatch_tolerance from marts.fct_session_briefings"
    )
    assert [stated_tolerance(text)] == pytest.approx([row[0] for row in tolerances])
    # The answer says they deviate by more than the tolerance even with the estimate:
    # recomputed from the energies and the stored tolerance, without the flag.
    outside = query(
        warehouse_file,
        """
        select session_id from marts.fct_session_briefings
        where reading_count > 0 and reported_energy_wh > 0
            and abs((measured_energy_wh + estimated_gap_energy_wh) / reported_energy_wh - 1)
                > energy_mismatch_tolerance
        """,
    )
    assert named == {row[0] for row in outside}


def test_lost_telemetry_shortfalls_are_told_from_energy_mismatches(
    executed: ExecutedNotebook, warehouse_file: Path
) -> None:
    text = answer_of_section(executed.notebook, 6)
    named = named_sessions(text, r"a shortfall from lost telemetry")
    flagged = query(
        warehouse_file,
        "select session_id from marts.fct_session_briefings where is_shortfall_from_lost_telemetry",
    )
    assert named == {row[0] for row in flagged}
    assert named
    assert not named & named_sessions(text, r"even with the estimate, [^:]*")
    # Recomputed without the flag: the measured energy alone is outside the tolerance, measured
    # plus estimated inside it.
    recomputed = query(
        warehouse_file,
        """
        select session_id from marts.fct_session_briefings
        where reading_count > 0 and reported_energy_wh > 0
            and abs(measured_energy_wh / reported_energy_wh - 1) > energy_mismatch_tolerance
            and abs((measured_energy_wh + estimated_gap_energy_wh) / reported_energy_wh - 1)
                <= energy_mismatch_tolerance
        """,
    )
    assert named == {row[0] for row in recomputed}


def test_energy_answer_splits_measured_and_estimated_energy(
    executed: ExecutedNotebook, warehouse_file: Path
) -> None:
    match = re.search(
        r"The telemetry of the (\d+) sessions with readings accounts for ([\d,.]+) kWh of the "
        r"([\d,.]+) kWh they report: ([\d,.]+) kWh measured and ([\d,.]+) kWh estimated, across "
        r"(\d+) gaps in (\d+) sessions and where a phase's missing current or voltage is carried "
        r"from its previous reading\.",
        answer_of_section(executed.notebook, 6),
    )
    assert match
    row = query(
        warehouse_file,
        """
        select
            count(*),
            sum(telemetry_energy_wh) / 1000,
            sum(reported_energy_wh) / 1000,
            sum(measured_energy_wh) / 1000,
            sum(estimated_gap_energy_wh) / 1000,
            sum(estimated_gap_count),
            count(*) filter (where estimated_gap_count > 0)
        from marts.fct_session_briefings
        where reading_count > 0
        """,
    )[0]
    stated = [number(group) for group in match.groups()]
    assert stated[0] == row[0]
    assert stated[1:5] == pytest.approx(row[1:5], abs=0.05)
    assert stated[5:] == [row[5], row[6]]
    assert stated[1] == pytest.approx(stated[3] + stated[4], abs=0.1)
    assert 0 < stated[4] < stated[3]


def briefing_statement(text: str) -> dict[str, Any]:
    """The start, clock note and energies that the answer of section 3 states."""
    match = re.search(
        r"lasted [\d.]+ h from (\d{4}-\d{2}-\d{2} \d{2}:\d{2}) UTC(?: \(true time; the charger's "
        r"clock was ([\d,.]+) days (behind|ahead)\))?, .*Its \d+ readings measure ([\d.]+) kWh "
        r"and ([\d.]+) kWh are estimated across (\d+) gap\(s\)",
        text,
    )
    assert match, text
    return {
        "started": match[1],
        "clock_days": number(match[2]) if match[2] else None,
        "clock_direction": match[3],
        "measured_kwh": float(match[4]),
        "estimated_kwh": float(match[5]),
        "estimated_gaps": int(match[6]),
    }


def stored_briefing(warehouse: Path, session_id: int) -> dict[str, Any]:
    """The briefing row of ``session_id``, as a dict."""
    (row,) = query_dicts(
        warehouse, "select * from marts.fct_session_briefings where session_id = ?", [session_id]
    )
    return row


def test_briefing_answer_states_true_time_and_measured_and_estimated_energy(
    executed: ExecutedNotebook, warehouse_file: Path
) -> None:
    text = answer_of_section(executed.notebook, 3)
    session_id = int(re.search(r"Session (\d+) on charger", text)[1])
    stated = briefing_statement(text)
    row = stored_briefing(warehouse_file, session_id)
    assert stated["started"] == f"{row['corrected_started_at']:%Y-%m-%d %H:%M}"
    # The default session's charger clock was right: no correction to state.
    assert not row["is_clock_corrected"] and stated["clock_days"] is None
    assert stated["measured_kwh"] == pytest.approx(row["measured_energy_wh"] / 1000, abs=0.005)
    assert stated["estimated_kwh"] == pytest.approx(
        row["estimated_gap_energy_wh"] / 1000, abs=0.005
    )
    assert stated["estimated_gaps"] == row["estimated_gap_count"]


def test_notebook_states_the_thresholds_stored_in_the_marts(
    warehouse_file: Path, tmp_path: Path
) -> None:
    """Thresholds changed in a copy of the marts, not in dbt_project.yml, reach the answers."""
    warehouse = copy_warehouse(warehouse_file, tmp_path)
    connection = duckdb.connect(str(warehouse))
    try:
        connection.execute(
            "update marts.rpt_big_changes set threshold_pct = 12.5, deadband = deadband * 3"
        )
        connection.execute(
            "update marts.fct_session_briefings set energy_mismatch_tolerance = 0.075"
        )
    finally:
        connection.close()
    run = run_notebook(warehouse, tmp_path / "out")
    notebook = nbformat.read(run.notebook_path, as_version=4)
    threshold, deadbands = stored_rule(warehouse)
    assert threshold == 12.5
    assert stated_rule(answer_of_section(notebook, 4)) == (threshold, deadbands)
    assert stated_tolerance(answer_of_section(notebook, 6)) == pytest.approx(0.075)


def test_notebook_releases_the_warehouse_once_the_marts_are_loaded(
    warehouse_file: Path, tmp_path: Path
) -> None:
    """While the kernel still runs, a build can open the warehouse file for writing."""
    warehouse = copy_warehouse(warehouse_file, tmp_path)
    notebook = jupytext.read(DEFAULT_SOURCE)
    client = NotebookClient(
        notebook,
        kernel_name=NATIVE_KERNEL_NAME,
        kernel_manager_class=InterpreterKernelManager,
        resources={"metadata": {"path": str(DEFAULT_SOURCE.parent)}},
    )
    loading = tagged_cells(notebook, "load-marts")
    assert len(loading) == 1
    with client.setup_kernel(env=notebook_environment(warehouse, None)):
        for index, cell in enumerate(notebook.cells):
            client.execute_cell(cell, index)
            if cell is loading[0]:
                break
        # DuckDB locks the file against writers while any connection holds it open.
        connection = duckdb.connect(str(warehouse))
        connection.close()


def test_html_export_embeds_the_images(executed: ExecutedNotebook) -> None:
    html = executed.run.html_path.read_text(encoding="utf-8")
    assert html.count("data:image/png;base64") >= 6
    for heading in SECTION_HEADINGS:
        assert heading.removeprefix("## ").split(":")[0] in html


def test_html_export_is_a_report_without_code(executed: ExecutedNotebook) -> None:
    html = executed.run.html_path.read_text(encoding="utf-8")
    # The executed notebook keeps its code; the export shows none of it, nor its prompts.
    code = [cell.source for cell in executed.notebook.cells if cell.cell_type == "code"]
    assert any("def find_repository_root" in source for source in code)
    elements = re.findall(r'class="([^"]*)"', html)
    code_cells = [names for names in elements if "jp-CodeCell" in names.split()]
    assert len(code_cells) == len(code)
    assert all("jp-mod-noInput" in names.split() for names in code_cells)
    # No editor, highlighted source or prompt (markdown cells keep an input area: their prose).
    hidden = {"jp-CodeMirrorEditor", "highlight", "jp-InputPrompt", "jp-OutputPrompt"}
    assert not [names for names in elements if hidden & set(names.split())]
    for snippet in ("def find_repository_root", "import duckdb", "DEFAULT_SESSION_SQL = "):
        assert snippet not in html
    # The prose, the answers and the tables are there.
    assert "Question:" in html
    assert html.count("<strong>Answer.</strong>") == len(SECTION_HEADINGS)
    assert "<table" in html


def test_answers_write_whole_numbers_without_a_decimal_point(executed: ExecutedNotebook) -> None:
    texts = answers(executed.notebook)
    assert len(texts) == len(SECTION_HEADINGS)
    for text in texts:
        # a count never carries a decimal point; a quantity with its unit keeps its precision
        # (2,023.0 kWh)
        assert not re.search(r"\d+\.0\b(?!\s*(?:kWh|kW|h|min|s|V|A|C|%))", text), text


def test_tables_show_counts_as_integers(executed: ExecutedNotebook) -> None:
    tables = [
        output["data"]["text/plain"]
        for cell in executed.notebook.cells
        if cell.cell_type == "code" and "answer" not in cell.metadata.get("tags", [])
        for output in cell.outputs
        if "text/html" in output.get("data", {})
    ]
    assert len(tables) >= 15
    for text in tables:
        assert not re.search(r"\b\d{4,}\.0\b", text), text
        assert "session_id" not in text and "count " not in text


def glitch_statement(text: str) -> dict[str, Any]:
    """What the answer of section 4 says about the briefed session's temperature glitch."""
    match = re.search(
        r"Session (\d+) has (\d+) big changes .*?\. (\d+) of them are a temperature sensor "
        r"glitch: on ([L\d and]+) the temperature flips between about (\d+) °C and (\d+) °C on "
        r"alternate readings, .* the session has (\d+) big changes without it\. .*The same "
        r"temperature glitch accounts for ([\d,]+) of the fleet's ([\d,]+) temperature big "
        r"changes, in (\d+) sessions\.",
        text,
    )
    assert match, text
    return {
        "session_id": int(match[1]),
        "changes": int(match[2]),
        "flips": int(match[3]),
        "phases": match[4].split(" and "),
        "levels": (int(match[5]), int(match[6])),
        "without": int(match[7]),
        "fleet_flips": number(match[8]),
        "fleet_temperature_changes": number(match[9]),
        "fleet_sessions": int(match[10]),
    }


# Temperature big changes that a big change at the neighbouring reading of the same series
# reverses: written as a self-join, apart from the notebook's window query.
FLIPS_SQL = """
select distinct changes.session_id, changes.phase, changes.reading_seq,
    changes.previous_value, changes.new_value
from marts.rpt_big_changes as changes
inner join marts.rpt_big_changes as neighbours
    on changes.session_id = neighbours.session_id
    and changes.measure = neighbours.measure
    and changes.phase = neighbours.phase
    and abs(changes.reading_seq - neighbours.reading_seq) = 1
    and changes.direction != neighbours.direction
where changes.measure = 'temperature_c'
"""


def test_the_showcase_sessions_temperature_glitch_is_counted_from_the_big_changes(
    executed: ExecutedNotebook, warehouse_file: Path
) -> None:
    stated = glitch_statement(answer_of_section(executed.notebook, 4))
    flips = query(
        warehouse_file,
        f"select phase, reading_seq, previous_value, new_value from ({FLIPS_SQL})"
        " where session_id = ? order by phase, reading_seq",
        [stated["session_id"]],
    )
    assert stated["flips"] == len(flips) > 0
    assert stated["phases"] == sorted({phase for phase, *_ in flips})
    assert stated["without"] == stated["changes"] - len(flips)
    # Two levels, each reading undoing the one before: the value returns to where it was.
    low, high = stated["levels"]
    assert all(
        {round(previous), round(new)}
        <= set(range(low - 2, low + 3)) | set(range(high - 2, high + 3))
        for _, _, previous, new in flips
    )
    assert high - low > 5
    fleet_flips, fleet_sessions = query(
        warehouse_file, f"select count(*), count(distinct session_id) from ({FLIPS_SQL})"
    )[0]
    temperature_changes = query(
        warehouse_file,
        "select count(*) from marts.rpt_big_changes where measure = 'temperature_c'",
    )[0][0]
    assert (stated["fleet_flips"], stated["fleet_sessions"]) == (fleet_flips, fleet_sessions)
    assert stated["fleet_temperature_changes"] == temperature_changes


def fleet_statement(text: str) -> dict[str, Any]:
    """The figures that the answer of section 7 states."""
    match = re.search(
        r"Drivers plug in most often on (\w+)s at (\d{2}):00 local time \((\d+) sessions started "
        r"in that hour\), and (\w+) is the busiest weekday \((\d+) sessions\)\. (.*)\. "
        r"Chargers saw (\d+) to (\d+) sessions each \(median ([\d.]+)\)\. Of the ([\d,]+) "
        r"sessions on three-phase chargers, ([\d,]+) \((\d+)%\) charged on one phase only, .* had "
        r"a car plugged in (\d+)% of the time but were charging only ([\d.]+)% of the time; the "
        r"most used, charger (\d+), had a car plugged in (\d+)% of the time\.",
        text,
    )
    assert match, text
    months = re.findall(
        r"[Ii]n (\w+ \d{4}) the fleet delivered ([\d,.]+) kWh and billed ([\d,.]+) kWh for "
        r"([\d,.]+) EUR to (\d+) users",
        match[6],
    )
    return {
        "slot": (WEEKDAYS.index(match[1]) + 1, int(match[2]), int(match[3])),
        "weekday": (WEEKDAYS.index(match[4]) + 1, int(match[5])),
        "months": {month: [number(value) for value in values] for month, *values in months},
        "sessions_per_charger": (int(match[7]), int(match[8]), float(match[9])),
        "three_phase": (number(match[10]), number(match[11]), int(match[12])),
        "plugged_in_pct": int(match[13]),
        "charging_pct": float(match[14]),
        "most_used": (int(match[15]), int(match[16])),
    }


# Sessions started by ISO weekday and hour at the charger's site.
LOCAL_STARTS_SQL = """
select
    isodow(timezone(chargers.time_zone, briefings.corrected_started_at at time zone 'UTC')),
    hour(timezone(chargers.time_zone, briefings.corrected_started_at at time zone 'UTC')),
    count(*)
from marts.fct_session_briefings as briefings
inner join marts.dim_chargers as chargers on briefings.charger_id = chargers.charger_id
group by all
"""


def test_fleet_answer_matches_the_calendar_marts(
    executed: ExecutedNotebook, warehouse_file: Path
) -> None:
    stated = fleet_statement(answer_of_section(executed.notebook, 7))
    starts = query(warehouse_file, LOCAL_STARTS_SQL)
    assert stated["slot"] == min(starts, key=lambda row: (-row[2], row[0], row[1]))
    # The weekdays agree with the local start days of fct_session_days.
    by_weekday = dict(
        query(
            warehouse_file,
            "select isodow(local_date), count(*) from marts.fct_session_days"
            " where is_start_day group by 1",
        )
    )
    assert stated["weekday"] == min(by_weekday.items(), key=lambda item: (-item[1], item[0]))
    assert by_weekday == {
        weekday: sum(row[2] for row in starts if row[0] == weekday) for weekday in by_weekday
    }
    months = query(
        warehouse_file,
        """
        select strftime(local_month, '%B %Y'), sum(delivered_energy_kwh), sum(billed_energy_kwh),
            sum(billed_cost_eur)
        from marts.fct_charger_days
        group by local_month
        having sum(sessions_started) > 0 or sum(delivered_energy_kwh) > 0
        """,
    )
    assert set(stated["months"]) == {row[0] for row in months}
    users = dict(
        query(
            warehouse_file,
            "select strftime(local_month, '%B %Y'), count(distinct user_id)"
            " from marts.fct_session_days group by local_month",
        )
    )
    for month, delivered, billed, cost in months:
        assert stated["months"][month][:3] == pytest.approx([delivered, billed, cost], abs=0.05)
        assert stated["months"][month][3] == users[month]
    per_charger = [
        row[0]
        for row in query(
            warehouse_file,
            "select count(*) from marts.fct_session_briefings group by charger_id order by 1",
        )
    ]
    median = (per_charger[(len(per_charger) - 1) // 2] + per_charger[len(per_charger) // 2]) / 2
    assert stated["sessions_per_charger"] == (per_charger[0], per_charger[-1], median)
    on_three, one_phase = query(
        warehouse_file,
        """
        select count(*), count(*) filter (where briefings.phases_used = 1)
        from marts.fct_session_briefings as briefings
        inner join marts.dim_chargers as chargers on briefings.charger_id = chargers.charger_id
        where chargers.phases_seen = 3
        """,
    )[0]
    assert stated["three_phase"] == (on_three, one_phase, round(100 * one_phase / on_three))
    assert 0 < one_phase < on_three
    plugged_in, charging = query(
        warehouse_file,
        "select sum(plugged_in_s) / sum(day_length_s), sum(charging_s) / sum(day_length_s)"
        " from marts.fct_charger_days",
    )[0]
    assert stated["plugged_in_pct"] == round(100 * plugged_in)
    assert stated["charging_pct"] == pytest.approx(100 * charging, abs=0.05)
    most_used = query(
        warehouse_file,
        """
        select charger_id, sum(plugged_in_s) / sum(day_length_s)
        from marts.fct_charger_days
        group by charger_id
        order by 2 desc, charger_id
        limit 1
        """,
    )[0]
    assert stated["most_used"] == (most_used[0], round(100 * most_used[1]))


def test_plug_in_heat_map_draws_local_start_hours(
    clock_corrected_session: tuple[int, ProbedNotebook], warehouse_file: Path
) -> None:
    grid = clock_corrected_session[1].charts["plug_in_grid"]
    assert len(grid) == 7 and all(len(row) == 24 for row in grid)
    expected = [[0] * 24 for _ in range(7)]
    for weekday, hour, sessions in query(warehouse_file, LOCAL_STARTS_SQL):
        expected[weekday - 1][hour] = sessions
    assert grid == expected
    # Local time, not UTC: most chargers are an hour ahead of UTC, so the grids differ.
    utc = [[0] * 24 for _ in range(7)]
    for weekday, hour, sessions in query(
        warehouse_file,
        "select isodow(corrected_started_at), hour(corrected_started_at), count(*)"
        " from marts.fct_session_briefings group by all",
    ):
        utc[weekday - 1][hour] = sessions
    assert grid != utc


# The anomaly of each kind that section 8 charts, written apart from the notebook's window query:
# the lowest id among the kind's critical anomalies, else among all of them.
ANOMALY_EXAMPLES_SQL = """
select kind, coalesce(min(anomaly_id) filter (where severity = 'critical'), min(anomaly_id))
from marts.fct_anomalies
group by kind
"""
ANOMALY_CHART_TEXT = re.compile(
    r"\*\*[^*]+\*\* \(`(\w+)`, (critical|warning)\): anomaly `([0-9a-f]{32})` on charger (\d+), "
    r".*from (\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) to (\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) UTC"
)


def anomaly_charts(notebook: Any) -> list[tuple[str, bytes]]:
    """What the anomaly examples' cell showed, in order: each text and the chart after it."""
    (cell,) = tagged_cells(notebook, "anomaly-examples")
    shown = [
        output["data"]
        for output in cell.outputs
        if "text/markdown" in output.get("data", {}) or "image/png" in output.get("data", {})
    ]
    texts = [data["text/markdown"] for data in shown[0::2] if "text/markdown" in data]
    images = [base64.b64decode(data["image/png"]) for data in shown[1::2] if "image/png" in data]
    # Text, chart, text, chart, ...: each text is followed by its chart, and nothing else is shown.
    assert len(texts) == len(images) == len(shown) / 2, [sorted(data) for data in shown]
    return list(zip(texts, images, strict=True))


def charted_anomalies(notebook: Any) -> dict[str, dict[str, Any]]:
    """The anomaly charted for each kind, as its text names it."""
    charted = {}
    for text, image in anomaly_charts(notebook):
        assert image.startswith(PNG_MAGIC)
        match = ANOMALY_CHART_TEXT.match(text)
        assert match, text
        assert match[1] not in charted, f"two charts of {match[1]}"
        charted[match[1]] = {
            "severity": match[2],
            "anomaly_id": match[3],
            "charger_id": int(match[4]),
            "started_at": match[5],
            "ended_at": match[6],
            "text": text,
        }
    return charted


def test_anomalies_section_charts_one_anomaly_of_each_kind_in_the_mart(
    executed: ExecutedNotebook, warehouse_file: Path
) -> None:
    charted = charted_anomalies(executed.notebook)
    examples = dict(query(warehouse_file, ANOMALY_EXAMPLES_SQL))
    # Every kind the mart holds has its chart, and no other kind has one.
    assert set(charted) == set(examples)
    # The default dataset holds every kind the detectors know.
    assert len(examples) == 6
    assert {kind: chart["anomaly_id"] for kind, chart in charted.items()} == examples
    rows = query_dicts(
        warehouse_file,
        "select * from marts.fct_anomalies where anomaly_id in (select unnest(?))",
        [list(examples.values())],
    )
    for row in rows:
        chart = charted[row["kind"]]
        assert chart["severity"] == row["severity"]
        assert chart["charger_id"] == row["charger_id"]
        assert chart["started_at"] == f"{row['started_at']:%Y-%m-%d %H:%M:%S}"
        assert chart["ended_at"] == f"{row['ended_at']:%Y-%m-%d %H:%M:%S}"
        for detector in row["detectors"].split(","):
            assert f"`{detector}`" in chart["text"]
    # The fixed limits the mart does not carry are named by their vars.
    assert "var `voltage_band_share`" in charted["voltage_sag"]["text"]
    assert "var `temperature_limit_c`" in charted["overheating"]["text"]


def test_notebook_charts_only_the_kinds_a_warehouse_holds(
    warehouse_file: Path, tmp_path: Path
) -> None:
    warehouse = copy_warehouse(warehouse_file, tmp_path)
    connection = duckdb.connect(str(warehouse))
    try:
        connection.execute(
            "delete from marts.fct_anomalies where kind in ('voltage_swell', 'energy_mismatch')"
        )
    finally:
        connection.close()
    run = run_notebook(warehouse, tmp_path / "out")
    notebook = nbformat.read(run.notebook_path, as_version=4)
    charted = charted_anomalies(notebook)
    assert set(charted) == {"voltage_sag", "overheating", "phase_loss", "stuck_sensor"}
    assert {kind: chart["anomaly_id"] for kind, chart in charted.items()} == dict(
        query(warehouse, ANOMALY_EXAMPLES_SQL)
    )
    assert "One anomaly of each of the 4 kinds is charted above." in answer_of_section(notebook, 8)


def test_notebook_stops_on_an_anomaly_kind_it_cannot_chart(
    warehouse_file: Path, tmp_path: Path
) -> None:
    warehouse = copy_warehouse(warehouse_file, tmp_path)
    connection = duckdb.connect(str(warehouse))
    try:
        connection.execute(
            "update marts.fct_anomalies set kind = 'ground_fault' where kind = 'stuck_sensor'"
        )
    finally:
        connection.close()
    with pytest.raises(CellExecutionError, match=r"cannot chart: \['ground_fault'\]"):
        run_notebook(warehouse, tmp_path / "out")


def anomaly_table(notebook: Any) -> dict[str, list[str]]:
    """The anomaly table's cells, by row label (kind / severity)."""
    (cell,) = tagged_cells(notebook, "anomaly-table")
    (html,) = [
        output["data"]["text/html"]
        for output in cell.outputs
        if "text/html" in output.get("data", {})
    ]
    body = html.split("<tbody>")[1]
    return {
        row[0]: re.findall(r"<td>([^<]*)</td>", row[1])
        for row in re.findall(r"<tr>\s*<th>([^<]*)</th>(.*?)</tr>", body, re.S)
    }


def test_anomaly_table_and_answer_count_the_mart(
    executed: ExecutedNotebook, warehouse_file: Path
) -> None:
    expected = query(
        warehouse_file,
        """
        select kind || ' / ' || severity, count(*), count(distinct charger_id),
            count(*) filter (where session_id is null), sum(duration_s) / 60
        from marts.fct_anomalies
        group by kind, severity
        """,
    )
    shown = anomaly_table(executed.notebook)
    assert set(shown) == {row[0] for row in expected}
    for label, anomalies, chargers, outside, total_min in expected:
        cells = shown[label]
        assert [int(cells[0]), int(cells[1]), int(cells[2])] == [anomalies, chargers, outside]
        assert number(cells[3]) == pytest.approx(total_min, abs=0.05)
    match = re.search(
        r"found (\d+) anomalies on (\d+) chargers, (\d+) of them critical: (.*); together they "
        r"last ([\d.]+) (min|h)\. (None|\d+) of them lie outside every session\. One anomaly of "
        r"each of the (\d+) kinds is charted above\.",
        answer_of_section(executed.notebook, 8),
    )
    assert match
    anomalies, chargers, critical, outside, total_s, kinds = query(
        warehouse_file,
        """
        select count(*), count(distinct charger_id), count(*) filter (where severity = 'critical'),
            count(*) filter (where session_id is null), sum(duration_s), count(distinct kind)
        from marts.fct_anomalies
        """,
    )[0]
    assert [int(match[1]), int(match[2]), int(match[3])] == [anomalies, chargers, critical]
    assert int(match[7] if match[7] != "None" else 0) == outside
    assert int(match[8]) == kinds
    stated_s = float(match[5]) * (3600 if match[6] == "h" else 60)
    assert stated_s == pytest.approx(total_s, abs=0.05 * 3600)
    # Each kind with its count: "3 voltage sags, 1 voltage swell, ...".
    by_kind = query(warehouse_file, "select kind, count(*) from marts.fct_anomalies group by kind")
    listed = match[4].split(", ")
    assert len(listed) == len(by_kind)
    for kind, count in by_kind:
        words = kind.replace("_", " ")
        assert any(re.fullmatch(rf"{count} {words}(?:e?s)?", item) for item in listed), listed
    assert anomalies > 0 and critical > 0


def marts_read_by_the_notebook() -> set[str]:
    """The marts the notebook source copies or reads from the warehouse."""
    source = DEFAULT_SOURCE.read_text(encoding="utf-8")
    copied = re.search(r"COPIED_MARTS = \(([^)]*)\)", source)
    assert copied
    return set(re.findall(r'"(\w+)"', copied[1])) | set(
        re.findall(r"warehouse\.marts\.(\w+)", source)
    )


def relation_of(ref: str) -> str:
    """The table an exposure's ``ref`` names: a version pinned at 2 or later is ``<name>_v<N>``;
    version 1 of fct_session_briefings keeps the model's name (its alias)."""
    match = re.fullmatch(r"ref\('(\w+)'(?:, v=(\d+))?\)", ref)
    assert match, ref
    name, version = match[1], match[2]
    return f"{name}_v{version}" if version not in (None, "1") else name


def test_exposure_lists_exactly_the_marts_the_notebook_reads() -> None:
    exposures = yaml.safe_load(
        (PROJECT_DIR / "models" / "marts" / "_exposures.yml").read_text(encoding="utf-8")
    )["exposures"]
    (notebook,) = [item for item in exposures if item["name"] == "charging_analysis_notebook"]
    listed = {relation_of(ref) for ref in notebook["depends_on"]}
    assert len(listed) == len(notebook["depends_on"])
    read = marts_read_by_the_notebook()
    assert {"dim_chargers", "fct_charger_days", "rpt_user_monthly_energy"} <= read
    assert listed == read


def test_notebook_briefs_the_session_it_is_given(warehouse_file: Path, tmp_path: Path) -> None:
    session_id, charger_id = query(
        warehouse_file,
        "select session_id, charger_id from marts.fct_session_briefings where phases_used = 1"
        " order by reading_count desc, session_id limit 1",
    )[0]
    run = run_notebook(warehouse_file, tmp_path, session_id=session_id)
    notebook = nbformat.read(run.notebook_path, as_version=4)
    assert answer_of_section(notebook, 3).startswith(
        f"**Answer.** Session {session_id} on charger {charger_id} lasted"
    )
    assert len(png_outputs(tagged_cells(notebook, "profile-figure"))) == 1


# Run in the kernel after the notebook: what its charts drew, read back from the matplotlib
# objects it left in the cells' names (`day_ax`: sessions per day; `energy_ax`: the profile's
# accumulated energy; `anomaly_axes`: the top panel of each anomaly's chart, by kind, its span in
# UNIX seconds and its lines' values).
CHART_PROBE = """
import json

import matplotlib.dates
import numpy


def bar_days(container):
    centres = [bar.get_x() + bar.get_width() / 2 for bar in container]
    return [
        [f"{matplotlib.dates.num2date(centre):%Y-%m-%d}", float(bar.get_height())]
        for centre, bar in zip(centres, container)
    ]


estimate_bands = [
    collection
    for collection in energy_ax.collections
    if collection.get_label().startswith("estimated across gaps")
]
bridges = [
    line for line in energy_ax.get_lines() if line.get_label() == "gap bridged by the estimate"
]


def anomaly_chart(ax):
    (span,) = [patch for patch in ax.patches if patch.get_label() == "anomaly"]
    return {
        "span_s": [span.get_x() * 86400, (span.get_x() + span.get_width()) * 86400],
        "lines": {
            line.get_label(): [float(y) for y in line.get_ydata() if not numpy.isnan(y)]
            for line in ax.get_lines()
        },
    }


print(json.dumps({
    "anomaly_charts": {kind: anomaly_chart(ax) for kind, ax in anomaly_axes.items()},
    "plug_in_grid": plug_in_ax.images[0].get_array().tolist(),
    "day_bars": {container.get_label(): bar_days(container) for container in day_ax.containers},
    "estimate_hatches": [band.get_hatch() for band in estimate_bands],
    "estimate_vertices": [band.get_paths()[0].vertices.tolist() for band in estimate_bands],
    "bridges": [
        {
            "linestyle": line.get_linestyle(),
            "x": [float(x) for x, y in line.get_xydata() if not numpy.isnan(y)],
        }
        for line in bridges
    ],
}))
"""


@dataclass(frozen=True)
class ProbedNotebook:
    """A notebook executed in a kernel, and what :data:`CHART_PROBE` printed afterwards."""

    notebook: Any
    charts: dict[str, Any]


def run_with_chart_probe(warehouse: Path, session_id: int) -> ProbedNotebook:
    """Execute the notebook briefing ``session_id``, then the chart probe in the same kernel."""
    notebook = jupytext.read(DEFAULT_SOURCE)
    client = NotebookClient(
        notebook,
        kernel_name=NATIVE_KERNEL_NAME,
        kernel_manager_class=InterpreterKernelManager,
        resources={"metadata": {"path": str(DEFAULT_SOURCE.parent)}},
    )
    # nbclient executes only cells of the notebook: the probe is appended, run last, removed.
    probe = nbformat.v4.new_code_cell(CHART_PROBE)
    notebook.cells.append(probe)
    with client.setup_kernel(env=notebook_environment(warehouse, session_id)):
        for index, cell in enumerate(notebook.cells):
            client.execute_cell(cell, index)
    notebook.cells.remove(probe)
    printed = "".join(output.text for output in probe.outputs if output.output_type == "stream")
    return ProbedNotebook(notebook, json.loads(printed))


@pytest.fixture(scope="session")
def clock_corrected_session(warehouse_file: Path) -> tuple[int, ProbedNotebook]:
    """The notebook briefing the reset-clock session with the most energy estimated across gaps."""
    (session_id,) = query(
        warehouse_file,
        """
        select session_id from marts.fct_session_briefings
        where is_clock_corrected and estimated_gap_energy_wh > 0
        order by estimated_gap_energy_wh desc, session_id
        limit 1
        """,
    )[0]
    return session_id, run_with_chart_probe(warehouse_file, session_id)


def test_sessions_per_day_are_drawn_in_true_time(
    clock_corrected_session: tuple[int, ProbedNotebook], warehouse_file: Path
) -> None:
    bars = clock_corrected_session[1].charts["day_bars"]
    assert set(bars) == {"clock right", "clock reset, corrected"}
    drawn: dict[str, dict[str, float]] = {}
    for label, days in bars.items():
        drawn[label] = {day: height for day, height in days if height > 0}
    expected = query(
        warehouse_file,
        """
        select
            strftime(corrected_started_at::date, '%Y-%m-%d'),
            count(*) filter (where not is_clock_corrected),
            count(*) filter (where is_clock_corrected)
        from marts.fct_session_briefings
        group by 1
        """,
    )
    assert drawn["clock right"] == {day: right for day, right, _ in expected if right}
    assert drawn["clock reset, corrected"] == {
        day: corrected for day, _, corrected in expected if corrected
    }
    first, last = true_time_range(warehouse_file)
    assert all(
        f"{first:%Y-%m-%d}" <= day <= f"{last:%Y-%m-%d}" for days in drawn.values() for day in days
    )
    assert drawn["clock reset, corrected"]


def test_profile_draws_the_estimated_energy_apart(
    clock_corrected_session: tuple[int, ProbedNotebook], warehouse_file: Path
) -> None:
    session_id, probed = clock_corrected_session
    charts = probed.charts
    estimated_wh, last_estimated_wh = query(
        warehouse_file,
        """
        select
            any_value(briefings.estimated_gap_energy_wh),
            arg_max(profiles.accumulated_estimated_energy_wh, profiles.reading_seq)
        from marts.fct_session_briefings as briefings
        inner join marts.fct_charging_profiles as profiles
            on briefings.session_id = profiles.session_id
        where briefings.session_id = ?
        """,
        [session_id],
    )[0]
    assert last_estimated_wh == pytest.approx(estimated_wh)
    # One hatched band, between measured and accumulated energy: at the last reading it is as
    # high as the energy estimated over the whole session.
    assert charts["estimate_hatches"] == ["////"]
    (vertices,) = charts["estimate_vertices"]
    last_x = max(x for x, _ in vertices)
    heights = [y for x, y in vertices if x == last_x]
    assert max(heights) - min(heights) == pytest.approx(estimated_wh / 1000, rel=1e-6)
    # The dashed line spans each estimated gap: from the reading before it to the reading
    # that ends it.
    (bridge,) = charts["bridges"]
    assert bridge["linestyle"] == "--"
    gap_edges = query(
        warehouse_file,
        """
        with edges as (
            select
                elapsed_s,
                interval_estimated_energy_wh > 0 as ends_estimated_gap,
                lead(interval_estimated_energy_wh) over (order by reading_seq) > 0
                    as starts_estimated_gap
            from marts.fct_charging_profiles
            where session_id = ?
        )
        select elapsed_s / 3600 from edges where ends_estimated_gap or starts_estimated_gap
        order by 1
        """,
        [session_id],
    )
    assert bridge["x"] == pytest.approx([row[0] for row in gap_edges])
    assert len(bridge["x"]) >= 2


def test_anomaly_charts_shade_the_span_and_draw_the_marts_limits(
    clock_corrected_session: tuple[int, ProbedNotebook], warehouse_file: Path
) -> None:
    charts = clock_corrected_session[1].charts["anomaly_charts"]
    examples = dict(query(warehouse_file, ANOMALY_EXAMPLES_SQL))
    assert set(charts) == set(examples)
    for kind, anomaly_id in examples.items():
        (row,) = query_dicts(
            warehouse_file,
            """
            select *, epoch(started_at) as started_s, epoch(ended_at) as ended_s
            from marts.fct_anomalies
            where anomaly_id = ?
            """,
            [anomaly_id],
        )
        chart = charts[kind]
        assert chart["span_s"] == pytest.approx([row["started_s"], row["ended_s"]], abs=0.01)
        lines = chart["lines"]
        # The limit and the expected value are the mart's, drawn as horizontal lines (none for a
        # stuck sensor, which has neither).
        scale = 1000 if kind == "energy_mismatch" else 1
        for column in ("limit_value", "expected_value"):
            drawn = [values for label, values in lines.items() if f"({column}" in label]
            if row[column] is None:
                assert drawn == [], (kind, column)
            else:
                assert drawn == [pytest.approx([row[column] / scale] * 2)], (kind, column)
        if kind == "energy_mismatch":
            # The session's accumulated energy ends at its telemetry energy.
            (energy,) = [values for label, values in lines.items() if "accumulated" in label]
            assert energy[-1] == pytest.approx(row["extreme_value"] / 1000)
            continue
        # The anomaly's phase: every reading the marts hold from an hour before to an hour after.
        name, unit = row["measure"].split("_")
        column = f"{name}_{row['phase'].lower()}_{unit}"
        readings = query(
            warehouse_file,
            f"""
            select {column}
            from marts.fct_charging_profiles
            where charger_id = ? and {column} is not null
                and corrected_measured_at between ?::timestamp - interval 1 hour
                and ?::timestamp + interval 1 hour
            order by corrected_measured_at, session_id
            """,
            [row["charger_id"], row["started_at"], row["ended_at"]],
        )
        assert lines[row["phase"]] == pytest.approx([reading[0] for reading in readings])
        assert len(readings) > 0


def test_briefing_of_a_reset_clock_session_states_the_correction(
    clock_corrected_session: tuple[int, ProbedNotebook], warehouse_file: Path
) -> None:
    session_id, probed = clock_corrected_session
    text = answer_of_section(probed.notebook, 3)
    assert text.startswith(f"**Answer.** Session {session_id} on charger")
    stated = briefing_statement(text)
    row = stored_briefing(warehouse_file, session_id)
    assert stated["started"] == f"{row['corrected_started_at']:%Y-%m-%d %H:%M}"
    assert row["started_at"].year < row["corrected_started_at"].year
    assert stated["clock_days"] == pytest.approx(abs(row["clock_offset_s"]) / 86400, abs=0.05)
    assert stated["clock_direction"] == ("behind" if row["clock_offset_s"] < 0 else "ahead")
    assert stated["measured_kwh"] == pytest.approx(row["measured_energy_wh"] / 1000, abs=0.005)
    assert stated["estimated_kwh"] == pytest.approx(
        row["estimated_gap_energy_wh"] / 1000, abs=0.005
    )
    assert stated["estimated_kwh"] > 0
    assert len(png_outputs(tagged_cells(probed.notebook, "profile-figure"))) == 1


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m chargerlogs.notebook`` with ``args``."""
    return subprocess.run(
        [sys.executable, "-m", "chargerlogs.notebook", *args],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        check=False,
    )


def test_cli_rejects_a_missing_warehouse_in_one_line(tmp_path: Path) -> None:
    result = run_cli("--warehouse", str(tmp_path / "absent.duckdb"), "--out", str(tmp_path / "o"))
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "absent.duckdb" in lines[0] and "make run" in lines[0]
    assert not (tmp_path / "o").exists()


def test_cli_rejects_an_unknown_session_in_one_line(warehouse_file: Path, tmp_path: Path) -> None:
    result = run_cli(
        "--warehouse", str(warehouse_file), "--out", str(tmp_path), "--session-id", "1"
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "python -m chargerlogs.notebook: error: session 1 is not in fct_session_briefings"
    ]


def test_cli_help_explains_every_option() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    for option in ("--warehouse", "--out", "--session-id", "--notebook", "--timeout"):
        assert option in result.stdout


def test_kernel_is_this_interpreter_even_without_a_registered_kernelspec() -> None:
    spec = InterpreterKernelSpecManager().get_kernel_spec(NATIVE_KERNEL_NAME)
    assert spec.argv[0] == sys.executable
    assert spec.argv[1:3] == ["-m", "ipykernel_launcher"]


def test_paired_notebook_matches_its_source() -> None:
    source = jupytext.read(DEFAULT_SOURCE)
    paired = jupytext.read(DEFAULT_SOURCE.with_suffix(".ipynb"))
    assert [cell.source for cell in paired.cells] == [cell.source for cell in source.cells]
