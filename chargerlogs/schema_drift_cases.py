"""The schema changes a producer can make, each as a small log file with the outcome it must have.

Every case is one file of one stream, on chargers of its own, whose lines each say what the
warehouse must do with them: ``accepted``, ``flagged`` (accepted and flagged ``has_string_number``)
or ``quarantined:<reason code>``, by default and with var ``strict_json_types``; whether the line is
valid under the latest JSON Schema of its stream and layout; and whether the file raises the
schema-drift alert. ``docs/schema_policy.md`` shows this table (``markdown_table``), and
``chargerlogs.schema_check`` feeds the files through dbt and compares.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ACCEPTED = "accepted"
FLAGGED = "flagged"
CHARGER_S = 1614861230  # 2021-03-04T12:33:50Z
SERVER_S = 1614861241.512
LINES_PER_CASE = 12  # enough for the unit checks (var unit_check_min_readings, 10)
MEASURES = ("ac_current_rms", "ac_voltage_rms", "temperature")


def quarantined(reason: str) -> str:
    """The outcome of a line quarantined with ``reason``."""
    return f"quarantined:{reason}"


@dataclass(frozen=True)
class Line:
    """One line of a case and what must become of it."""

    event: dict[str, Any] | str
    outcome: str
    strict_outcome: str
    schema_valid: bool


@dataclass(frozen=True)
class DriftCase:
    """A kind of schema change: its file, its lines, whether it is compatible, and the alert."""

    name: str
    stream: str  # charger_log_status or charger_log_session
    change: str  # what the producer changed, for the documentation
    compatible: bool
    lines: list[Line]
    alert: bool = False
    # values the first line must be read with (columns of int_readings_classified or
    # int_sessions_classified), for the accepted cases
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def file_name(self) -> str:
        return f"{self.name}.json"

    @property
    def outcome(self) -> str:
        """The outcome of most of the case's lines (the documented one)."""
        outcomes = [line.outcome for line in self.lines]
        return max(set(outcomes), key=outcomes.count)

    @property
    def strict_outcome(self) -> str:
        outcomes = [line.strict_outcome for line in self.lines]
        return max(set(outcomes), key=outcomes.count)


def flat_event(case_index: int, seq: int, **changes: Any) -> dict[str, Any]:
    """A well-formed flat status event of the case's charger; ``changes`` add, override or, with
    the value ``...``, remove keys."""
    event: dict[str, Any] = {
        "id": 700_000 + case_index * 100 + seq,
        "charger_id": 30_000 + case_index,
    }
    for phase in (1, 2, 3):
        event[f"ac_current_rms_{phase}"] = 1600 + phase
        event[f"ac_voltage_rms_{phase}"] = 229 + phase
        event[f"temperature_{phase}"] = 37 + phase
    event["charger_timestamp"] = CHARGER_S + 30 * seq
    event["server_timestamp"] = SERVER_S + 30 * seq
    return _changed(event, changes)


def nested_event(
    case_index: int,
    seq: int,
    element: Callable[[int], dict[str, Any]] | None = None,
    **changes: Any,
) -> dict[str, Any]:
    """A well-formed nested status event; ``element(phase)`` replaces each phase element."""
    make = element or _element
    event: dict[str, Any] = {
        "id": 700_000 + case_index * 100 + seq,
        "charger_id": 30_000 + case_index,
        "charger_phases": [make(phase) for phase in (1, 2, 3)],
        "charger_timestamp": CHARGER_S + 30 * seq,
        "server_timestamp": f"2021-03-04T12:{34 + seq // 2:02d}:{1 + 30 * (seq % 2):02d}.512Z",
    }
    return _changed(event, changes)


def _element(phase: int) -> dict[str, Any]:
    return {
        "id": phase,
        "temperature": 37 + phase,
        "ac_current_rms": 1600 + phase,
        "ac_voltage_rms": 229 + phase,
    }


def session_event(case_index: int, seq: int, **changes: Any) -> dict[str, Any]:
    """A well-formed session event of the case's charger."""
    start = CHARGER_S + 86_400 * seq
    event: dict[str, Any] = {
        "id": 4_700_000 + case_index * 100 + seq,
        "charger_id": 30_000 + case_index,
        "user_id": 88_000 + seq,
        "energy": 12_873,
        "total_cost": 2.57,
        "start_time": start,
        "end_time": start + 28_000,
    }
    return _changed(event, changes)


def _changed(event: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    for key, value in changes.items():
        if value is ...:
            event.pop(key, None)
        else:
            event[key] = value
    return event


def _renamed(event: dict[str, Any], renames: dict[str, str]) -> dict[str, Any]:
    """The event with keys renamed, in place of the old ones."""
    return {renames.get(key, key): value for key, value in event.items()}


def _as_strings(event: dict[str, Any]) -> dict[str, Any]:
    """Every number of a flat event written as a JSON string (its Python text)."""
    return {
        key: json.dumps(value) if isinstance(value, int | float) else value
        for key, value in event.items()
    }


def _uniform(
    events: list[dict[str, Any] | str], outcome: str, strict: str | None, valid: bool
) -> list[Line]:
    return [Line(event, outcome, strict or outcome, valid) for event in events]


def _each(make: Callable[[int], dict[str, Any] | str]) -> list[dict[str, Any] | str]:
    return [make(seq) for seq in range(LINES_PER_CASE)]


def drift_cases() -> list[DriftCase]:
    """Every case, in the order of the documentation."""
    cases: list[DriftCase] = []

    def add(
        name: str,
        stream: str,
        change: str,
        make: Callable[[int, int], dict[str, Any] | str],
        outcome: str,
        *,
        strict: str | None = None,
        valid: bool,
        alert: bool = False,
        values: dict[str, Any] | None = None,
    ) -> None:
        index = len(cases) + 1
        lines = _uniform(_each(lambda seq: make(index, seq)), outcome, strict, valid)
        compatible = not outcome.startswith("quarantined")
        cases.append(DriftCase(name, stream, change, compatible, lines, alert, values or {}))

    status, session = "charger_log_status", "charger_log_session"
    # Compatible changes
    add(
        "new_optional_field",
        status,
        "a new top-level key (`firmware_version`)",
        lambda i, s: flat_event(i, s, firmware_version="1.4.2"),
        ACCEPTED,
        valid=True,
        values={"current_l1_a": 16.01, "unexpected_keys": ["firmware_version"]},
    )
    add(
        "new_optional_phase_field",
        status,
        "a new key in each phase element (`charger_phases[].power_factor`)",
        lambda i, s: nested_event(i, s, element=lambda p: {**_element(p), "power_factor": 0.99}),
        ACCEPTED,
        valid=True,
        values={"current_l2_a": 16.02, "unexpected_keys": ["charger_phases[].power_factor"]},
    )
    add(
        "integer_widened_to_decimal",
        status,
        "measurements sent with decimals (`229.5` V, `38.5` C, `1600.5` cA)",
        lambda i, s: flat_event(
            i, s, ac_voltage_rms_1=229.5, temperature_1=38.5, ac_current_rms_1=1600.5
        ),
        ACCEPTED,
        valid=True,
        values={"voltage_l1_v": 229.5, "temperature_l1_c": 38.5, "current_l1_a": 16.005},
    )
    add(
        "second_layout_same_columns",
        status,
        "the same readings in the nested `charger_phases` layout",
        lambda i, s: nested_event(i, s),
        ACCEPTED,
        valid=True,
        values={"current_l1_a": 16.01, "voltage_l3_v": 232, "temperature_l2_c": 39},
    )
    add(
        "number_as_string",
        status,
        'every number written as a string (`"229.5"`), ids and times included',
        lambda i, s: _as_strings(flat_event(i, s, ac_voltage_rms_1=229.5)),
        FLAGGED,
        strict=quarantined("type_mismatch"),
        valid=False,
        values={"voltage_l1_v": 229.5, "current_l1_a": 16.01, "has_string_number": True},
    )
    add(
        "number_as_string_in_phases",
        status,
        'the measurements of the phase elements written as strings (`"1601"`)',
        lambda i, s: nested_event(
            i, s, element=lambda p: {k: v if k == "id" else str(v) for k, v in _element(p).items()}
        ),
        FLAGGED,
        strict=quarantined("type_mismatch"),
        valid=False,
        values={"current_l1_a": 16.01, "has_string_number": True},
    )
    add(
        "session_number_as_string",
        session,
        "a session's numbers written as strings",
        lambda i, s: _as_strings(session_event(i, s)),
        FLAGGED,
        strict=quarantined("type_mismatch"),
        valid=False,
        values={"energy_wh": 12873, "total_cost_eur": 2.57, "has_string_number": True},
    )
    # Breaking changes
    add(
        "string_not_a_number",
        status,
        'a measurement written as `"n/a"`',
        lambda i, s: flat_event(i, s, temperature_2="n/a"),
        quarantined("type_mismatch"),
        valid=False,
        alert=True,
    )
    add(
        "number_with_decimal_comma",
        status,
        'a number written as `"229,5"` (not exactly a number)',
        lambda i, s: flat_event(i, s, ac_voltage_rms_1="229,5"),
        quarantined("type_mismatch"),
        valid=False,
        alert=True,
    )
    add(
        "type_changed_to_boolean",
        status,
        "a measurement sent as `true`",
        lambda i, s: flat_event(i, s, ac_current_rms_3=True),
        quarantined("type_mismatch"),
        valid=False,
        alert=True,
    )
    add(
        "timestamp_as_iso_string",
        status,
        "`charger_timestamp` sent as an ISO-8601 string",
        lambda i, s: flat_event(i, s, charger_timestamp=f"2021-03-04T12:{34 + s:02d}:00Z"),
        quarantined("type_mismatch"),
        valid=False,
        alert=True,
    )
    add(
        "required_field_removed",
        status,
        "`charger_timestamp` left out",
        lambda i, s: flat_event(i, s, charger_timestamp=...),
        quarantined("missing_key_field"),
        valid=False,
        alert=True,
    )
    add(
        "required_field_renamed",
        status,
        "`charger_timestamp` renamed `measured_ts`",
        lambda i, s: _renamed(flat_event(i, s), {"charger_timestamp": "measured_ts"}),
        quarantined("renamed_field"),
        valid=False,
        alert=True,
    )
    add(
        "measurement_renamed",
        status,
        "`ac_voltage_rms_<n>` renamed `voltage_rms_<n>`",
        lambda i, s: _renamed(
            flat_event(i, s), {f"ac_voltage_rms_{p}": f"voltage_rms_{p}" for p in (1, 2, 3)}
        ),
        quarantined("renamed_field"),
        valid=True,
        alert=True,
    )
    add(
        "phase_field_renamed",
        status,
        "`temperature` of the phase elements renamed `temp_c`",
        lambda i, s: nested_event(
            i, s, element=lambda p: _renamed(_element(p), {"temperature": "temp_c"})
        ),
        quarantined("renamed_field"),
        valid=True,
        alert=True,
    )
    add(
        "session_field_renamed",
        session,
        "a session's `energy` renamed `energy_wh`",
        lambda i, s: _renamed(session_event(i, s), {"energy": "energy_wh"}),
        quarantined("renamed_field"),
        valid=True,
        alert=True,
    )
    add(
        "current_in_amperes",
        status,
        "currents sent in A (`16.01`) instead of cA (`1601`)",
        lambda i, s: flat_event(
            i, s, **{f"ac_current_rms_{p}": round((1600 + p) / 100, 2) for p in (1, 2, 3)}
        ),
        quarantined("unit_mismatch"),
        valid=True,
        alert=True,
    )
    add(
        "voltage_in_kilovolts",
        status,
        "voltages sent in kV (`0.23`) instead of V (`230`)",
        lambda i, s: flat_event(
            i, s, **{f"ac_voltage_rms_{p}": (229 + p) / 1000 for p in (1, 2, 3)}
        ),
        quarantined("unit_mismatch"),
        valid=True,
        alert=True,
    )
    add(
        "phase_id_out_of_range",
        status,
        "a phase element with id `4`",
        lambda i, s: nested_event(i, s, element=lambda p: {**_element(p), "id": p + 1}),
        quarantined("invalid_phase_array"),
        valid=False,
        alert=True,
    )
    # One bad line among good ones: quarantined, the others flow, no alert.
    index = len(cases) + 1
    stray = [
        Line(flat_event(index, seq), ACCEPTED, ACCEPTED, True) for seq in range(LINES_PER_CASE)
    ]
    stray[5] = Line(
        flat_event(index, 5, temperature_1="n/a"),
        quarantined("type_mismatch"),
        quarantined("type_mismatch"),
        False,
    )
    cases.append(
        DriftCase(
            "stray_bad_line",
            status,
            'one line of twelve with `"n/a"`: quarantined, the others kept, no alert',
            False,
            stray,
        )
    )
    return cases


def write_case_files(cases: list[DriftCase], data_dir: Path) -> None:
    """Write each case as one file of its stream's folder under ``data_dir``."""
    for case in cases:
        path = data_dir / case.stream / case.file_name
        path.parent.mkdir(parents=True, exist_ok=True)
        text = "".join(
            (line.event if isinstance(line.event, str) else json.dumps(line.event)) + "\n"
            for line in case.lines
        )
        path.write_text(text, encoding="utf-8")


def markdown_table(cases: list[DriftCase]) -> str:
    """The cases as the table of docs/schema_policy.md."""
    rows = [
        "| case | the producer sends | compatible | outcome | with `strict_json_types` |"
        " valid under the schema | alert |",
        "|---|---|---|---|---|---|---|",
    ]
    for case in cases:
        valid = {line.schema_valid for line in case.lines}
        rows.append(
            f"| `{case.name}` | {case.change} | {'yes' if case.compatible else 'no'} "
            f"| {_outcome_text(case.outcome)} | {_outcome_text(case.strict_outcome)} "
            f"| {'yes' if valid == {True} else 'no' if valid == {False} else 'some lines'} "
            f"| {'yes' if case.alert else 'no'} |"
        )
    return "\n".join(rows) + "\n"


def _outcome_text(outcome: str) -> str:
    if outcome.startswith("quarantined:"):
        return f"quarantined, `{outcome.split(':', 1)[1]}`"
    return {ACCEPTED: "accepted", FLAGGED: "accepted, flagged `has_string_number`"}[outcome]
