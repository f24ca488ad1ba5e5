"""The session page benchmark: its percentiles, and a short run against the app under uvicorn."""

from __future__ import annotations

import asyncio

import pytest
from conftest import PortalStore

from chargerlogs.serving import bench
from chargerlogs.serving.store import largest_session


def test_percentiles_are_nearest_rank() -> None:
    result = bench.LoadResult([0.001 * value for value in range(1, 101)], 0, 1.0, 10)
    assert result.percentile(0.50) == pytest.approx(0.050)
    assert result.percentile(0.95) == pytest.approx(0.095)
    assert result.percentile(1.0) == pytest.approx(0.100)
    lines = result.lines()
    assert lines[0].startswith("requests: 100 ok, 0 errors")
    assert "p50 50.0, p95 95.0" in lines[2]


def test_short_load_on_the_largest_session(portal_store: PortalStore) -> None:
    session_id, user_id, _ = largest_session(portal_store.owner)
    port = bench.free_port()
    app = bench.start_app(portal_store.app, port, workers=1)
    try:
        path = f"/api/sessions/{session_id}"
        result = asyncio.run(bench.run_load(port, path, portal_store.tokens[user_id], 2, 1.0))
        refused = asyncio.run(bench.run_load(port, path, "x" * 43, 1, 0.3))
    finally:
        app.terminate()
        app.wait(timeout=30)
    assert result.errors == 0
    assert len(result.latencies) > 2
    assert result.body_bytes > 100_000, "the whole profile of the largest session"
    assert refused.latencies == [] and refused.errors > 0, "a 401 counts as an error"
