"""The per-session dashboard: a JSON API under ``/api`` and the static pages that draw it.

Sign-in is a bearer token (``Authorization: Bearer <token>``) on every API request; the pages hold
no data and keep the token in the browser's session storage. Statuses: 401 for a missing, malformed
or unknown token; 403 for the token of a disabled user; 404 for a session that does not exist *or*
is another user's (the two are indistinguishable); 422 for a malformed parameter. Every error body
is ``{"detail": "<message>"}`` (422 adds the offending fields), and never carries data.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime
from importlib import resources
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import psycopg
from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from psycopg_pool import PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chargerlogs.serving import db, tokens

STORE_SETTING = "CHARGER_PORTAL_DSN"
STATIC_DIR = resources.files("chargerlogs.serving").joinpath("static")
MAX_ID = 2**63 - 1
# how often the page of a session still in progress asks for new readings
IN_PROGRESS_POLL_S = 30

SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        b"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


class SecurityHeaders:
    """ASGI middleware: the security headers on every response; ``no-store`` on the API's."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        is_api = scope["path"].startswith("/api/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), *SECURITY_HEADERS]
                if is_api:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


bearer = HTTPBearer(auto_error=False)

SessionId = Annotated[int, Path(ge=1, le=MAX_ID, description="charging session id")]
ChargerFilter = Annotated[int | None, Query(ge=1, le=MAX_ID, description="only this charger")]
FromFilter = Annotated[
    date | None, Query(alias="from", description="first day, local (YYYY-MM-DD)")
]
ToFilter = Annotated[date | None, Query(alias="to", description="last day, local (YYYY-MM-DD)")]


def _unauthorised(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})


async def signed_in(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> AsyncIterator[tuple[db.User, Any]]:
    """The signed-in user and a connection that sees only that user's rows (one transaction)."""
    if credentials is None:
        raise _unauthorised("sign-in required: send Authorization: Bearer <token>")
    if not tokens.is_well_formed(credentials.credentials):
        raise _unauthorised("invalid token")
    store: db.PortalStore = request.app.state.store
    async with store.signed_in(tokens.token_sha256(credentials.credentials)) as (user, con):
        if user is None:
            raise _unauthorised("invalid token")
        if not user.is_active:
            raise HTTPException(403, "this account is disabled")
        yield user, con


SignedIn = Annotated[tuple[db.User, Any], Depends(signed_in)]


def _utc_iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _with_local_times(row: dict[str, Any], names: tuple[str, ...], zone: ZoneInfo) -> None:
    """Each time of ``names`` (``..._at``) as UTC ISO text, and beside it in the user's zone
    (``..._local``)."""
    for name in names:
        moment: datetime | None = row[name]
        row[name] = None if moment is None else _utc_iso(moment)
        row[name.removesuffix("_at") + "_local"] = (
            None if moment is None else db.local_iso(moment, zone)
        )


def _session_fields(row: dict[str, Any], zone: ZoneInfo) -> dict[str, Any]:
    fields = {name: value for name, value in row.items() if not name.endswith("_json")}
    _with_local_times(fields, ("corrected_started_at", "corrected_ended_at"), zone)
    return fields


def _not_found() -> HTTPException:
    return HTTPException(404, "session not found")


def _period(from_date: date | None, to_date: date | None) -> None:
    if from_date and to_date and from_date > to_date:
        raise RequestValidationError(
            [{"loc": ("query", "to"), "msg": "the period ends before it starts", "type": "value"}]
        )


def _monthly_totals(sessions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    totals: dict[str, dict[str, Any]] = {}
    for session in sessions:
        month = session["corrected_started_local"][:7]
        total = totals.setdefault(
            month, {"month": month, "session_count": 0, "energy_wh": 0.0, "cost_eur": 0.0}
        )
        total["session_count"] += 1
        total["energy_wh"] += session["reported_energy_wh"] or 0.0
        total["cost_eur"] += session["total_cost_eur"] or 0.0
    for total in totals.values():
        total["energy_wh"] = round(total["energy_wh"], 3)
        total["cost_eur"] = round(total["cost_eur"], 2)
    return sorted(totals.values(), key=lambda total: total["month"], reverse=True)


def _csv_response(rows: list[list[Any]], header: list[str], filename: str) -> Response:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    # booleans as JSON spells them; a missing value as an empty field
    writer.writerows([[str(v).lower() if isinstance(v, bool) else v for v in row] for row in rows])
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{filename}"'},
    )


def create_app(conninfo: str | None = None) -> FastAPI:
    """The dashboard app reading the serving store at ``conninfo`` (default: setting
    ``CHARGER_PORTAL_DSN``) as the app role."""
    conninfo = conninfo or os.environ.get(STORE_SETTING)
    if not conninfo:
        raise RuntimeError(f"no serving store: set {STORE_SETTING} to the app role's conninfo")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.store = db.PortalStore(conninfo)
        await app.state.store.open()
        yield
        await app.state.store.close()

    app = FastAPI(
        title="Charging sessions dashboard",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.add_middleware(SecurityHeaders)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"detail": error.detail}, error.status_code, headers=error.headers)

    @app.exception_handler(psycopg.OperationalError)
    @app.exception_handler(PoolTimeout)
    async def store_unavailable(request: Request, error: Exception) -> JSONResponse:
        # the store's server is stopped or restarting: a clear answer the client may retry,
        # not a 500 with a stack trace in the log
        return JSONResponse(
            {"detail": "the serving store is unavailable; try again shortly"},
            503,
            headers={"retry-after": "5"},
        )

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        fields = [
            {"field": ".".join(str(part) for part in item["loc"]), "message": item["msg"]}
            for item in error.errors()
        ]
        return JSONResponse({"detail": "invalid request parameters", "fields": fields}, 422)

    @app.get("/api/me")
    async def me(auth: SignedIn) -> dict[str, Any]:
        """The signed-in user."""
        user, _ = auth
        return {
            "user_id": user.user_id,
            "display_name": user.display_name,
            "time_zone": user.time_zone,
        }

    @app.get("/api/chargers")
    async def chargers(auth: SignedIn) -> dict[str, Any]:
        """The user's chargers: the user's totals and last session end (true time) on each, and
        the charger's average session time over all its users."""
        user, con = auth
        zone = ZoneInfo(user.time_zone)
        rows = await db.chargers(con)
        for row in rows:
            _with_local_times(row, ("last_session_ended_at",), zone)
        return {"chargers": rows}

    async def _session_list(
        auth: tuple[db.User, Any],
        charger_id: int | None,
        from_date: date | None,
        to_date: date | None,
    ) -> tuple[ZoneInfo, list[dict[str, Any]]]:
        _period(from_date, to_date)
        user, con = auth
        zone = ZoneInfo(user.time_zone)
        rows = await db.session_list(con, user.time_zone, charger_id, from_date, to_date)
        return zone, [_session_fields(row, zone) for row in rows]

    @app.get("/api/sessions")
    async def sessions(
        auth: SignedIn,
        charger_id: ChargerFilter = None,
        from_date: FromFilter = None,
        to_date: ToFilter = None,
    ) -> dict[str, Any]:
        """The user's sessions in the period, newest first, with monthly totals (local months)."""
        zone, rows = await _session_list(auth, charger_id, from_date, to_date)
        return {"time_zone": str(zone), "sessions": rows, "monthly_totals": _monthly_totals(rows)}

    @app.get("/api/sessions.csv")
    async def sessions_csv(
        auth: SignedIn,
        charger_id: ChargerFilter = None,
        from_date: FromFilter = None,
        to_date: ToFilter = None,
    ) -> Response:
        """The session list as CSV (true times, in the user's time zone and in UTC)."""
        _, rows = await _session_list(auth, charger_id, from_date, to_date)
        header = [
            "session_id",
            "charger_id",
            "corrected_started_local",
            "corrected_ended_local",
            "corrected_started_at",
            "corrected_ended_at",
            "is_clock_corrected",
            "clock_offset_s",
            "session_duration_s",
            "active_charging_s",
            "reported_energy_wh",
            "measured_energy_wh",
            "estimated_gap_energy_wh",
            "telemetry_energy_wh",
            "total_cost_eur",
            "unit_price_eur_per_kwh",
            "peak_power_w",
        ]
        body = [[row[name] for name in header] for row in rows]
        return _csv_response(body, header, "charging_sessions.csv")

    @app.get("/api/sessions/{session_id}")
    async def session(session_id: SessionId, auth: SignedIn) -> Response:
        """One session: briefing (true times, also in the user's zone), big changes, anomalies
        (true times, and seconds from the session's start) and full profile."""
        user, con = auth
        row = await db.session_page(con, session_id)
        if row is None:
            raise _not_found()
        fields = _session_fields(row, ZoneInfo(user.time_zone))
        fields["time_zone"] = user.time_zone
        fields["big_change_threshold_pct"] = row["big_change_threshold_pct"]
        fields["poll_after_s"] = IN_PROGRESS_POLL_S if row["is_in_progress"] else None
        body = (
            '{"session":'
            + json.dumps(fields)
            + ',"big_changes":'
            + row["big_changes_json"]
            + ',"anomalies":'
            + row["anomalies_json"]
            + ',"profile":'
            + (row["profile_json"] or "{}")
            + "}"
        )
        return Response(body, media_type="application/json")

    @app.get("/api/sessions/{session_id}/profile.csv")
    async def profile_csv(session_id: SessionId, auth: SignedIn) -> Response:
        """The session's full charging profile as CSV, one line per reading, true times."""
        _, con = auth
        profile_json = await db.profile(con, session_id)
        if profile_json is None:
            raise _not_found()
        document: dict[str, list[Any]] = json.loads(profile_json)
        header = list(document)
        body = [list(values) for values in zip(*document.values(), strict=True)]
        return _csv_response(body, header, f"charging_profile_{session_id}.csv")

    def page(name: str) -> FileResponse:
        return FileResponse(str(STATIC_DIR.joinpath(name)), media_type="text/html")

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return page("index.html")

    @app.get("/sessions/{session_id}", include_in_schema=False)
    async def session_page(session_id: SessionId) -> FileResponse:
        return page("session.html")

    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    return app


def app_from_environment() -> FastAPI:
    """The app for ``uvicorn --factory`` (the store's conninfo in ``CHARGER_PORTAL_DSN``)."""
    return create_app()
