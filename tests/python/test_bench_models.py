"""The model benchmark: command line, reference statement and a tiny full run."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb
import pytest
import yaml

from chargerlogs import bench_models
from chargerlogs.dbt_runner import MeasuredProcess

PROJECT_DIR = Path(__file__).resolve().parents[2]
L1_W = 230 * 10  # 230 V x 1000 cA on phase 1
L1_DOUBLE_W = 230 * 20  # 230 V x 2000 cA


def _flat(
    reading_id: int, measured: int, received: float, current_ca: object = 1000, **fields: object
) -> dict[str, object]:
    """A flat status line of charger 7 with the given phase-1 current; ``fields`` override."""
    line = {
        "id": reading_id,
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
        "charger_timestamp": measured,
        "server_timestamp": received,
    }
    return {**line, **fields}


def _session(session_id: int, start: int, end: int) -> dict[str, object]:
    return {
        "id": session_id,
        "charger_id": 7,
        "user_id": 1,
        "energy": 40,
        "total_cost": 0.01,
        "start_time": start,
        "end_time": end,
    }


def _write(path: Path, lines: list[object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)
    path.write_text(text, encoding="utf-8")


def write_handwritten_lines(data: Path) -> None:
    """Lines of charger 7 that exercise every rule; the expected briefings are in EXPECTED.

    Sessions: 11 (1000-2000) holds 12 (1200-1300); 13 (3000-3600) and 14 (3000-3300) start in the
    same second; 15 (4000-4100) is followed by a conflicting copy (4000-4500); 16 (5000-6000) is in
    a file that is not read.
    """
    phase_1 = {"id": 1, "temperature": 31, "ac_current_rms": 1000, "ac_voltage_rms": 230}
    nested = {
        "id": 2,
        "charger_id": 7,
        "charger_phases": [
            {"id": 3, "temperature": 25, "ac_current_rms": 0, "ac_voltage_rms": 230},
            phase_1,
            {"id": 2, "temperature": 25, "ac_current_rms": 0, "ac_voltage_rms": 230},
        ],
        "charger_timestamp": 1030,
        "server_timestamp": "1970-01-01T00:17:40.000Z",
    }
    status = [
        _flat(1, 1000, 1050.0),
        _flat(1, 1000, 1050.0),  # exact duplicate
        nested,  # phases out of order: phase 1 is the second element
        _flat(3, 1060, 1070.0, current_ca="1000 cA"),  # type drift, not a number: rejected
        _flat(4, 1400, 1450.0, current_ca=2000),  # after 12's end, inside 11; 370 s gap: no energy
        _flat(5, 1430, 1450.0, current_ca=2000),
        _flat(5, 1430, 1460.0, current_ca=3000),  # same id arriving later: dropped
        _flat(6, 1430, 1470.0, current_ca=2000),  # same measurement re-sent later: dropped
        # clocks years behind and minutes ahead: matched in the charger's clock, as the session
        _flat(7, 1500, 1500.0 + 7776001, current_ca=5000),
        _flat(8, 1600, 1200.0, current_ca=5000),
        _flat(9, 1700, 1750.0, current_ca=5000, charger_id="#7"),  # key not a number: rejected
        _flat(10, 1800, 1850.0, current_ca=5000, ac_voltage_rms_2=-230),  # negative: rejected
        '{"id": 11, "charger_id": 7, "ac_curr',  # malformed
        # phase 1 named twice: an invalid phase array, rejected
        {
            **nested,
            "id": 12,
            "charger_phases": [phase_1, phase_1],
            "charger_timestamp": 1900,
            "server_timestamp": "1970-01-01T00:31:50Z",
        },
        _flat(21, 1210, 1250.0),
        _flat(22, 1240, 1250.0),
        _flat(31, 3100, 3150.0),  # in 13 and 14: the higher id
        _flat(32, 3130, 3150.0),
        _flat(33, 3450, 3500.0),  # in 13 only
        _flat(41, 4050, 4060.0),
        _flat(42, 4300, 4310.0),  # only in the conflicting copy of 15: no session
        _flat(51, 5500, 5510.0),  # only in the session that is not read
    ]
    _write(data / "charger_log_status" / "charger_log_status-handwritten.json", status)
    sessions = [
        _session(11, 1000, 2000),
        _session(12, 1200, 1300),
        _session(13, 3000, 3600),
        _session(14, 3000, 3300),
        _session(15, 4000, 4100),
        _session(15, 4000, 4500),
    ]
    _write(data / "charger_log_session" / "part-handwritten.json", sessions)
    _write(data / "charger_log_session" / "part-handwritten.json.bak", [_session(16, 5000, 6000)])


L1_FIVEFOLD_W = 230 * 50  # 230 V x 5000 cA

# session id: readings, measured energy (Wh), peak power (W), max phase-1 temperature (C)
EXPECTED = {
    11: (
        6,
        (L1_W + L1_W) / 2 * 30 / 3600  # 1000 -> 1030; then a 370 s gap: not measured
        + (L1_DOUBLE_W + L1_DOUBLE_W) / 2 * 30 / 3600  # 1400 -> 1430
        + (L1_DOUBLE_W + L1_FIVEFOLD_W) / 2 * 70 / 3600  # 1430 -> 1500
        + (L1_FIVEFOLD_W + L1_FIVEFOLD_W) / 2 * 100 / 3600,  # 1500 -> 1600
        L1_FIVEFOLD_W,
        31,
    ),
    12: (2, L1_W * 30 / 3600, L1_W, 30),
    13: (1, 0.0, L1_W, 30),
    14: (2, L1_W * 30 / 3600, L1_W, 30),
    15: (1, 0.0, L1_W, 30),
}


def _figures(output: str) -> dict[str, str]:
    """The ``name: value`` lines of the report (indented detail lines left out)."""
    figures = {}
    for line in output.splitlines():
        if line and not line.startswith(" ") and ": " in line:
            name, value = line.split(": ", 1)
            figures[name] = value
    return figures


def _briefings(data: Path, **overrides: object) -> dict[int, tuple[object, ...]]:
    variables = {**bench_models.reference_variables(data), **overrides}
    con = duckdb.connect()
    try:
        bench_models.create_reference_briefings(con, variables)
        rows = con.execute(
            "select session_id, reading_count, measured_energy_wh, peak_power_w,"
            " max_temperature_l1_c, max_current_l2_a, avg_current_l1_a from reference_briefings"
        ).fetchall()
    finally:
        con.close()
    return {row[0]: row[1:] for row in rows}


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


def test_reference_variables_are_the_input_globs_and_the_project_vars(tmp_path: Path) -> None:
    project_vars = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text())["vars"]
    assert bench_models.reference_variables(tmp_path) == {
        "status_files": f"{tmp_path}/charger_log_status/*.json*",
        "session_files": f"{tmp_path}/charger_log_session/*.json*",
        "max_integration_gap_s": project_vars["max_integration_gap_s"],
    }


def test_reference_statement_applies_the_briefing_rules(tmp_path: Path) -> None:
    """Layouts, type drift, both de-duplications, wrong clocks, session windows, the gap."""
    write_handwritten_lines(tmp_path)
    briefings = _briefings(tmp_path)
    assert sorted(briefings) == sorted(EXPECTED)
    for session_id, (readings, energy, peak, max_temperature) in EXPECTED.items():
        row = briefings[session_id]
        assert row[0] == readings, session_id
        assert row[1] == pytest.approx(energy), session_id
        assert row[2] == pytest.approx(peak), session_id
        assert row[3] == max_temperature, session_id
        assert row[4] == 0, session_id
    assert briefings[11][5] == pytest.approx((10 + 10 + 20 + 20 + 50 + 50) / 6)


def test_reference_statement_reads_the_gap_var(tmp_path: Path) -> None:
    """With a limit below the 30 s cadence, no interval is integrated."""
    write_handwritten_lines(tmp_path)
    briefings = _briefings(tmp_path, max_integration_gap_s=29)
    assert {session_id: row[1] for session_id, row in briefings.items()} == dict.fromkeys(
        EXPECTED, 0.0
    )


def test_statement_seconds_are_the_last_line_of_the_reference_output() -> None:
    """Before the seconds, DuckDB may have drawn a progress bar (a statement over 2 s)."""
    stdout = (
        "\n 57% \u2595\u2588\u2588\u258f (~1 second remaining)     "
        "\n100% \u2595\u2588\u2588\u2588\u258f (00:00:07.18 elapsed)     \n7.2074\n"
    )
    reference = MeasuredProcess(
        ["python"], 0, stdout, "", label="the reference statement", seconds=7.4, max_rss_mib=1.0
    )
    assert bench_models.statement_seconds(reference) == 7.2074


def test_tiny_run_prints_parsable_figures_and_agrees(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A generated fleet plus the hand-written lines: the models and the statement agree."""
    data = tmp_path / "data"
    subprocess.run(
        [sys.executable, "-m", "chargerlogs.generate", "--out", str(data)]
        + ["--chargers", "2", "--days", "2", "--quiet"],
        check=True,
        cwd=PROJECT_DIR,
    )
    manifest = json.loads((data / "_generator" / "manifest.json").read_text())
    write_handwritten_lines(data)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))

    assert bench_models.main(["--data", str(data), "--threads", "2"]) == 0

    output = capsys.readouterr().out
    figures = _figures(output)
    # the hand-written files add 22 status lines and 6 session lines (the .json.bak is not read)
    assert int(figures["status lines"]) == manifest["charger_log_status"]["lines"] + 22
    assert int(figures["session lines"]) == manifest["charger_log_session"]["lines"] + 6
    models_s = float(figures["models wall seconds"])
    reference_s = float(figures["reference wall seconds"])
    assert models_s > 0 and reference_s > float(figures["reference statement seconds"]) > 0
    status_lines = int(figures["status lines"])
    # seconds are printed to 0.01 s: the rates and the ratio must fall in what that rounding allows
    for label, seconds in (("models", models_s), ("reference", reference_s)):
        rate = int(figures[f"{label} lines per second"])
        assert status_lines / (seconds + 0.005) - 1 <= rate <= status_lines / (seconds - 0.005) + 1
    ratio = float(figures["ratio models/reference"])
    assert (models_s - 0.005) / (reference_s + 0.005) - 0.01 <= ratio
    assert ratio <= (models_s + 0.005) / (reference_s - 0.005) + 0.01
    path_label = next(name for name in figures if name.startswith("briefing path execution"))
    assert path_label == (
        "briefing path execution seconds (fct_session_briefings and the models it reads, 16 models)"
    )
    path_s = float(figures[path_label])
    assert 0 < path_s <= float(figures["models execution seconds (sum over models)"])
    path_ratio = float(figures["ratio briefing path/reference"])
    assert (path_s - 0.005) / (reference_s + 0.005) - 0.01 <= path_ratio
    assert path_ratio <= (path_s + 0.005) / (reference_s - 0.005) + 0.01
    assert float(figures["models peak rss MiB"]) > 0
    assert float(figures["reference peak rss MiB"]) > 0
    match = re.fullmatch(r"models (\d+), reference (\d+)", figures["sessions with readings"])
    assert match
    model_sessions, reference_sessions = int(match.group(1)), int(match.group(2))
    generated_sessions = manifest["charger_log_session"]["clean_rows"]
    assert model_sessions == reference_sessions
    assert len(EXPECTED) < model_sessions <= len(EXPECTED) + generated_sessions
    difference = figures["measured energy kWh"].rsplit("difference ", 1)[1]
    assert float(difference.rstrip("%")) < 0.01
    assert figures["equal reading counts"] == (
        f"{model_sessions} of {model_sessions} sessions (100.00%)"
    )
    assert figures["agreement"] == "ok"
    lines = output.splitlines()
    header = lines.index("costliest 5 models (run_results.json):")
    costliest = [
        re.fullmatch(r"  ([\w.]+): ([0-9.]+) s, ([0-9.]+)%", line)
        for line in lines[header + 1 : header + 6]
    ]
    assert all(costliest)
    seconds = [float(match.group(2)) for match in costliest if match]
    assert seconds == sorted(seconds, reverse=True)
    assert data.is_dir()
    assert list(scratch.iterdir()) == []


def _node(resource_type: str, name: str, parents: list[str], **fields: object) -> dict[str, object]:
    node = {"resource_type": resource_type, "name": name, "depends_on": {"nodes": parents}}
    return {**node, **fields}


def test_briefing_path_is_the_compared_marts_lineage(tmp_path: Path) -> None:
    """The latest version of the compared mart and every model above it, nothing beside it."""
    nodes = {
        "seed.p.reasons": _node("seed", "reasons", []),
        "model.p.stg": _node("model", "stg", ["source.p.lines"]),
        "model.p.classified": _node("model", "classified", ["model.p.stg", "seed.p.reasons"]),
        "model.p.sessions": _node("model", "sessions", ["model.p.classified"]),
        "model.p.anomalies": _node("model", "anomalies", ["model.p.classified"]),
        "model.p.fct_session_briefings.v1": _node(
            "model", "fct_session_briefings", ["model.p.sessions"], version=1, latest_version=2
        ),
        "model.p.fct_session_briefings.v2": _node(
            "model",
            "fct_session_briefings",
            ["model.p.fct_session_briefings.v1", "model.p.classified"],
            version=2,
            latest_version=2,
        ),
        "model.p.fct_anomalies": _node("model", "fct_anomalies", ["model.p.anomalies"]),
        "test.p.unique_briefings": _node(
            "test", "unique_briefings", ["model.p.fct_session_briefings.v2"]
        ),
    }
    (tmp_path / "manifest.json").write_text(json.dumps({"nodes": nodes}), encoding="utf-8")
    assert bench_models.compared_model_lineage(tmp_path) == [
        "classified",
        "fct_session_briefings.v1",
        "fct_session_briefings.v2",
        "sessions",
        "stg",
    ]


def test_model_names_keep_their_version() -> None:
    assert bench_models.model_name("model.p.fct_session_briefings.v2") == "fct_session_briefings.v2"
    assert bench_models.model_name("model.p.stg") == "stg"
