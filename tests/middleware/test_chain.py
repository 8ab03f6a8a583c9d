"""The class-middleware API: order, the shared chain with function middleware, error mapping,
the WebSocket handshake hook, and that an app without middleware keeps the bare dispatchers."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

from velocipy import (
    HTTPException,
    JSONResponse,
    PlainTextResponse,
    Request,
    Response,
    VelociPy,
    WebSocket,
)
from velocipy.application import Application
from velocipy.middleware import CallNext, Middleware
from velocipy.testing import TestClient, WebSocketDenied

ClientFactory = Callable[..., TestClient]


class Tag(Middleware):
    """Appends its name to ``x-order`` on the way out and records the way in."""

    def __init__(self, name: str, seen: list[str]) -> None:
        self.name = name
        self.seen = seen

    async def dispatch(self, request: Request, call_next: CallNext) -> Response:
        self.seen.append(f"in:{self.name}")
        response = await call_next(request)
        self.seen.append(f"out:{self.name}")
        return response

    async def handshake(self, websocket: WebSocket) -> Response | None:
        self.seen.append(f"ws:{self.name}")
        return None


def test_first_added_runs_outermost_with_function_middleware_in_the_same_chain(
    client_for: ClientFactory,
) -> None:
    seen: list[str] = []
    app = VelociPy(middleware=[Tag("a", seen)])
    app.add_middleware(Tag, name="b", seen=seen)

    @app.middleware
    async def function(request: Request, call_next: CallNext) -> Response:
        seen.append("in:f")
        response = await call_next(request)
        seen.append("out:f")
        return response

    app.add_middleware(Tag, name="c", seen=seen)

    @app.get("/")
    async def home() -> str:
        seen.append("handler")
        return "ok"

    assert client_for(app).get("/").text == "ok"
    assert seen == ["in:a", "in:b", "in:f", "in:c", "handler", "out:c", "out:f", "out:b", "out:a"]


def test_no_middleware_keeps_the_bare_dispatchers() -> None:
    app = VelociPy()
    assert app.handle_http == app._dispatch_http
    assert app.handle_websocket.__func__ is Application.handle_websocket  # type: ignore[attr-defined]


def test_http_only_middleware_does_not_wrap_websockets() -> None:
    class HeaderOnly(Middleware):
        async def dispatch(self, request: Request, call_next: CallNext) -> Response:
            return await call_next(request)

    app = VelociPy()
    app.add_middleware(HeaderOnly)
    assert app.handle_http != app._dispatch_http
    assert app.handle_websocket.__func__ is Application.handle_websocket  # type: ignore[attr-defined]


def test_a_middleware_can_answer_without_calling_the_handler(client_for: ClientFactory) -> None:
    class Maintenance(Middleware):
        async def dispatch(self, request: Request, call_next: CallNext) -> Response:
            return PlainTextResponse("down for maintenance", 503)

    app = VelociPy(middleware=[Maintenance])
    called: list[bool] = []

    @app.get("/")
    async def home() -> str:
        called.append(True)
        return "ok"

    response = client_for(app).get("/")
    assert (response.status_code, response.text, called) == (503, "down for maintenance", [])


def test_errors_in_middleware_go_through_the_error_mapping(
    client_for: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    class Teapot(Exception):
        pass

    class Raises(Middleware):
        async def dispatch(self, request: Request, call_next: CallNext) -> Response:
            if request.path == "/http":
                raise HTTPException(401, "log in first")
            if request.path == "/handled":
                raise Teapot()
            raise RuntimeError("boom in middleware")

    seen_status: list[int] = []

    class Outer(Middleware):
        async def dispatch(self, request: Request, call_next: CallNext) -> Response:
            response = await call_next(request)
            seen_status.append(response.status_code)
            response.headers["x-outer"] = "saw it"
            return response

    app = VelociPy(middleware=[Outer(), Raises()], debug=False)

    @app.exception_handler(Teapot)
    async def teapot(request: Request, exc: Teapot) -> Response:
        return JSONResponse({"detail": "short and stout"}, 418)

    client = client_for(app, raise_server_exceptions=False)
    unauthorized = client.get("/http")
    assert (unauthorized.status_code, unauthorized.json()) == (401, {"detail": "log in first"})
    assert client.get("/handled").json() == {"detail": "short and stout"}
    with caplog.at_level(logging.ERROR, logger="velocipy"):
        failed = client.get("/boom")
    assert failed.status_code == 500
    assert failed.json() == {"detail": "Internal Server Error"}
    assert failed.headers["x-outer"] == "saw it"  # outer middleware still saw a response
    assert seen_status == [401, 418, 500]
    assert any("boom in middleware" in str(r.exc_info) for r in caplog.records if r.exc_info)


def test_debug_reraises_a_middleware_error(make_client: ClientFactory) -> None:
    class Raises(Middleware):
        async def dispatch(self, request: Request, call_next: CallNext) -> Response:
            raise RuntimeError("debug me")

    app = VelociPy(middleware=[Raises()], debug=True)

    @app.get("/")
    async def home() -> str:
        return "ok"

    with pytest.raises(RuntimeError, match="debug me"):
        make_client(app).get("/")


def test_a_middleware_returning_a_non_response_is_a_logged_500(
    client_for: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken(Middleware):
        async def dispatch(self, request: Request, call_next: CallNext) -> Any:
            await call_next(request)
            return {"not": "a response"}

    app = VelociPy(middleware=[Broken()])

    @app.get("/")
    async def home() -> str:
        return "ok"

    with caplog.at_level(logging.ERROR, logger="velocipy"):
        response = client_for(app).get("/")
    assert response.status_code == 500
    assert any(
        "middleware" in r.getMessage() and "Broken" in r.getMessage() and "dict" in r.getMessage()
        for r in caplog.records
    )


def test_json_responses_made_by_a_middleware_are_encoded(client_for: ClientFactory) -> None:
    class Answers(Middleware):
        async def dispatch(self, request: Request, call_next: CallNext) -> Response:
            return JSONResponse({"from": "middleware"})

    class Reads(Middleware):
        async def dispatch(self, request: Request, call_next: CallNext) -> Response:
            response = await call_next(request)
            response.headers["x-length"] = str(len(response.body))
            return response

    app = VelociPy(middleware=[Reads(), Answers()])
    response = client_for(app).get("/")
    assert response.json() == {"from": "middleware"}
    assert response.headers["x-length"] == str(len(b'{"from":"middleware"}'))


# --- the WebSocket handshake -----------------------------------------------------------------


class Gate(Middleware):
    async def handshake(self, websocket: WebSocket) -> Response | None:
        if websocket.query_params.get("token") != "open-sesame":
            return PlainTextResponse("no token", 403)
        websocket.state.user = "ali"
        return None


def make_ws_app(*middleware: Middleware, **options: Any) -> tuple[VelociPy, list[str]]:
    app = VelociPy(middleware=list(middleware), **options)
    ran: list[str] = []

    @app.websocket("/ws")
    async def handler(websocket: WebSocket) -> None:
        ran.append("handler")
        await websocket.accept()
        await websocket.send_text(f"hello {websocket.state.user}")
        await websocket.close()

    return app, ran


def test_a_handshake_hook_refuses_before_the_handler_runs(make_client: ClientFactory) -> None:
    app, ran = make_ws_app(Gate())
    client = make_client(app)
    with pytest.raises(WebSocketDenied) as denied:
        client.websocket_connect("/ws")
    assert denied.value.status_code == 403
    assert ran == []
    with client.websocket_connect("/ws?token=open-sesame") as session:
        assert session.receive_text() == "hello ali"
    assert ran == ["handler"]


def test_handshake_refusal_status_and_errors(
    make_client: ClientFactory, protocol: str, caplog: pytest.LogCaptureFixture
) -> None:
    class Picky(Middleware):
        async def handshake(self, websocket: WebSocket) -> Response | None:
            reason = websocket.query_params.get("fail")
            if reason == "http":
                raise HTTPException(401, "who are you")
            if reason == "boom":
                raise RuntimeError("hook exploded")
            if reason == "junk":
                return "not a response"  # type: ignore[return-value]
            return PlainTextResponse("teapot", 418, {"x-why": "tea"})

    app, ran = make_ws_app(Picky())
    client = make_client(app, raise_server_exceptions=False)
    expected = {"http": 401, "boom": 500, "junk": 500, "other": 418}
    for reason, status in expected.items():
        with (
            caplog.at_level(logging.ERROR, logger="velocipy"),
            pytest.raises(WebSocketDenied) as denied,
        ):
            client.websocket_connect(f"/ws?fail={reason}")
        assert denied.value.status_code == status
        if protocol == "asgi" and reason == "other":  # headers travel only on ASGI
            assert ("x-why", "tea") in denied.value.headers
    assert ran == []
    messages = [r.getMessage() for r in caplog.records if r.name == "velocipy"]
    assert any("Picky.handshake raised" in m for m in messages)
    assert any("not a Response or None" in m for m in messages)


def test_debug_reraises_a_handshake_error(make_client: ClientFactory) -> None:
    class Boom(Middleware):
        async def handshake(self, websocket: WebSocket) -> Response | None:
            raise RuntimeError("debug the hook")

    app, _ = make_ws_app(Boom(), debug=True)
    with pytest.raises(RuntimeError, match="debug the hook"):
        make_client(app).websocket_connect("/ws")


def test_class_given_without_options_is_instantiated(client_for: ClientFactory) -> None:
    class Stamp(Middleware):
        async def dispatch(self, request: Request, call_next: CallNext) -> Response:
            response = await call_next(request)
            response.headers["x-stamp"] = "1"
            return response

    app = VelociPy(middleware=[Stamp])

    @app.get("/")
    async def home() -> str:
        return "ok"

    assert client_for(app).get("/").headers["x-stamp"] == "1"
