"""The model benchmark's machinery: command line, reference statement and a tiny full run."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb
import pytest

from chargerlogs import bench_models

PROJECT_DIR = Path(__file__).resolve().parents[2]


def _figures(output: str) -> dict[str, str]:
    """The ``name: value`` lines of the report (indented detail lines left out)."""
    figures = {}
    for line in output.splitlines():
        if line and not line.startswith(" ") and ": " in line:
            name, value = line.split(": ", 1)
            figures[name] = value
    return figures


def _flat(event_id: int, epoch: int, server: float, current_ca: object = 1000) -> str:
    return json.dumps(
        {
            "id": event_id,
            "charger_id": 7,
            "ac_current_rms_1": current_ca,
            "ac_current_rms_2": 0,
            "ac_current_rms_3": 0,
            "ac_voltage_rms_1": 230,
            "ac_voltage_rms_2": 230,
            "ac_voltage_rms_3": 230,
            "temperature_1": 30,
            "temperature_2": 25,
            "temperature_3": 25,
            "charger_timestamp": epoch,
            "server_timestamp": server,
        }
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["--chargers", "0"],
        ["--threads", "two"],
        ["--data", "/nonexistent/charger-data"],
        ["--data", ".", "--days", "2"],
        ["--unknown-option"],
    ],
)
def test_bad_argument_exits_2_with_one_line(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as raised:
        bench_models.main(argv)
    assert raised.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"{bench_models.PROG}: error: ")


def test_reference_statement_applies_the_briefing_rules(tmp_path: Path) -> None:
    """Layouts, phase order, type drift, both de-duplications and the integration gap."""
    status = tmp_path / "charger_log_status"
    sessions = tmp_path / "charger_log_session"
    status.mkdir()
    sessions.mkdir()
    nested = {
        "id": 2,
        "charger_id": 7,
        "charger_phases": [
            {"id": 3, "temperature": 25, "ac_current_rms": 0, "ac_voltage_rms": 230},
            {"id": 1, "temperature": 31, "ac_current_rms": 1000, "ac_voltage_rms": 230},
            {"id": 2, "temperature": 25, "ac_current_rms": 0, "ac_voltage_rms": 230},
        ],
        "charger_timestamp": 1030,
        "server_timestamp": "1970-01-01T00:17:40.000Z",
    }
    lines = [
        _flat(1, 1000, 1050.0),
        _flat(1, 1000, 1050.0),  # exact duplicate
        _flat(3, 1060, 1070.0, current_ca="1000"),  # type drift: rejected
        _flat(4, 1400, 1450.0),  # 370 s after the previous kept sample: not integrated
        _flat(5, 1430, 1450.0),
        _flat(6, 1430, 1460.0, current_ca=2000),  # same measurement re-sent later: dropped
        '{"id": 8, "charger_id": 7, "ac_curr',  # malformed
        _flat(9, 2500, 2550.0),  # after the session
    ]
    (status / "charger_log_status-00001.json").write_text("\n".join(lines) + "\n")
    (status / "part-00000-x.json").write_text(json.dumps(nested) + "\n")
    (sessions / "part-00000-x.json").write_text(
        json.dumps(
            {
                "id": 11,
                "charger_id": 7,
                "user_id": 1,
                "energy": 40,
                "total_cost": 0.01,
                "start_time": 1000,
                "end_time": 2000,
            }
        )
        + "\n"
    )
    con = duckdb.connect()
    con.execute(bench_models.reference_sql(tmp_path, 300))
    row = con.execute(
        "select session_id, sample_count, telemetry_energy_wh, final_accumulated_energy_wh,"
        " peak_power_w, max_temperature_l1_c, max_current_l2_a from reference_briefings"
    ).fetchall()
    assert len(row) == 1
    session_id, samples, energy, accumulated, peak, max_temperature, max_current_l2 = row[0]
    assert (session_id, samples) == (11, 4)
    assert energy == pytest.approx(2 * 2300 * 30 / 3600)
    assert accumulated == pytest.approx(energy)
    assert peak == pytest.approx(2300)
    assert max_temperature == 31
    assert max_current_l2 == 0


def test_tiny_run_prints_parsable_figures_and_agrees(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    subprocess.run(
        [sys.executable, "-m", "chargerlogs.generate", "--out", str(data)]
        + ["--chargers", "2", "--days", "2", "--quiet"],
        check=True,
        cwd=PROJECT_DIR,
    )
    manifest = json.loads((data / "_generator" / "manifest.json").read_text())
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))

    assert bench_models.main(["--data", str(data), "--threads", "2"]) == 0

    output = capsys.readouterr().out
    figures = _figures(output)
    assert int(figures["status lines"]) == manifest["charger_log_status"]["lines"]
    assert int(figures["session lines"]) == manifest["charger_log_session"]["lines"]
    models_s = float(figures["models wall seconds"])
    reference_s = float(figures["reference wall seconds"])
    assert models_s > 0 and reference_s > 0
    status_lines = int(figures["status lines"])
    # seconds are printed to 0.01 s: the rates and the ratio must fall in what that rounding allows
    for label, seconds in (("models", models_s), ("reference", reference_s)):
        rate = int(figures[f"{label} rows per second"])
        assert status_lines / (seconds + 0.005) - 1 <= rate <= status_lines / (seconds - 0.005) + 1
    ratio = float(figures["ratio models/reference"])
    assert (models_s - 0.005) / (reference_s + 0.005) - 0.01 <= ratio
    assert ratio <= (models_s + 0.005) / (reference_s - 0.005) + 0.01
    assert float(figures["models peak rss MiB"]) > 0
    sessions = figures["sessions with telemetry"]
    assert sessions.startswith("models ")
    model_sessions, reference_sessions = (int(part.split()[-1]) for part in sessions.split(","))
    assert model_sessions == reference_sessions > 0
    difference = figures["telemetry energy kWh"].rsplit("difference ", 1)[1]
    assert float(difference.rstrip("%")) < 0.5
    assert figures["equal sample counts"].startswith(f"{model_sessions} of {model_sessions} ")
    assert figures["agreement"] == "ok"
    lines = output.splitlines()
    header = lines.index("costliest 5 models (run_results.json):")
    costliest = [
        re.fullmatch(r"  (\w+): ([0-9.]+) s, ([0-9.]+)%", line)
        for line in lines[header + 1 : header + 6]
    ]
    assert all(costliest)
    seconds = [float(match.group(2)) for match in costliest if match]
    assert seconds == sorted(seconds, reverse=True)
    assert data.is_dir()
    assert list(scratch.iterdir()) == []
