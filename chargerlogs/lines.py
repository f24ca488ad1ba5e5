"""JSON lines of the status stream, built from preformatted templates (no json.dumps per row)."""

from __future__ import annotations

from itertools import permutations

import numpy as np

PHASE_ORDERS: tuple[tuple[int, ...], ...] = tuple(permutations((1, 2, 3)))  # [0] is 1, 2, 3

_FLAT3 = (
    '{"id": %d, "charger_id": %d, "ac_current_rms_1": %d, "ac_current_rms_2": %d, '
    '"ac_current_rms_3": %d, "ac_voltage_rms_1": %d, "ac_voltage_rms_2": %d, '
    '"ac_voltage_rms_3": %d, "temperature_1": %d, "temperature_2": %d, "temperature_3": %d, '
    '"charger_timestamp": %d, "server_timestamp": %d.%03d}'
)
_FLAT1 = (
    '{"id": %d, "charger_id": %d, "ac_current_rms_1": %d, "ac_current_rms_2": null, '
    '"ac_current_rms_3": null, "ac_voltage_rms_1": %d, "ac_voltage_rms_2": null, '
    '"ac_voltage_rms_3": null, "temperature_1": %d, "temperature_2": null, '
    '"temperature_3": null, "charger_timestamp": %d, "server_timestamp": %d.%03d}'
)
_ELEMENT = '{"id": %d, "temperature": %%d, "ac_current_rms": %%d, "ac_voltage_rms": %%d}'


def _nested_template(order: tuple[int, ...]) -> str:
    elements = ", ".join(_ELEMENT % phase for phase in order)
    return (
        '{"id": %d, "charger_id": %d, "charger_phases": [' + elements + "], "
        '"charger_timestamp": %d, "server_timestamp": "%sZ"}'
    )


_NESTED = {order: _nested_template(order) for order in PHASE_ORDERS + ((1,),)}


def iso_ms(server_ms: np.ndarray) -> np.ndarray:
    """ISO-8601 strings with milliseconds (no zone suffix) for UNIX milliseconds."""
    return np.datetime_as_string(server_ms.astype("datetime64[ms]"), unit="ms")


def format_status(layout: str, cols: dict[str, np.ndarray]) -> list[str]:
    """Lines of the rows in ``cols`` in the given layout ("flat" or "nested").

    ``cols`` holds equal-length arrays: id, charger_id, charger_t, server_ms, phases (1 or 3),
    order (index into PHASE_ORDERS, used by the nested layout) and the (n, 3) arrays
    current_ca, voltage_v, temperature_c.
    """
    n = len(cols["id"])
    out = np.empty(n, dtype=object)
    cur, volt, temp = cols["current_ca"], cols["voltage_v"], cols["temperature_c"]
    three = cols["phases"] == 3
    if layout == "flat":
        sec, ms = np.divmod(cols["server_ms"], 1000)
        for mask, template, width in ((three, _FLAT3, 3), (~three, _FLAT1, 1)):
            idx = np.flatnonzero(mask)
            if len(idx) == 0:
                continue
            parts = [cols["id"][idx], cols["charger_id"][idx]]
            parts += [cur[idx, p] for p in range(width)]
            parts += [volt[idx, p] for p in range(width)]
            parts += [temp[idx, p] for p in range(width)]
            parts += [cols["charger_t"][idx], sec[idx], ms[idx]]
            out[idx] = [template % row for row in zip(*(a.tolist() for a in parts), strict=True)]
        return out.tolist()
    iso = iso_ms(cols["server_ms"])
    groups = [((1,), ~three)]
    groups += [(order, three & (cols["order"] == k)) for k, order in enumerate(PHASE_ORDERS)]
    for order, mask in groups:
        idx = np.flatnonzero(mask)
        if len(idx) == 0:
            continue
        parts = [cols["id"][idx], cols["charger_id"][idx]]
        for phase in order:
            parts += [temp[idx, phase - 1], cur[idx, phase - 1], volt[idx, phase - 1]]
        parts.append(cols["charger_t"][idx])
        args = [a.tolist() for a in parts] + [iso[idx].tolist()]
        out[idx] = [_NESTED[order] % row for row in zip(*args, strict=True)]
    return out.tolist()
