"""The blocked-loop watch: wrapped only when VELOCIPY_WATCH_LOOP is set, warned once per handler."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from velocipy import VelociPy
from velocipy.testing import TestClient

WARNING = "kept the event loop busy"


def build() -> VelociPy:
    app = VelociPy()

    @app.get("/blocks")
    async def blocks() -> dict[str, int]:
        time.sleep(0.3)  # noqa: ASYNC251 - the mistake this test is about
        return {"n": 1}

    @app.get("/awaits")
    async def awaits() -> dict[str, int]:
        await asyncio.sleep(0.3)
        return {"n": 2}

    @app.get("/fails")
    async def fails() -> None:
        await asyncio.sleep(0)
        raise ValueError("handler error")

    return app


def test_watched_handlers_warn_once_and_keep_their_answers(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, protocol: str
) -> None:
    monkeypatch.setenv("VELOCIPY_WATCH_LOOP", "1")
    caplog.set_level(logging.WARNING, logger="velocipy")
    with TestClient(build(), interface=protocol) as client:  # type: ignore[arg-type]
        assert client.get("/blocks").json() == {"n": 1}
        assert client.get("/blocks").json() == {"n": 1}
        assert client.get("/awaits").json() == {"n": 2}
        assert client.get("/fails").status_code == 500  # an error still reaches the app
    warnings = [r.getMessage() for r in caplog.records if WARNING in r.getMessage()]
    assert len(warnings) == 1
    assert warnings[0].startswith("handler build.<locals>.blocks (tests/test_loop_watch.py:")
    assert "more than 100 ms" in warnings[0]


def test_without_the_variable_nothing_is_wrapped(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, protocol: str
) -> None:
    monkeypatch.delenv("VELOCIPY_WATCH_LOOP", raising=False)
    caplog.set_level(logging.WARNING, logger="velocipy")
    app = build()
    route = next(r for r in app.routes if r.path == "/blocks")
    assert route.compiled.invoke is route.endpoint  # the handler itself, called by dispatch
    with TestClient(app, interface=protocol) as client:  # type: ignore[arg-type]
        assert client.get("/blocks").json() == {"n": 1}
    assert not [r for r in caplog.records if WARNING in r.getMessage()]
