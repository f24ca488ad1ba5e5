"""Line-level defects: which rows get one (disjoint), and how a clean line is spoilt."""

from __future__ import annotations

import json

import numpy as np

# Line defects of the status stream; codes index this tuple plus one (0 = none).
STATUS_LINE_DEFECTS = (
    "malformed_json",
    "missing_key_field",
    "type_mismatch",
    "out_of_range",
    "null_measurement",
    "unknown_field",
)
SESSION_LINE_DEFECTS = ("malformed_json", "missing_key_field", "type_mismatch", "end_before_start")
UNKNOWN_FIELDS = ("firmware_version", "signal_strength_dbm", "meter_serial")
STATUS_KEYS = ("id", "charger_id", "charger_timestamp")
SESSION_KEYS = ("id", "charger_id", "start_time", "end_time")
MEASUREMENTS = ("ac_current_rms", "ac_voltage_rms", "temperature")
# The unit a type-mismatched value is written with: a string that is not exactly a number (a
# number written as a bare string, such as "231", is a compatible change the warehouse reads).
UNITS = {
    "ac_current_rms": "cA",
    "ac_voltage_rms": "V",
    "temperature": "C",
    "energy": "Wh",
    "total_cost": "EUR",
}


def split_pool(pool: np.ndarray, counts: list[int]) -> list[np.ndarray]:
    """Cut consecutive, disjoint slices of the given sizes from ``pool`` (clipped to its end)."""
    out = []
    first = 0
    for count in counts:
        out.append(pool[first : first + count])
        first += count
    return out


def truncate(line: str, rng: np.random.Generator) -> str:
    """The line cut at a random character before its end: never valid JSON."""
    return line[: int(rng.integers(1, len(line)))]


def _phase_fields(record: dict, phase: int) -> tuple[dict, str]:
    """The dict holding a phase's measurements and the key prefix used in it."""
    if "charger_phases" in record:
        for element in record["charger_phases"]:
            if element["id"] == phase:
                return element, ""
    return record, f"_{phase}"


def spoil_status(line: str, defect: str, phases: int, rng: np.random.Generator) -> str:
    """Apply one status line defect to a clean line."""
    if defect == "malformed_json":
        return truncate(line, rng)
    record = json.loads(line)
    if defect == "missing_key_field":
        key = STATUS_KEYS[int(rng.integers(len(STATUS_KEYS)))]
        _null_or_drop(record, key, rng)
    elif defect == "unknown_field":
        name = UNKNOWN_FIELDS[int(rng.integers(len(UNKNOWN_FIELDS)))]
        record[name] = _unknown_value(name, rng)
    else:
        phase = int(rng.integers(phases)) + 1
        holder, suffix = _phase_fields(record, phase)
        if defect == "out_of_range":
            key = MEASUREMENTS[int(rng.integers(2))] + suffix
            holder[key] = -abs(holder[key]) - int(rng.integers(1, 500))
        else:
            key = MEASUREMENTS[int(rng.integers(3))] + suffix
            if defect == "type_mismatch":
                holder[key] = _not_a_number(holder[key], key.removesuffix(suffix), rng)
            else:
                _null_or_drop(holder, key, rng)
    return json.dumps(record)


def spoil_session(line: str, defect: str, rng: np.random.Generator) -> str:
    """Apply one session line defect to a clean line."""
    if defect == "malformed_json":
        return truncate(line, rng)
    record = json.loads(line)
    if defect == "missing_key_field":
        _null_or_drop(record, SESSION_KEYS[int(rng.integers(len(SESSION_KEYS)))], rng)
    elif defect == "type_mismatch":
        key = ("energy", "total_cost")[int(rng.integers(2))]
        record[key] = _not_a_number(record[key], key, rng)
    else:
        record["start_time"], record["end_time"] = record["end_time"], record["start_time"]
    return json.dumps(record)


def _not_a_number(value: object, field: str, rng: np.random.Generator) -> str:
    """A value turned into a string that is not a number: "n/a", or the value with its unit."""
    return "n/a" if rng.random() < 0.5 else f"{value} {UNITS[field]}"


def _null_or_drop(record: dict, key: str, rng: np.random.Generator) -> None:
    if rng.random() < 0.5:
        record[key] = None
    else:
        del record[key]


def _unknown_value(name: str, rng: np.random.Generator) -> object:
    if name == "firmware_version":
        return f"{int(rng.integers(1, 5))}.{int(rng.integers(0, 10))}.{int(rng.integers(0, 20))}"
    if name == "signal_strength_dbm":
        return -int(rng.integers(40, 100))
    return f"MS-{int(rng.integers(100_000, 1_000_000))}"
