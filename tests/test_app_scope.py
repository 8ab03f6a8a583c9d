"""Depends(provider, scope="app"): one value per worker, made at start-up, torn down at shutdown."""

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any

import pytest

from velocipy import Depends, VelociPy, WebSocket
from velocipy.exceptions import StartupError
from velocipy.testing import TestClient
from velocipy.testing.errors import LifespanError


class Pool:
    def __init__(self, number: int) -> None:
        self.number = number
        self.closed_with: str | None = None


def test_an_app_scoped_value_is_made_once_at_startup_shared_and_torn_down(protocol: str) -> None:
    app = VelociPy()
    made: list[Pool] = []
    events: list[str] = []

    async def pool() -> AsyncIterator[Pool]:
        made.append(Pool(len(made) + 1))
        events.append("made")
        try:
            yield made[-1]
        except BaseException as exc:  # pragma: no cover - shutdown never throws in
            made[-1].closed_with = repr(exc)
            raise
        made[-1].closed_with = "shutdown"
        events.append("closed")

    Shared = Annotated[Pool, Depends(pool, scope="app")]

    async def repository(p: Shared) -> str:  # a request-scoped provider may use it
        return f"repo on pool {p.number}"

    @app.get("/a")
    async def first(p: Shared, repo: Annotated[str, Depends(repository)]) -> dict[str, Any]:
        return {"pool": p.number, "id": id(p), "repo": repo}

    @app.get("/b")
    async def second(p: Shared) -> dict[str, Any]:
        return {"pool": p.number, "id": id(p)}

    @app.websocket("/ws")
    async def socket(websocket: WebSocket, p: Shared) -> None:
        await websocket.accept()
        await websocket.send_json({"pool": p.number, "id": id(p)})
        await websocket.close()

    with TestClient(app, interface=protocol) as client:  # type: ignore[arg-type]
        assert events == ["made"]  # at start-up, before any request
        answers = [client.get("/a").json(), client.get("/b").json(), client.get("/a").json()]
        with client.websocket_connect("/ws") as ws:
            answers.append(ws.receive_json())
        assert {answer["id"] for answer in answers} == {answers[0]["id"]}
        assert answers[0]["repo"] == "repo on pool 1"
        assert len(made) == 1
        assert made[0].closed_with is None
    assert events == ["made", "closed"]
    assert made[0].closed_with == "shutdown"


def test_without_a_lifespan_the_value_is_made_on_first_use_once(protocol: str) -> None:
    app = VelociPy()
    calls: list[int] = []

    def settings() -> dict[str, int]:  # sync: runs in a thread, once
        calls.append(1)
        return {"answer": 42}

    @app.get("/")
    async def index(s: Annotated[dict[str, int], Depends(settings, scope="app")]) -> int:
        return s["answer"]

    with TestClient(app, interface=protocol) as client:  # type: ignore[arg-type]
        app.dependency_overrides.app_scope.values.clear()  # as if the lifespan never ran
        calls.clear()
        assert [client.get("/").json() for _ in range(3)] == [42, 42, 42]
        assert calls == [1]


def test_app_scoped_providers_may_use_each_other_and_overrides_apply(protocol: str) -> None:
    app = VelociPy()

    async def url() -> str:
        return "sqlite://real"

    async def engine(u: Annotated[str, Depends(url, scope="app")]) -> str:
        return f"engine({u})"

    @app.get("/")
    async def index(e: Annotated[str, Depends(engine, scope="app")]) -> str:
        return e

    async def test_url() -> str:
        return "sqlite://test"

    app.dependency_overrides[url] = test_url
    with TestClient(app, interface=protocol) as client:  # type: ignore[arg-type]
        assert client.get("/").text == "engine(sqlite://test)"


def test_a_failing_app_scoped_provider_fails_startup_with_one_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = VelociPy()

    async def broken() -> str:
        raise ConnectionRefusedError("database at 127.0.0.1:1 refused the connection")

    @app.get("/")
    async def index(b: Annotated[str, Depends(broken, scope="app")]) -> str:
        return b

    with pytest.raises(StartupError) as raised:
        asyncio.run(app.startup())
    assert str(raised.value) == (
        "app-scoped dependency test_a_failing_app_scoped_provider_fails_startup_with_one_line"
        ".<locals>.broken failed: ConnectionRefusedError: database at 127.0.0.1:1 refused the "
        "connection"
    )
    assert "\n" not in str(raised.value)
    # served, the adapter logs that one line, without a traceback (a configuration mistake)
    with pytest.raises(LifespanError, match="StartupError: app-scoped dependency"):
        with TestClient(app):
            pass
    failures = [r for r in caplog.records if r.message.startswith("Application startup failed")]
    assert [(r.message, r.exc_info) for r in failures] == [
        (f"Application startup failed: {raised.value}", None)
    ]


def test_an_app_scoped_provider_cannot_read_the_request() -> None:
    app = VelociPy()

    async def per_user(user_id: int) -> str:
        return str(user_id)

    with pytest.raises(TypeError, match="parameter 'user_id': an app-scoped provider runs"):

        @app.get("/")
        async def index(u: Annotated[str, Depends(per_user, scope="app")]) -> str:
            return u


def test_an_unknown_scope_is_refused() -> None:
    with pytest.raises(ValueError, match=r"Depends\(scope='worker'\): the scope is one of"):
        Depends(lambda: 1, scope="worker")


def test_the_start_up_error_names_the_provider_that_failed_not_its_user() -> None:
    app = VelociPy()

    def url() -> str:
        raise LookupError("DATABASE_URL is not set")

    async def engine(u: Annotated[str, Depends(url, scope="app")]) -> str:
        return u

    @app.get("/")
    async def index(e: Annotated[str, Depends(engine, scope="app")]) -> str:
        return e

    with pytest.raises(StartupError) as raised:
        asyncio.run(app.startup())
    assert str(raised.value) == (
        "app-scoped dependency test_the_start_up_error_names_the_provider_that_failed_not_its_"
        "user.<locals>.url failed: LookupError: DATABASE_URL is not set"
    )


def test_racing_first_uses_make_one_value_and_a_failure_is_retried_later() -> None:
    from velocipy.appscope import AppScope

    scope = AppScope()
    calls: list[int] = []

    async def slow() -> int:
        calls.append(1)
        for _ in range(3):
            await asyncio.sleep(0)  # the other callers arrive while it is being made
        if len(calls) == 1:
            raise ConnectionError("first try fails")
        return len(calls)

    async def race() -> list[Any]:
        return await asyncio.gather(*(scope.get(slow) for _ in range(5)), return_exceptions=True)

    async def scenario() -> tuple[list[Any], list[Any]]:
        return await race(), await race()

    failed, succeeded = asyncio.run(scenario())
    assert [type(result) for result in failed] == [ConnectionError] * 5  # one attempt, shared
    assert succeeded == [2, 2, 2, 2, 2]  # the next use made it again, once
    assert calls == [1, 1]


def test_app_scoped_teardown_runs_even_when_a_shutdown_step_fails() -> None:
    closed: list[str] = []

    async def pool() -> AsyncIterator[str]:
        yield "pool"
        closed.append("pool")

    def broken_shutdown() -> None:
        raise RuntimeError("on_shutdown failed")

    app = VelociPy(on_shutdown=[broken_shutdown])

    @app.get("/")
    async def index(p: Annotated[str, Depends(pool, scope="app")]) -> str:
        return p

    async def lifetime() -> None:
        await app.startup()
        with pytest.raises(RuntimeError, match="on_shutdown failed"):
            await app.shutdown()

    asyncio.run(lifetime())
    assert closed == ["pool"]
