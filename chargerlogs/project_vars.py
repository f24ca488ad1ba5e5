"""Checks the dbt vars given for one build against those the project declares.

Run as ``python -m chargerlogs.project_vars '<vars as YAML>'`` (``make run`` and ``make live`` do,
when ``VARS`` is set). dbt accepts any var name and pastes a var's value into the SQL: a misspelt
name would build silently with the default, and a word where a number belongs would fail late with
a binder error naming a column. Every name must be a var of ``dbt_project.yml``, and its value of
the same kind as the declared default (a number, true or false, or text). Exit code 0 when they
are, 2 with one line on stderr otherwise.
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Sequence
from typing import Any

import yaml

from chargerlogs.dbt_runner import PROJECT_DIR

PROG = "python -m chargerlogs.project_vars"


def declared_vars() -> dict[str, Any]:
    """The vars of dbt_project.yml with their defaults."""
    with (PROJECT_DIR / "dbt_project.yml").open(encoding="utf-8") as handle:
        return dict(yaml.safe_load(handle)["vars"])


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    return type(value).__name__


def _shown(value: object) -> str:
    """A value as YAML writes it (false, 10, Europe/Madrid)."""
    return str(yaml.safe_dump(value, default_flow_style=True)).splitlines()[0].removesuffix(" ...")


def check_vars(vars_yaml: str) -> dict[str, Any]:
    """The given vars as a mapping; ValueError with a one-line message when one is wrong."""
    try:
        given = yaml.safe_load(vars_yaml)
    except yaml.YAMLError as error:
        raise ValueError(f"vars are not valid YAML: {str(error).splitlines()[0]}") from None
    if given is None:
        return {}
    if not isinstance(given, dict):
        raise ValueError(f"vars must be a mapping such as '{{name: value}}', got {vars_yaml!r}")
    declared = declared_vars()
    for name, value in given.items():
        if name not in declared:
            close = difflib.get_close_matches(str(name), declared, n=1)
            hint = f"; did you mean {close[0]}?" if close else "; see vars in dbt_project.yml"
            raise ValueError(f"unknown var {name!r}{hint}")
        expected = _kind(declared[name])
        if _kind(value) != expected:
            raise ValueError(
                f"var {name} must be {expected} (as its default {_shown(declared[name])}), "
                f"got {_shown(value)}"
            )
    return given


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if len(arguments) != 1:
        print(f"{PROG}: error: give the vars as one YAML argument", file=sys.stderr)
        return 2
    try:
        check_vars(arguments[0])
    except ValueError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
