"""The dashboard in a real browser: Debian's Chromium, headless, driven by Playwright.

The app runs under uvicorn on a free localhost port against the store of fixture
``portal_store``. The tests sign in, read the tiles and compare them with the marts, check that the
chart drew every series and every big change, download a profile, and open another user's session.
Screenshots go to build/. Chromium missing is a failure, not a skip (``make test`` installs it).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC
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
QUALITY_LABELS = {
    "has_no_telemetry": "no telemetry",
    "has_sparse_telemetry": "sparse telemetry",
    "has_energy_mismatch": "energy mismatch",
    "is_overlapping": "overlapping session",
    "has_clock_problem": "clock problem",
    "has_missing_measurements": "missing measurements",
}
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
    """The session with the most readings, its user, and another user's session."""
    briefing = query_dicts(
        portal_store.warehouse,
        "select * from fct_session_briefings where user_id is not null "
        "order by sample_count desc, session_id limit 1",
    )[0]
    other_session = query(
        portal_store.warehouse,
        "select session_id from fct_session_briefings where user_id <> ? order by session_id "
        "limit 1",
        [briefing["user_id"]],
    )[0][0]
    return {"briefing": briefing, "other_session": other_session}


def sign_in(page: Page, base_url: str, token: str) -> None:
    page.goto(f"{base_url}/")
    page.fill("#token", token)
    page.click("#sign-in button[type=submit]")
    page.wait_for_selector("body[data-ready=true]")


def fixed(value: float, decimals: int) -> str:
    """JavaScript's Number.prototype.toFixed: the exact binary value, ties away from zero."""
    return str(Decimal(value).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP))


def local_minute(moment) -> str:
    return moment.replace(tzinfo=UTC).astimezone(ZONE).strftime("%Y-%m-%d %H:%M")


def duration(seconds: int) -> str:
    return f"{seconds // 3600} h {(seconds % 3600) // 60:02d} min"


def expected_tiles(briefing: dict) -> dict[str, str]:
    flags = [label for name, label in QUALITY_LABELS.items() if briefing[name]] or ["clean"]
    return {
        "start": local_minute(briefing["started_at"]),
        "end": local_minute(briefing["ended_at"]),
        "session_time": duration(briefing["session_duration_s"]),
        "active_charging": duration(briefing["active_charging_s"]),
        "energy_reported": f"{fixed(briefing['reported_energy_wh'] / 1000, 2)} kWh",
        "energy_measured": f"{fixed(briefing['telemetry_energy_wh'] / 1000, 2)} kWh",
        "cost": f"{fixed(briefing['total_cost_eur'], 2)} EUR",
        "unit_price": f"{fixed(briefing['unit_price_eur_per_kwh'], 3)} EUR/kWh",
        "peak_power": f"{fixed(briefing['peak_power_w'] / 1000, 2)} kW",
        "avg_power": f"{fixed(briefing['avg_charging_power_w'] / 1000, 2)} kW",
        "phases": str(briefing["phases_used"]),
        "quality": "".join(flags),
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


def test_session_page_tiles_and_chart_equal_the_marts(
    page: Page, base_url: str, portal_store: PortalStore, demo: dict
) -> None:
    briefing = demo["briefing"]
    session_id = briefing["session_id"]
    sign_in(page, base_url, portal_store.tokens[briefing["user_id"]])
    page.click(f"#sessions tr[data-session-id='{session_id}'] a")
    page.wait_for_url(f"**/sessions/{session_id}")
    page.wait_for_selector("body[data-ready=true]")

    for tile, expected in expected_tiles(briefing).items():
        shown = page.locator(f"[data-tile={tile}] .tile-value").inner_text()
        assert shown.replace("\n", "") == expected, tile

    readings = query_dicts(
        portal_store.warehouse,
        "select * from fct_charging_profiles where session_id = ? order by sample_seq",
        [session_id],
    )
    assert int(page.locator("#chart").get_attribute("data-readings")) == len(readings)
    for series in PROFILE_SERIES:
        path = page.locator(f"path[data-series={series}]")
        expected_points = sum(1 for row in readings if row[series] is not None)
        assert int(path.get_attribute("data-points")) == expected_points, series
        if expected_points:
            assert len(path.get_attribute("d")) > expected_points * 5, series
    changes = query(
        portal_store.warehouse,
        "select count(*) from rpt_big_changes where session_id = ?",
        [session_id],
    )[0][0]
    assert page.locator("svg .big-change").count() == changes
    assert page.locator("#big-changes tbody tr").count() == changes
    assert page.locator("#in-progress").is_hidden()

    page.hover("svg .overlay", position={"x": 300, "y": 100})
    assert " kW · " in page.locator(".readout").inner_text()
    page.screenshot(path=str(SCREENSHOTS / "dashboard_session.png"), full_page=True)

    with page.expect_download() as download:
        page.click("#download-profile")
    lines = Path(download.value.path()).read_text().splitlines()
    assert len(lines) == len(readings) + 1
    assert lines[0].startswith("measured_at,reading_seq,elapsed_s")


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
