"""The charging-analysis notebook, run end to end on a warehouse built from generated data.

The default dataset (seed 42) is generated and built with dbt once per test session into a
temporary folder, never into build/. The notebook is executed through ``chargerlogs.notebook``,
and the numbers its answers print are checked against independent queries on the warehouse.
"""

from __future__ import annotations

import base64
import re
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jupytext
import nbformat
import pytest
from conftest import PROJECT_DIR, DefaultWarehouse, query
from jupyter_client.kernelspec import NATIVE_KERNEL_NAME

from chargerlogs.notebook import (
    DEFAULT_SOURCE,
    InterpreterKernelSpecManager,
    NotebookRun,
    run_notebook,
)

SECTION_HEADINGS = (
    "## 1. The data",
    "## 2. Session time",
    "## 3. One session: briefing and charging profile",
    "## 4. Big changes",
    "## 5. Average session time per charger",
    "## 6. Reported versus telemetry-integrated energy",
)
MAX_NOTEBOOK_SECONDS = 60
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


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
        from fct_session_briefings as briefings
        left join rpt_big_changes as changes on briefings.session_id = changes.session_id
        where briefings.phases_used = 3 and not briefings.has_sparse_telemetry
            and briefings.gap_count = 0 and not briefings.has_energy_mismatch
            and not briefings.is_overlapping and not briefings.has_clock_problem
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
        "select count(*), count(distinct charger_id) from fct_session_briefings",
    )[0]
    assert (number(match[1]), number(match[2])) == (sessions, chargers)
    files, quarantined, exact, resent = query(
        warehouse_file,
        "select count(*), sum(quarantined_rows), sum(exact_duplicate_rows),"
        " sum(resent_duplicate_rows) from rpt_ingestion_reconciliation",
    )[0]
    match = re.search(
        r"(\d+) files held .*?([\d,]+) lines were quarantined, ([\d,]+) dropped as exact "
        r"duplicates and ([\d,]+) as re-sent copies",
        text,
    )
    assert match
    assert [number(group) for group in match.groups()] == [files, quarantined, exact, resent]
    assert quarantined == query(warehouse_file, "select count(*) from rpt_quarantined_lines")[0][0]


def test_big_change_answer_matches_the_warehouse(
    executed: ExecutedNotebook, warehouse_file: Path
) -> None:
    match = re.search(
        r"Across the fleet there are ([\d,]+) big changes in (\d+) sessions",
        answer_of_section(executed.notebook, 4),
    )
    assert match
    expected = query(
        warehouse_file, "select count(*), count(distinct session_id) from rpt_big_changes"
    )[0]
    assert (number(match[1]), number(match[2])) == expected


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
        from fct_session_briefings
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


def test_energy_outliers_are_the_sessions_outside_the_tolerance(
    executed: ExecutedNotebook, warehouse_file: Path
) -> None:
    text = answer_of_section(executed.notebook, 6)
    match = re.search(r"than the (\d+)% tolerance: sessions ([\d, ]+)\.", text)
    assert match
    tolerance = int(match[1]) / 100
    named = {int(session) for session in match[2].split(", ")}
    # Recomputed from the two energies, without the has_energy_mismatch flag.
    outside = query(
        warehouse_file,
        """
        select session_id from fct_session_briefings
        where sample_count > 0 and reported_energy_wh > 0
            and abs(telemetry_energy_wh / reported_energy_wh - 1) > ?
        """,
        [tolerance],
    )
    assert named == {row[0] for row in outside}
    assert named
    assert "The flags match the tolerance" in text


def test_html_export_embeds_the_images(executed: ExecutedNotebook) -> None:
    html = executed.run.html_path.read_text(encoding="utf-8")
    assert html.count("data:image/png;base64") >= 6
    for heading in SECTION_HEADINGS:
        assert heading.removeprefix("## ").split(":")[0] in html


def test_notebook_briefs_the_session_it_is_given(warehouse_file: Path, tmp_path: Path) -> None:
    session_id, charger_id = query(
        warehouse_file,
        "select session_id, charger_id from fct_session_briefings where phases_used = 1"
        " order by sample_count desc, session_id limit 1",
    )[0]
    run = run_notebook(warehouse_file, tmp_path, session_id=session_id)
    notebook = nbformat.read(run.notebook_path, as_version=4)
    assert answer_of_section(notebook, 3).startswith(
        f"**Answer.** Session {session_id} on charger {charger_id} lasted"
    )
    assert len(png_outputs(tagged_cells(notebook, "profile-figure"))) == 1


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
