"""The live loop benchmark's command line (its scenarios run in make bench-live)."""

from __future__ import annotations

from pathlib import Path

import pytest

from chargerlogs import bench_live


def test_work_folder_is_created_with_its_parents(tmp_path: Path) -> None:
    """A --work folder that does not exist yet is created, parents included."""
    work = tmp_path / "not" / "yet"
    options = bench_live.parse_args(["--work", str(work)])
    assert options.work == work
    assert work.is_dir()


def test_work_folder_that_is_a_file_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A --work path that cannot be a folder is a usage error naming it, not a stack trace."""
    work = tmp_path / "a-file"
    work.write_text("", encoding="utf-8")
    with pytest.raises(SystemExit) as exit_info:
        bench_live.parse_args(["--work", str(work)])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert error.startswith(f"python -m chargerlogs.bench_live: error: --work {work}: ")
