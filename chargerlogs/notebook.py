"""Execute the charging-analysis notebook against a warehouse and export it to HTML.

The source is ``notebooks/charging_analysis.py`` (jupytext percent format). It is
converted to a notebook, executed in a Python kernel of this interpreter, and written with an HTML
export (images embedded, code left out: it reads as a report) into an output folder. The notebook
reads its parameters from the environment: ``CHARGER_DUCKDB_PATH`` (the warehouse) and
``BRIEF_SESSION_ID`` (the session to brief; unset lets the notebook choose one).

Usage: ``python -m chargerlogs.notebook --warehouse build/published/charger_telemetry.duckdb
--out build``
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import jupytext
import nbformat
from jupyter_client.kernelspec import NATIVE_KERNEL_NAME, KernelSpec, KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from nbconvert import HTMLExporter
from traitlets import default

from chargerlogs.cli import OneLineErrorParser

PROJECT_DIR = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = PROJECT_DIR / "notebooks" / "charging_analysis.py"
DEFAULT_TIMEOUT_S = 300


class NotebookInputError(ValueError):
    """The notebook cannot run on the given input (missing warehouse, unknown session, ...)."""


@dataclass(frozen=True)
class NotebookRun:
    """Where an executed notebook and its HTML export were written, and how long it took."""

    notebook_path: Path
    html_path: Path
    seconds: float


class InterpreterKernelSpecManager(KernelSpecManager):
    """Kernel specs in which ``python3`` is always the ipykernel of the running interpreter.

    A fresh virtualenv has no kernel registered, and a user-level ``python3`` kernel may point to
    another Python without this project's packages; both are avoided by building the spec from
    ipykernel itself.
    """

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        """Return the spec of ``kernel_name``; ``python3`` runs ``sys.executable -m ipykernel``."""
        if kernel_name == NATIVE_KERNEL_NAME:
            from ipykernel.kernelspec import RESOURCES, get_kernel_dict

            return KernelSpec(resource_dir=RESOURCES, **get_kernel_dict())
        return super().get_kernel_spec(kernel_name)


class InterpreterKernelManager(AsyncKernelManager):
    """Asynchronous kernel manager resolving kernels with :class:`InterpreterKernelSpecManager`."""

    @default("kernel_spec_manager")
    def _default_kernel_spec_manager(self) -> KernelSpecManager:
        return InterpreterKernelSpecManager(data_dir=self.data_dir)


def check_inputs(warehouse: Path, session_id: int | None) -> None:
    """Raise :class:`NotebookInputError` unless the warehouse exists and holds ``session_id``.

    The warehouse is opened read-only for one query and closed at once.
    """
    if not warehouse.is_file():
        raise NotebookInputError(f"warehouse {warehouse} not found: build it with make run")
    try:
        connection = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.Error as error:
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise NotebookInputError(f"cannot open warehouse {warehouse}: {first_line}") from error
    try:
        # Counting every session when none is asked for still proves the mart exists.
        found = connection.execute(
            "select count(*) from marts.fct_session_briefings where session_id = ? or ? is null",
            [session_id, session_id],
        ).fetchone()
    except duckdb.Error as error:
        raise NotebookInputError(
            f"warehouse {warehouse} has no marts.fct_session_briefings: build it with make run"
        ) from error
    finally:
        connection.close()
    if session_id is not None and not (found and found[0]):
        raise NotebookInputError(f"session {session_id} is not in fct_session_briefings")


def notebook_environment(warehouse: Path, session_id: int | None) -> dict[str, str]:
    """The kernel's environment: this process's, with the notebook's parameters set."""
    env = dict(os.environ)
    env["CHARGER_DUCKDB_PATH"] = str(warehouse.resolve())
    env.pop("BRIEF_SESSION_ID", None)
    if session_id is not None:
        env["BRIEF_SESSION_ID"] = str(session_id)
    return env


def export_html(notebook: Any, html_path: Path) -> None:
    """Write ``notebook`` as a standalone HTML report, its images embedded as data URIs.

    The report shows the prose, tables and charts only: code cells keep their source in the
    executed notebook, but their input and the ``In [n]`` / ``Out [n]`` prompts are left out.
    """
    exporter = HTMLExporter(
        embed_images=True,
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    body, _ = exporter.from_notebook_node(notebook)
    html_path.write_text(body, encoding="utf-8")


def run_notebook(
    warehouse: Path,
    out_dir: Path,
    session_id: int | None = None,
    source: Path = DEFAULT_SOURCE,
    timeout_s: int = DEFAULT_TIMEOUT_S,
) -> NotebookRun:
    """Execute ``source`` against ``warehouse``; write ``<stem>.ipynb`` and ``<stem>.html``.

    The kernel runs in the source's folder. When a cell fails, the partly executed notebook is
    still written (to show the error in place) and :class:`nbclient.exceptions.CellExecutionError`
    is raised.
    """
    check_inputs(warehouse, session_id)
    if not source.is_file():
        raise NotebookInputError(f"notebook source {source} not found")
    out_dir.mkdir(parents=True, exist_ok=True)
    notebook_path = out_dir / f"{source.stem}.ipynb"
    html_path = out_dir / f"{source.stem}.html"

    notebook = jupytext.read(source)
    client = NotebookClient(
        notebook,
        timeout=timeout_s,
        kernel_name=NATIVE_KERNEL_NAME,
        kernel_manager_class=InterpreterKernelManager,
        resources={"metadata": {"path": str(source.parent)}},
    )
    started = time.perf_counter()
    try:
        client.execute(env=notebook_environment(warehouse, session_id))
    finally:
        nbformat.write(notebook, notebook_path)
    seconds = time.perf_counter() - started
    export_html(notebook, html_path)
    return NotebookRun(notebook_path, html_path, seconds)


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m chargerlogs.notebook``."""
    parser = OneLineErrorParser(
        prog="python -m chargerlogs.notebook",
        description=(
            "Execute the charging-analysis notebook against a DuckDB warehouse (opened read-only "
            "for a moment only) and write the executed notebook and an HTML export."
        ),
    )
    parser.add_argument(
        "--warehouse",
        type=Path,
        required=True,
        metavar="PATH",
        help=(
            "the DuckDB warehouse file to read: the serving copy of the marts, e.g. "
            "build/published/charger_telemetry.duckdb, or the file dbt built"
        ),
    )
    parser.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="DIR",
        help="folder for charging_analysis.ipynb and charging_analysis.html (created if missing)",
    )
    parser.add_argument(
        "--session-id",
        type=int,
        default=None,
        metavar="N",
        help="charging session to brief in sections 3 and 4 (default: the notebook chooses one)",
    )
    parser.add_argument(
        "--notebook",
        type=Path,
        default=DEFAULT_SOURCE,
        metavar="PATH",
        help=f"notebook source in jupytext percent format (default: {DEFAULT_SOURCE})",
    )
    parser.add_argument(
        "--timeout",
        type=int,
        default=DEFAULT_TIMEOUT_S,
        metavar="SECONDS",
        help=f"longest a single cell may run (default: {DEFAULT_TIMEOUT_S})",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (2 on bad input, 1 when a cell fails)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        check_inputs(args.warehouse, args.session_id)
        if not args.notebook.is_file():
            raise NotebookInputError(f"notebook source {args.notebook} not found")
    except NotebookInputError as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 2
    print(f"executing {args.notebook.name} against {args.warehouse} ...", file=sys.stderr)
    try:
        run = run_notebook(args.warehouse, args.out, args.session_id, args.notebook, args.timeout)
    except CellExecutionError as error:
        name = getattr(error, "ename", "error")
        value = str(getattr(error, "evalue", "")).splitlines()[:1]
        detail = f"{name}: {value[0]}" if value else name
        print(
            f"{parser.prog}: error: a notebook cell failed ({detail}); see "
            f"{args.out / (args.notebook.stem + '.ipynb')}",
            file=sys.stderr,
        )
        return 1
    print(f"executed in {run.seconds:.1f} s", file=sys.stderr)
    print(f"notebook: {run.notebook_path}", file=sys.stderr)
    print(f"html: {run.html_path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
