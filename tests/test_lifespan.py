"""Lifespan: a context manager yielding state, on_startup/on_shutdown callables, failing startup."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from velocipy import Request, VelociPy
from velocipy.testing import LifespanError


def lifespan_app(events: list[str]) -> VelociPy:
    @contextlib.asynccontextmanager
    async def lifespan(app: VelociPy) -> AsyncIterator[dict[str, Any]]:
        events.append("lifespan enter")
        yield {"db": "connected", "counter": 41}
        events.append("lifespan exit")

    def sync_start() -> None:
        events.append("sync startup")

    async def async_start() -> None:
        events.append("async startup")

    def sync_stop() -> None:
        events.append("sync shutdown")

    async def async_stop() -> None:
        events.append("async shutdown")

    app = VelociPy(
        lifespan=lifespan,
        on_startup=[sync_start, async_start],
        on_shutdown=[sync_stop, async_stop],
    )

    @app.get("/state")
    async def state(request: Request) -> dict[str, Any]:
        app_state = request.app.state
        app_state.counter += 1
        return {"db": app_state.db, "counter": app_state.counter}

    return app


def test_lifespan_runs_once_around_requests(make_client: Any) -> None:
    events: list[str] = []
    with make_client(lifespan_app(events)) as client:
        assert events == ["sync startup", "async startup", "lifespan enter"]
        assert client.get("/state").json() == {"db": "connected", "counter": 42}
        assert client.get("/state").json() == {"db": "connected", "counter": 43}
        assert len(events) == 3
    assert events == [
        "sync startup",
        "async startup",
        "lifespan enter",
        "lifespan exit",
        "sync shutdown",
        "async shutdown",
    ]


def test_without_context_manager_lifespan_does_not_run(make_client: Any) -> None:
    events: list[str] = []
    client = make_client(lifespan_app(events))
    assert client.get("/state").status_code == 500  # app.state.db was never set
    assert events == []


def test_app_without_lifespan_starts_and_stops(make_client: Any) -> None:
    app = VelociPy()

    @app.get("/")
    async def index() -> str:
        return "ok"

    with make_client(app) as client:
        assert client.get("/").text == "ok"


def test_lifespan_yielding_nothing_keeps_state_untouched(make_client: Any) -> None:
    @contextlib.asynccontextmanager
    async def lifespan(app: VelociPy) -> AsyncIterator[None]:
        app.state.set_directly = True
        yield

    app = VelociPy(lifespan=lifespan)
    with make_client(app):
        assert app.state.set_directly is True


def failing_app(where: str, events: list[str]) -> VelociPy:
    @contextlib.asynccontextmanager
    async def lifespan(app: VelociPy) -> AsyncIterator[None]:
        if where == "lifespan":
            raise RuntimeError("database unreachable")
        yield

    async def on_startup() -> None:
        if where == "on_startup":
            raise ConnectionError("cache unreachable")

    def on_shutdown() -> None:
        events.append("shutdown")

    return VelociPy(lifespan=lifespan, on_startup=[on_startup], on_shutdown=[on_shutdown])


@pytest.mark.parametrize(
    ("where", "message"),
    [("lifespan", "database unreachable"), ("on_startup", "cache unreachable")],
)
def test_failing_startup_raises_with_the_error(
    make_client: Any, protocol: str, where: str, message: str
) -> None:
    events: list[str] = []
    expected = LifespanError if protocol == "asgi" else (RuntimeError, ConnectionError)
    with pytest.raises(expected, match=message):  # type: ignore[arg-type]
        with make_client(failing_app(where, events)):
            pass
    assert events == []  # shutdown never runs for an app that did not start


def test_startup_and_shutdown_are_idempotent() -> None:
    import asyncio

    events: list[str] = []
    app = lifespan_app(events)

    async def cycle() -> None:
        await app.startup()
        await app.startup()
        await app.shutdown()
        await app.shutdown()

    asyncio.run(cycle())
    assert events.count("lifespan enter") == 1
    assert events.count("lifespan exit") == 1
