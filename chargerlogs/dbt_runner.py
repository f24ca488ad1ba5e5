"""Run dbt on this project in a subprocess, as the tests and the benchmarks do.

dbt always gets the project's profiles and project dir, its own data folder, DuckDB file, target
and log paths, no partial parse and no usage statistics, so that a run never shares files with
another build. A subprocess (not an in-process run) releases the DuckDB file when it ends.

:func:`run_measured` is the general piece underneath: any command, its output captured, its wall
time and peak memory measured; the benchmarks also time their other steps with it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]
OUTPUT_TAIL_LINES = 60


class MeasuredProcess(subprocess.CompletedProcess[str]):
    """A finished subprocess: its output, what it was, its wall time and its peak memory."""

    def __init__(
        self,
        args: list[str],
        returncode: int,
        stdout: str,
        stderr: str,
        *,
        label: str,
        seconds: float,
        max_rss_mib: float,
    ) -> None:
        super().__init__(args, returncode, stdout, stderr)
        self.label = label
        self.seconds = seconds
        self.max_rss_mib = max_rss_mib


class ProcessError(Exception):
    """A subprocess exited with an error: a one-line message; ``output_tail``, its last output."""

    def __init__(self, message: str, output_tail: str) -> None:
        super().__init__(message)
        self.output_tail = output_tail


def run_measured(
    command: Sequence[str], *, label: str, cwd: Path, env: Mapping[str, str]
) -> MeasuredProcess:
    """Run ``command`` to its end; its stdout and stderr as text, wall seconds and peak RSS.

    The output goes to unnamed temporary files (no pipe to drain) so that the child can be reaped
    with ``os.wait4``, which reports the peak resident memory of that child alone.
    """
    with (
        tempfile.TemporaryFile("w+", encoding="utf-8") as stdout,
        tempfile.TemporaryFile("w+", encoding="utf-8") as stderr,
    ):
        began = time.perf_counter()
        process = subprocess.Popen(
            list(command), cwd=cwd, env=dict(env), stdout=stdout, stderr=stderr
        )
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - began
        process.returncode = os.waitstatus_to_exitcode(status)
        stdout.seek(0)
        stderr.seek(0)
        return MeasuredProcess(
            list(command),
            process.returncode,
            stdout.read(),
            stderr.read(),
            label=label,
            seconds=seconds,
            max_rss_mib=usage.ru_maxrss / 1024,
        )


def check(result: MeasuredProcess, tail_lines: int = OUTPUT_TAIL_LINES) -> MeasuredProcess:
    """``result`` when it exited with 0, else raise :class:`ProcessError` with its output tail."""
    if result.returncode == 0:
        return result
    tail = result.stdout.splitlines()[-tail_lines:] + result.stderr.splitlines()[-tail_lines:]
    raise ProcessError(f"{result.label} exited with {result.returncode}", "\n".join(tail))


def dbt_executable() -> str:
    """The dbt next to this Python (the project's virtualenv), else the one on the PATH."""
    candidate = Path(sys.executable).parent / "dbt"
    return str(candidate) if candidate.exists() else "dbt"


def run_dbt(
    args: Sequence[str],
    *,
    data_dir: Path,
    db_path: Path,
    target_path: Path,
    log_path: Path,
    env: Mapping[str, str] | None = None,
) -> MeasuredProcess:
    """``dbt <args>`` of this project on ``data_dir`` into ``db_path``; never raises on failure.

    ``target_path`` and ``log_path`` receive dbt's artifacts and logs; ``env`` adds or overrides
    environment variables. Pass the result to :func:`check` to fail on a non-zero exit.
    """
    command = [
        dbt_executable(),
        *args,
        "--profiles-dir",
        str(PROJECT_DIR),
        "--project-dir",
        str(PROJECT_DIR),
        "--target-path",
        str(target_path),
        "--log-path",
        str(log_path),
        "--no-partial-parse",
    ]
    environment = {
        **os.environ,
        "CHARGER_DATA_DIR": str(data_dir),
        "CHARGER_DUCKDB_PATH": str(db_path),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        **(env or {}),
    }
    return run_measured(command, label=f"dbt {' '.join(args)}", cwd=PROJECT_DIR, env=environment)
