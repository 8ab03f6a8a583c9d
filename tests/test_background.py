"""Background tasks in process, on ASGI and RSGI (the ``client_for`` fixture runs both)."""

from __future__ import annotations

import functools
import logging
import threading
from typing import Any

import pytest

from velocipy import (
    BackgroundTask,
    BackgroundTasks,
    PlainTextResponse,
    Response,
    StreamingResponse,
    VelociPy,
)
from velocipy.testing import AsyncTestClient


def test_tasks_run_in_order_after_the_response(client_for: Any) -> None:
    app = VelociPy()
    events: list[str] = []

    async def notify(name: str, *, suffix: str = "") -> None:
        events.append(f"async {name}{suffix}")

    def write_log(name: str) -> None:
        events.append(f"sync {name}")

    async def body() -> Any:
        events.append("body sent")
        yield b"ok"

    @app.post("/signup/{name}")
    async def signup(name: str, tasks: BackgroundTasks) -> Response:
        tasks.add_task(notify, name, suffix="!")
        tasks.add_task(write_log, name)
        events.append("handler")
        return StreamingResponse(body())

    response = client_for(app).post("/signup/ada")
    assert response.text == "ok"
    assert events == ["handler", "body sent", "async ada!", "sync ada"]


def test_sync_tasks_run_in_a_worker_thread(client_for: Any) -> None:
    app = VelociPy()
    threads: dict[str, int] = {}

    def blocking() -> None:
        threads["task"] = threading.get_ident()

    @app.get("/")
    async def index(tasks: BackgroundTasks) -> str:
        threads["handler"] = threading.get_ident()
        tasks.add_task(blocking)
        return "ok"

    assert client_for(app).get("/").text == "ok"
    assert threads["task"] != threads["handler"]


def test_a_failing_task_is_logged_and_the_next_one_still_runs(
    client_for: Any, caplog: pytest.LogCaptureFixture
) -> None:
    app = VelociPy()
    ran: list[str] = []

    def broken() -> None:
        raise RuntimeError("smtp down")

    async def after() -> None:
        ran.append("after")

    @app.get("/")
    async def index(tasks: BackgroundTasks) -> dict[str, bool]:
        tasks.add_task(broken)
        tasks.add_task(after)
        return {"ok": True}

    client = client_for(app)
    with caplog.at_level(logging.ERROR, logger="velocipy"):
        response = client.get("/")
    assert response.status_code == 200
    assert response.json() == {"ok": True}
    assert ran == ["after"]
    failures = [r for r in caplog.records if "background task" in r.getMessage()]
    assert len(failures) == 1
    assert failures[0].exc_info is not None
    assert "smtp down" in str(failures[0].exc_info[1])


def test_tasks_compose_with_the_responses_own_background(client_for: Any) -> None:
    app = VelociPy()
    ran: list[str] = []

    async def record(what: str) -> None:
        ran.append(what)

    @app.get("/")
    async def index(tasks: BackgroundTasks) -> Response:
        tasks.add_task(record, "parameter")
        return PlainTextResponse("ok", background=BackgroundTask(record, "response"))

    assert client_for(app).get("/").text == "ok"
    assert ran == ["response", "parameter"]


def test_response_background_takes_a_task_list(client_for: Any) -> None:
    app = VelociPy()
    ran: list[int] = []

    @app.get("/")
    async def index() -> Response:
        tasks = BackgroundTasks()
        tasks.add_task(ran.append, 1)
        tasks.add_task(ran.append, 2)
        return Response("ok", background=tasks)

    assert client_for(app).get("/").text == "ok"
    assert ran == [1, 2]


def test_no_tasks_added_leaves_the_response_without_work(client_for: Any) -> None:
    app = VelociPy()
    seen: list[Any] = []

    @app.get("/")
    async def index(tasks: BackgroundTasks) -> Response:
        response = PlainTextResponse("ok")
        seen.append(response)
        return response

    assert client_for(app).get("/").text == "ok"
    assert seen[0].background is None


async def _async_client_run(protocol: str) -> list[str]:
    app = VelociPy()
    ran: list[str] = []

    @app.get("/")
    async def index(tasks: BackgroundTasks) -> str:
        tasks.add_task(ran.append, "task")
        return "ok"

    async with AsyncTestClient(app, protocol) as client:
        response = await client.get("/")
        ran.append(response.text)
    return ran


def test_async_client_drives_the_app_from_an_async_test(protocol: str) -> None:
    import asyncio

    assert asyncio.run(_async_client_run(protocol)) == ["task", "ok"]


class _AsyncCallable:
    async def __call__(self) -> None:
        pass


class _InheritsAsyncCall(_AsyncCallable):
    pass


def _sync_function() -> None:
    pass


async def _async_function(value: int = 0) -> None:
    pass


@pytest.mark.parametrize(
    ("func", "is_async"),
    [
        (_async_function, True),
        (functools.partial(_async_function, 1), True),
        (functools.partial(functools.partial(_async_function), value=2), True),
        (_AsyncCallable(), True),
        (_InheritsAsyncCall(), True),
        (functools.partial(_AsyncCallable()), True),
        (_sync_function, False),
        (functools.partial(_sync_function), False),
        (_AsyncCallable, False),  # calling the class builds an object, not a coroutine
        (print, False),
    ],
)
def test_a_task_knows_whether_it_is_async(func: Any, is_async: bool) -> None:
    assert BackgroundTask(func).is_async is is_async
