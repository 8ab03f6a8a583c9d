"""``Depends(..., scope="function")``: the teardown runs when the handler returned, before the
response is sent, with the handler's exception thrown in; ``"request"`` (the default) after
the response was sent. On ASGI and RSGI, with streamed responses and background tasks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Annotated

import pytest

from tests.conftest import ClientFactory
from velocipy import (
    BackgroundTasks,
    Depends,
    HTTPException,
    StreamingResponse,
    VelociPy,
    WebSocket,
)

EVENTS: list[str] = []


async def function_session() -> AsyncIterator[str]:
    EVENTS.append("function: open")
    try:
        yield "function-session"
    except ValueError as exc:
        EVENTS.append(f"function: saw {exc}")
        raise HTTPException(409, f"rolled back: {exc}") from exc
    else:
        EVENTS.append("function: commit")
    finally:
        EVENTS.append("function: close")


def request_session() -> Iterator[str]:  # a sync generator, run in a thread
    EVENTS.append("request: open")
    try:
        yield "request-session"
    except Exception as exc:
        EVENTS.append(f"request: saw {type(exc).__name__}")
        raise
    finally:
        EVENTS.append("request: close")


FunctionSession = Annotated[str, Depends(function_session, scope="function")]
RequestSession = Annotated[str, Depends(request_session)]


def make_app() -> VelociPy:
    app = VelociPy()

    @app.get("/ok")
    async def ok(f: FunctionSession, r: RequestSession, tasks: BackgroundTasks) -> str:
        tasks.add_task(EVENTS.append, "background task")
        EVENTS.append("handler")
        return f"{f} {r}"

    @app.get("/fails")
    async def fails(f: FunctionSession, r: RequestSession) -> str:
        EVENTS.append("handler")
        raise ValueError("broken")

    @app.get("/stream")
    async def stream(f: FunctionSession) -> StreamingResponse:
        async def body() -> AsyncIterator[bytes]:
            EVENTS.append("body sent")
            yield b"streamed"

        return StreamingResponse(body())

    return app


@pytest.fixture(autouse=True)
def clean() -> None:
    EVENTS.clear()


def test_teardown_runs_before_the_response_is_sent(client_for: ClientFactory) -> None:
    client = client_for(make_app())
    response = client.get("/ok")
    assert response.text == "function-session request-session"
    assert EVENTS == [
        "function: open",
        "request: open",
        "handler",
        "function: commit",
        "function: close",
        "background task",  # after the response was sent ...
        "request: close",  # ... and the request scope after it
    ]


def test_the_handlers_exception_is_thrown_in(client_for: ClientFactory) -> None:
    client = client_for(make_app(), raise_server_exceptions=False)
    response = client.get("/fails")
    # the function-scoped provider turned the error into its own answer
    assert (response.status_code, response.json()) == (409, {"detail": "rolled back: broken"})
    assert EVENTS == [
        "function: open",
        "request: open",
        "handler",
        "function: saw broken",
        "function: close",
        "request: saw HTTPException",  # the request scope sees what the function scope raised
        "request: close",
    ]


def test_a_stream_is_sent_after_the_function_scope_closed(client_for: ClientFactory) -> None:
    assert client_for(make_app()).get("/stream").text == "streamed"
    assert EVENTS == ["function: open", "function: commit", "function: close", "body sent"]


async def needs_function(f: FunctionSession) -> AsyncIterator[str]:
    yield f


def test_request_scope_cannot_use_a_function_scoped_generator() -> None:
    app = VelociPy()
    with pytest.raises(TypeError, match="cannot depend on function_session"):

        @app.get("/bad")
        async def bad(value: Annotated[str, Depends(needs_function)]) -> str:
            return value


def test_an_unknown_scope_is_refused() -> None:
    with pytest.raises(ValueError, match="the scope is one of 'request', 'function'"):
        Depends(function_session, scope="session")  # type: ignore[arg-type]


def test_function_scope_on_a_websocket_ends_with_the_handler(
    client_for: ClientFactory,
) -> None:
    app = VelociPy()

    @app.websocket("/ws")
    async def ws(websocket: WebSocket, f: FunctionSession) -> None:
        await websocket.accept()
        await websocket.send_text(f)
        await websocket.close()

    with client_for(app).websocket_connect("/ws") as session:
        assert session.receive_text() == "function-session"
    assert EVENTS == ["function: open", "function: commit", "function: close"]
