"""The dashboard in a real browser: Debian's Chromium, headless, driven by Playwright.

The app runs under uvicorn on a free localhost port against the store of fixture
``portal_store``. The tests sign in, read the tiles and compare them with the marts, check that the
chart drew every series and every big change, download a profile, and open another user's session.
Screenshots go to build/. Chromium missing is a failure, not a skip (``make test`` installs it).
"""

from __future__ import annotations

import math
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import uvicorn
from conftest import PROJECT_DIR, PortalStore, query, query_dicts
from playwright.sync_api import Browser, Page, sync_playwright

from chargerlogs.serving.app import create_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = PROJECT_DIR / "build"
ZONE = ZoneInfo("Europe/Madrid")
PROFILE_SERIES = [
    "power_w",
    "accumulated_energy_wh",
    *(
        f"{measure}_{phase}_{unit}"
        for measure, unit in (("current", "a"), ("voltage", "v"), ("temperature", "c"))
        for phase in ("l1", "l2", "l3")
    ),
]


@pytest.fixture(scope="module")
def base_url(portal_store: PortalStore) -> Iterator[str]:
    """The app under uvicorn in a thread of this process, on a free localhost port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(portal_store.app), host="127.0.0.1", port=port, log_level="error")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the app did not start under uvicorn", pytrace=False)
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=20)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    SCREENSHOTS.mkdir(exist_ok=True)
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} not found: install Debian's chromium (make test runs "
            "scripts/install_system_packages.sh)",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture()
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    opened = context.new_page()
    problems: list[str] = []
    opened.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    # HTTP statuses are asserted by the tests themselves; anything else logged as an error (a
    # script error, a script or style refused by the Content-Security-Policy) fails the test
    opened.on(
        "console",
        lambda message: (
            problems.append(message.text)
            if message.type == "error" and not message.text.startswith("Failed to load resource")
            else None
        ),
    )
    yield opened
    context.close()
    assert problems == [], "the page reported errors (a blocked script or style shows here)"


@pytest.fixture(scope="module")
def demo(portal_store: PortalStore) -> dict:
    """The session with the most readings, its user, another user's session, and the session of a
    reset charger clock with the most energy estimated across gaps."""
    briefing = query_dicts(
        portal_store.warehouse,
        "select * from fct_session_briefings where user_id is not null "
        "order by reading_count desc, session_id limit 1",
    )[0]
    other_session = query(
        portal_store.warehouse,
        "select session_id from fct_session_briefings where user_id <> ? order by session_id "
        "limit 1",
        [briefing["user_id"]],
    )[0][0]
    clock_corrected = query_dicts(
        portal_store.warehouse,
        "select * from fct_session_briefings where is_clock_corrected and user_id is not null "
        "order by estimated_gap_energy_wh desc, session_id limit 1",
    )
    assert clock_corrected, "the default dataset has sessions of a charger whose clock was reset"
    return {
        "briefing": briefing,
        "other_session": other_session,
        "clock_corrected": clock_corrected[0],
    }


def sign_in(page: Page, base_url: str, token: str) -> None:
    page.goto(f"{base_url}/")
    page.fill("#token", token)
    page.click("#sign-in button[type=submit]")
    page.wait_for_selector("body[data-ready=true]")


def round_half_up(value: float) -> int:
    """JavaScript's Math.round for a non-negative value."""
    return math.floor(value + 0.5)


def clock_offset(seconds: int) -> str:
    """A clock offset as the page writes it: its size in the largest whole unit."""
    size = abs(seconds)
    units = ((86400, "day"), (3600, "h"), (60, "min"), (1, "s"))
    length, name = next((unit for unit in units if size >= unit[0]), units[-1])
    count = round_half_up(size / length)
    plural = "s" if name == "day" and count != 1 else ""
    return f"{count:,} {name}{plural}"


def quality_labels(briefing: dict) -> list[str]:
    """The data-quality badges the page shows for a briefing, in the page's order."""
    labels = [
        ("no telemetry", briefing["has_no_telemetry"]),
        ("sparse telemetry", briefing["has_sparse_telemetry"]),
        ("lost-telemetry shortfall", briefing["is_shortfall_from_lost_telemetry"]),
        ("energy mismatch", briefing["has_energy_mismatch"]),
        ("overlapping session", briefing["is_overlapping"]),
        (
            f"charger clock corrected by {clock_offset(briefing['clock_offset_s'])}",
            briefing["is_clock_corrected"],
        ),
        ("missing measurements", briefing["missing_measurement_reading_count"] > 0),
    ]
    return [label for label, is_set in labels if is_set] or ["clean"]


def fixed(value: float, decimals: int) -> str:
    """JavaScript's Number.prototype.toFixed: the exact binary value, ties away from zero."""
    return str(Decimal(value).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP))


def local_minute(moment) -> str:
    return moment.replace(tzinfo=UTC).astimezone(ZONE).strftime("%Y-%m-%d %H:%M")


def duration(seconds: int) -> str:
    return f"{seconds // 3600} h {(seconds % 3600) // 60:02d} min"


def kwh(wh: float) -> str:
    return f"{fixed(wh / 1000, 2)} kWh"


def expected_tiles(briefing: dict) -> dict[str, str]:
    """The value of every tile of the session page, from the briefing (true times)."""
    return {
        "start": local_minute(briefing["corrected_started_at"]),
        "end": local_minute(briefing["corrected_ended_at"]),
        "session_time": duration(briefing["session_duration_s"]),
        "active_charging": duration(briefing["active_charging_s"]),
        "energy_reported": kwh(briefing["reported_energy_wh"]),
        "energy_telemetry": kwh(briefing["telemetry_energy_wh"]),
        "energy_measured": kwh(briefing["measured_energy_wh"]),
        "energy_estimated": kwh(briefing["estimated_gap_energy_wh"]),
        "cost": f"{fixed(briefing['total_cost_eur'], 2)} EUR",
        "unit_price": f"{fixed(briefing['unit_price_eur_per_kwh'], 3)} EUR/kWh",
        "peak_power": f"{fixed(briefing['peak_power_w'] / 1000, 2)} kW",
        "avg_power": f"{fixed(briefing['avg_charging_power_w'] / 1000, 2)} kW",
        "phases": str(briefing["phases_used"]),
        "quality": "".join(quality_labels(briefing)),
    }


def expected_tile_details(briefing: dict) -> dict[str, str]:
    """The explanatory line under the energy tiles."""
    gaps = briefing["estimated_gap_count"]
    ratio = briefing["energy_ratio"]
    return {
        "energy_telemetry": "nothing reported to compare"
        if ratio is None
        else f"{fixed(ratio * 100, 1)} % of reported",
        "energy_estimated": (
            "missing values carried"
            if briefing["estimated_gap_energy_wh"] > 0
            else "no telemetry gap bridged"
        )
        if gaps == 0
        else f"across {gaps} telemetry gap{'' if gaps == 1 else 's'}",
        "quality": f"{briefing['reading_count']} readings",
    }


def test_session_list_after_sign_in(
    page: Page, base_url: str, portal_store: PortalStore, demo: dict
) -> None:
    user_id = demo["briefing"]["user_id"]
    sign_in(page, base_url, portal_store.tokens[user_id])
    sessions = query(
        portal_store.warehouse,
        "select session_id from fct_session_briefings where user_id = ?",
        [user_id],
    )
    rows = page.locator("#sessions tbody tr")
    assert rows.count() == len(sessions)
    shown = {int(rows.nth(index).get_attribute("data-session-id")) for index in range(rows.count())}
    assert shown == {session_id for (session_id,) in sessions}
    assert page.locator("#monthly-totals tbody tr").count() >= 1
    assert page.locator("#sign-in").is_hidden()
    page.screenshot(path=str(SCREENSHOTS / "dashboard_sessions.png"), full_page=True)


def open_session(page: Page, base_url: str, session_id: int) -> None:
    """From the signed-in session list, follow the link to one session's page."""
    page.click(f"#sessions tr[data-session-id='{session_id}'] a")
    page.wait_for_url(f"**/sessions/{session_id}")
    page.wait_for_selector("body[data-ready=true]")


def assert_page_equals_the_marts(page: Page, store: PortalStore, briefing: dict) -> list[dict]:
    """Tiles, chart series and big changes of the open session page against the marts; returns
    the session's readings."""
    session_id = briefing["session_id"]
    for tile, expected in expected_tiles(briefing).items():
        shown = page.locator(f"[data-tile={tile}] .tile-value").inner_text()
        assert shown.replace("\n", "") == expected, tile
    for tile, expected in expected_tile_details(briefing).items():
        assert page.locator(f"[data-tile={tile}] .tile-detail").inner_text() == expected, tile

    readings = query_dicts(
        store.warehouse,
        "select * from fct_charging_profiles where session_id = ? order by reading_seq",
        [session_id],
    )
    assert int(page.locator("#chart").get_attribute("data-readings")) == len(readings)
    for series in PROFILE_SERIES:
        path = page.locator(f"path[data-series={series}]")
        expected_points = sum(1 for row in readings if row[series] is not None)
        assert int(path.get_attribute("data-points")) == expected_points, series
        if expected_points:
            assert len(path.get_attribute("d")) > expected_points * 5, series
    # the estimated part of the accumulated energy: a hatched band over every reading when the
    # session has any, and a dashed bridge (two points) over each gap whose energy was estimated
    band = page.locator("path[data-series=accumulated_estimated_energy_wh]")
    has_estimate = any(row["accumulated_estimated_energy_wh"] > 0 for row in readings)
    assert has_estimate == (briefing["estimated_gap_energy_wh"] > 0)
    assert int(band.get_attribute("data-points")) == (len(readings) if has_estimate else 0)
    bridges = page.locator("path[data-series=interval_estimated_energy_wh]")
    bridged_gaps = sum(
        1 for row in readings if row["is_gap_before"] and row["interval_estimated_energy_wh"] > 0
    )
    assert bridged_gaps == briefing["estimated_gap_count"]
    assert int(bridges.get_attribute("data-points")) == 2 * bridged_gaps

    changes = query(
        store.warehouse,
        "select count(*) from rpt_big_changes where session_id = ?",
        [session_id],
    )[0][0]
    assert page.locator("svg .big-change").count() == changes
    assert page.locator("#big-changes tbody tr").count() == changes
    assert page.locator("#in-progress").is_hidden()
    anomalies = query(
        store.warehouse, "select count(*) from fct_anomalies where session_id = ?", [session_id]
    )[0][0]
    assert page.locator("svg .anomaly-band").count() == anomalies
    assert int(page.locator("#chart").get_attribute("data-anomalies")) == anomalies
    assert page.locator("#anomalies tbody tr").count() == anomalies
    assert page.locator("#anomalies-none").is_visible() == (anomalies == 0)
    return readings


def test_session_page_tiles_and_chart_equal_the_marts(
    page: Page, base_url: str, portal_store: PortalStore, demo: dict
) -> None:
    briefing = demo["briefing"]
    sign_in(page, base_url, portal_store.tokens[briefing["user_id"]])
    open_session(page, base_url, briefing["session_id"])
    readings = assert_page_equals_the_marts(page, portal_store, briefing)

    page.hover("svg .overlay", position={"x": 300, "y": 100})
    assert " kW · " in page.locator(".readout").inner_text()

    with page.expect_download() as download:
        page.click("#download-profile")
    lines = Path(download.value.path()).read_text().splitlines()
    assert len(lines) == len(readings) + 1
    assert lines[0].startswith("corrected_measured_at,reading_seq,elapsed_s")


def test_a_reset_clock_session_shows_true_times_and_its_estimated_energy(
    page: Page, base_url: str, portal_store: PortalStore, demo: dict
) -> None:
    briefing = demo["clock_corrected"]
    session_id = briefing["session_id"]
    charger_year = str(briefing["started_at"].year)
    true_year = str(briefing["corrected_started_at"].year)
    assert charger_year != true_year, "the charger's clock is years off"
    assert briefing["estimated_gap_energy_wh"] > 0
    sign_in(page, base_url, portal_store.tokens[briefing["user_id"]])

    # the list: every start and end in true time, and no month of the charger's clock
    sessions = query_dicts(
        portal_store.warehouse,
        "select * from fct_session_briefings where user_id = ?",
        [briefing["user_id"]],
    )
    for session in sessions:
        cells = page.locator(f"#sessions tr[data-session-id='{session['session_id']}'] td")
        assert cells.nth(0).inner_text() == local_minute(session["corrected_started_at"])
        assert cells.nth(1).inner_text() == local_minute(session["corrected_ended_at"])
    for text in (
        page.locator("#sessions tbody").inner_text(),
        page.locator("#monthly-totals tbody").inner_text(),
        page.locator("#chargers tbody").inner_text(),
    ):
        assert charger_year not in text and true_year in text

    open_session(page, base_url, session_id)
    page.screenshot(path=str(SCREENSHOTS / "dashboard_session.png"), full_page=True)
    readings = assert_page_equals_the_marts(page, portal_store, briefing)
    badge = page.locator("[data-tile=quality] .badge", has_text="charger clock corrected")
    assert (
        badge.inner_text()
        == f"charger clock corrected by {clock_offset(briefing['clock_offset_s'])}"
    )
    assert "true times" in badge.get_attribute("title")

    # every time on the page is true time: tiles, the chart's time axis, the big changes
    for tile in ("start", "end"):
        assert page.locator(f"[data-tile={tile}] .tile-value").inner_text().startswith(true_year)
    start_day = briefing["corrected_started_at"].replace(tzinfo=UTC).astimezone(ZONE).date()
    end_day = briefing["corrected_ended_at"].replace(tzinfo=UTC).astimezone(ZONE).date()
    dates = page.locator("svg text.date").all_text_contents()
    assert dates
    for shown in dates:
        assert start_day <= datetime.strptime(shown, "%d %b %Y").date() <= end_day, shown
    first_change = query(
        portal_store.warehouse,
        "select corrected_measured_at from rpt_big_changes where session_id = ? "
        "order by reading_seq, measure, phase limit 1",
        [session_id],
    )[0][0]
    shown_time = page.locator("#big-changes tbody tr td").first.text_content()
    assert shown_time == first_change.replace(tzinfo=UTC).astimezone(ZONE).strftime("%H:%M:%S")
    assert charger_year not in page.locator("#tiles").inner_text()

    # the estimated energy is drawn apart from the measured: hatched band, dashed bridges
    band = page.locator("path[data-series=accumulated_estimated_energy_wh]")
    assert band.get_attribute("fill") == "url(#estimated-energy-hatch)"
    assert page.locator("pattern#estimated-energy-hatch").count() == 1
    dashes = page.eval_on_selector_all(
        "path[data-series=interval_estimated_energy_wh], path[data-series=accumulated_energy_wh]",
        "paths => paths.map((path) => getComputedStyle(path).strokeDasharray)",
    )
    assert dashes[0] != "none" and dashes[1] == "none", dashes
    assert "estimated across telemetry gaps" in page.locator("#legend").inner_text()
    # the read-out at the last reading gives the accumulated energy and its estimated part
    overlay = page.locator("svg .overlay").bounding_box()
    page.mouse.move(overlay["x"] + overlay["width"] - 1, overlay["y"] + 50)
    last = readings[-1]
    assert (
        f"{kwh(last['accumulated_energy_wh'])} "
        f"({fixed(last['accumulated_estimated_energy_wh'] / 1000, 2)} estimated)"
    ) in page.locator(".readout").inner_text()


def test_a_sessions_anomalies_are_marked_on_its_chart_and_listed(
    page: Page, base_url: str, portal_store: PortalStore, demo: dict
) -> None:
    anomalies = query_dicts(
        portal_store.warehouse,
        "select anomalies.* from fct_anomalies as anomalies "
        "inner join fct_session_briefings as briefings using (session_id) "
        "where briefings.session_id = ("
        "    select briefings.session_id from fct_session_briefings as briefings "
        "    where briefings.user_id is not null and exists ("
        "        select 1 from fct_anomalies where fct_anomalies.session_id = briefings.session_id"
        "    ) order by briefings.reading_count desc, briefings.session_id limit 1"
        ") order by anomalies.started_at, anomalies.anomaly_id",
    )
    assert anomalies, "the default dataset has anomalies in sessions"
    session_id = anomalies[0]["session_id"]
    briefing = query_dicts(
        portal_store.warehouse,
        "select * from fct_session_briefings where session_id = ?",
        [session_id],
    )[0]
    sign_in(page, base_url, portal_store.tokens[briefing["user_id"]])
    page.goto(f"{base_url}/sessions/{session_id}")
    page.wait_for_selector("body[data-ready=true]")
    assert_page_equals_the_marts(page, portal_store, briefing)
    page.screenshot(path=str(SCREENSHOTS / "dashboard_session_anomalies.png"), full_page=True)

    panels = {
        "voltage_v": "voltage",
        "temperature_c": "temperature",
        "current_a": "current",
        "energy_wh": "power",
    }
    start = briefing["corrected_started_at"]
    duration_s = briefing["session_duration_s"]
    for anomaly in anomalies:
        band = page.locator(f"svg .anomaly-band[data-anomaly-id='{anomaly['anomaly_id']}']")
        assert band.count() == 1
        # on the panel of its measure, with its kind, phase and severity
        panel = band.locator("xpath=..")
        assert panel.get_attribute("data-panel") == panels[anomaly["measure"]]
        assert band.get_attribute("data-kind") == anomaly["kind"]
        assert band.get_attribute("data-severity") == anomaly["severity"]
        assert band.get_attribute("class") == f"anomaly-band {anomaly['severity']}"
        assert band.get_attribute("data-phase") == (anomaly["phase"] or "")
        # over its span: the band's share of the plot width is the anomaly's share of the session
        area = panel.locator(".plot-area").bounding_box()
        box = band.bounding_box()
        offset_s = min(max((anomaly["started_at"] - start).total_seconds(), 0), duration_s)
        assert box["x"] - area["x"] == pytest.approx(area["width"] * offset_s / duration_s, abs=3)
        span_s = min((anomaly["ended_at"] - start).total_seconds(), duration_s) - offset_s
        assert box["width"] == pytest.approx(max(area["width"] * span_s / duration_s, 3), abs=3)
        tooltip = band.locator("title").text_content()
        assert anomaly["kind"].replace("_", " ") in tooltip and anomaly["severity"] in tooltip
        assert f"worst {anomaly['extreme_value']:.0f}"[:8] in tooltip
        # and a row in the list under the chart
        row = page.locator(f"#anomalies tr[data-anomaly-id='{anomaly['anomaly_id']}'] td")
        assert row.nth(2).inner_text() == anomaly["kind"].replace("_", " ") + (
            f" {anomaly['phase']}" if anomaly["phase"] else ""
        )
        assert row.nth(3).inner_text() == anomaly["severity"]
        assert row.nth(5).inner_text() == anomaly["detectors"]
    severities = {anomaly["severity"] for anomaly in anomalies}
    legend = page.locator("#legend").inner_text()
    for severity in ("warning", "critical"):
        assert (f"Anomaly ({severity})" in legend) == (severity in severities)

    # a session without anomalies: no band, no legend entry, the list says so
    quiet = demo["briefing"]
    assert not query(
        portal_store.warehouse,
        "select 1 from fct_anomalies where session_id = ?",
        [quiet["session_id"]],
    )
    page.evaluate("() => window.sessionStorage.clear()")
    sign_in(page, base_url, portal_store.tokens[quiet["user_id"]])
    page.goto(f"{base_url}/sessions/{quiet['session_id']}")
    page.wait_for_selector("body[data-ready=true]")
    assert page.locator("svg .anomaly-band").count() == 0
    assert page.locator("#chart").get_attribute("data-anomalies") == "0"
    assert "Anomaly" not in page.locator("#legend").inner_text()
    assert page.locator("#anomalies-none").is_visible()
    assert page.locator("#anomalies").is_hidden()
    assert page.locator("#anomalies-summary").inner_text() == "Anomalies: 0"


def test_another_users_session_is_refused(
    page: Page, base_url: str, portal_store: PortalStore, demo: dict
) -> None:
    sign_in(page, base_url, portal_store.tokens[demo["briefing"]["user_id"]])
    other = demo["other_session"]
    with page.expect_response(f"**/api/sessions/{other}") as response:
        page.goto(f"{base_url}/sessions/{other}")
    assert response.value.status == 404
    page.wait_for_selector("body[data-ready=error]")
    assert page.locator("#page-error").inner_text() == "Session not found."
    assert page.locator("#session").is_hidden()
    assert page.locator(".tile").count() == 0
    page.screenshot(path=str(SCREENSHOTS / "dashboard_refused.png"))


def test_a_wrong_token_is_refused(page: Page, base_url: str) -> None:
    page.goto(f"{base_url}/")
    page.fill("#token", "not-a-token")
    page.click("#sign-in button[type=submit]")
    page.wait_for_selector("#sign-in-error:visible")
    assert "invalid token" in page.locator("#sign-in-error").inner_text()
    assert page.locator("#dashboard").is_hidden()
