"""Mounting ASGI applications, in process over ASGI and RSGI (the ``protocol`` fixture).

A raw ASGI app records the scope it is called with and answers from it; the outer VelociPy
app routes, runs its middleware and hands the connection over.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import ClientFactory
from velocipy import Request, Response, VelociPy
from velocipy.mounts import below_root_path
from velocipy.staticfiles import StaticFiles
from velocipy.testing import TestClient, WebSocketDenied


class RecordingApp:
    """An ASGI app that answers with its scope, its body and its lifespan events."""

    def __init__(self) -> None:
        self.events: list[str] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                step = message["type"].rsplit(".", 1)[1]
                self.events.append(step)
                if step == "startup":
                    scope["state"]["greeting"] = "hello from lifespan"
                await send({"type": f"lifespan.{step}.complete"})
                if step == "shutdown":
                    return
        elif scope["type"] == "http":
            body = b""
            while True:
                message = await receive()
                body += message.get("body", b"")
                if not message.get("more_body"):
                    break
            answer = {
                "path": scope["path"],
                "root_path": scope["root_path"],
                "method": scope["method"],
                "query": scope["query_string"].decode(),
                "body": body.decode(),
                "host": dict(scope["headers"]).get(b"host", b"").decode(),
                "state": scope.get("state", {}).get("greeting"),
            }
            await send(
                {
                    "type": "http.response.start",
                    "status": 201,
                    "headers": [(b"content-type", b"application/json"), (b"x-sub", b"1")],
                }
            )
            payload = json.dumps(answer).encode()
            await send({"type": "http.response.body", "body": payload[:5], "more_body": True})
            await send({"type": "http.response.body", "body": payload[5:]})
        else:
            message = await receive()
            assert message["type"] == "websocket.connect"
            if scope["path"].endswith("/refuse"):
                await send({"type": "websocket.close", "code": 1008})
                return
            await send({"type": "websocket.accept"})
            while True:
                message = await receive()
                if message["type"] == "websocket.disconnect":
                    return
                reply = f"{scope['root_path']}|{scope['path']}|{message.get('text')}"
                await send({"type": "websocket.send", "text": reply})


def make_app() -> tuple[VelociPy, RecordingApp]:
    app = VelociPy()
    sub = RecordingApp()

    @app.get("/graphqlx")
    async def not_the_mount() -> str:
        return "a route of its own"

    app.mount("/graphql", sub)
    return app, sub


@pytest.mark.parametrize("path", ["/graphql", "/graphql/", "/graphql/deep/er"])
def test_http_reaches_the_mounted_app_with_the_sub_path_scope(
    client_for: ClientFactory, path: str
) -> None:
    app, sub = make_app()
    client = client_for(app)
    response = client.post(f"{path}?q=1", content=b"x" * 70_000)
    assert response.status_code == 201
    assert response.headers["x-sub"] == "1"
    seen = response.json()
    assert seen["path"] == path
    assert seen["root_path"] == "/graphql"
    assert seen["method"] == "POST"
    assert seen["query"] == "q=1"
    assert seen["body"] == "x" * 70_000
    assert seen["host"] == "testserver"
    assert seen["state"] == "hello from lifespan"
    assert sub.events == ["startup"]


def test_neighbour_paths_stay_with_the_outer_app(client_for: ClientFactory) -> None:
    app, _ = make_app()
    client = client_for(app)
    assert client.get("/graphqlx").text == "a route of its own"
    assert client.get("/graph").status_code == 404


def test_lifespan_is_forwarded_startup_and_shutdown(make_client: ClientFactory) -> None:
    app, sub = make_app()
    with make_client(app):
        assert sub.events == ["startup"]
    assert sub.events == ["startup", "shutdown"]


def test_outer_middleware_headers_join_the_mounted_answer(client_for: ClientFactory) -> None:
    app, _ = make_app()

    @app.middleware
    async def tag(request: Request, call_next: Any) -> Response:
        response = await call_next(request)
        response.headers["x-outer"] = "yes"
        return response

    client = client_for(app)
    response = client.get("/graphql/a")
    assert response.status_code == 201
    assert response.headers["x-outer"] == "yes"
    assert response.headers["x-sub"] == "1"


def test_body_read_by_middleware_reaches_the_mounted_app(client_for: ClientFactory) -> None:
    app, _ = make_app()

    @app.middleware
    async def peek(request: Request, call_next: Any) -> Response:
        assert await request.body() == b"payload"
        return await call_next(request)

    assert client_for(app).post("/graphql", content=b"payload").json()["body"] == "payload"


def test_websocket_is_forwarded(client_for: ClientFactory) -> None:
    app, _ = make_app()
    client = client_for(app)
    for path in ("/graphql", "/graphql/live"):
        with client.websocket_connect(path) as ws:
            ws.send_text("hi")
            assert ws.receive_text() == f"/graphql|{path}|hi"


def test_websocket_refused_by_the_mounted_app(client_for: ClientFactory) -> None:
    app, _ = make_app()
    client = client_for(app)
    with pytest.raises(WebSocketDenied) as denied:
        with client.websocket_connect("/graphql/refuse"):
            pass
    assert denied.value.status_code == 403


def test_a_failing_mounted_app_answers_500_and_the_app_stays_up(
    client_for: ClientFactory,
) -> None:
    app = VelociPy()

    async def broken(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            raise RuntimeError("no lifespan here")  # allowed: served without lifespan
        raise RuntimeError("boom")

    @app.get("/ok")
    async def ok() -> str:
        return "ok"

    app.mount("/broken", broken)
    client = client_for(app, raise_server_exceptions=False)
    assert client.get("/broken/x").status_code == 500
    assert client.get("/ok").text == "ok"


def test_another_velocipy_app_mounted(client_for: ClientFactory) -> None:
    inner = VelociPy()

    @inner.get("/hello")
    async def hello(request: Request) -> dict[str, str]:
        return {"path": request.path, "root_path": request.root_path}

    outer = VelociPy()
    outer.mount("/inner", inner)
    client = client_for(outer)
    response = client.get("/inner/hello")
    assert response.json() == {"path": "/hello", "root_path": "/inner"}
    assert client.get("/inner/nothing").status_code == 404


class NotAnApp:
    pass


async def two_arguments(a: Any, b: Any) -> None:
    return None


@pytest.mark.parametrize(
    ("target", "says"),
    [
        (42, "got int 42"),
        (NotAnApp(), "got NotAnApp"),
        (NotAnApp, "the class NotAnApp (pass an instance)"),
        (two_arguments, "takes 2 positional argument(s)"),
    ],
)
def test_mounting_something_else_is_refused_at_registration(target: Any, says: str) -> None:
    app = VelociPy()
    with pytest.raises(TypeError) as refused:
        app.mount("/x", target)
    message = str(refused.value)
    assert message.startswith("mount() takes a handler(request) -> Response")
    assert "ASGI application app(scope, receive, send)" in message
    assert says in message
    assert app.routes == [route for route in app.routes if route.path != "/x/{path:path}"]


def test_a_neutral_handler_still_mounts(tmp_path: Any, client_for: ClientFactory) -> None:
    (tmp_path / "a.txt").write_text("static")
    app = VelociPy()
    app.mount("/static", StaticFiles(directory=tmp_path))
    assert client_for(app).get("/static/a.txt").text == "static"


def test_a_failed_lifespan_startup_of_the_mounted_app_fails_ours(
    make_client: ClientFactory,
) -> None:
    async def failing(scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "lifespan"
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "no database"})

    app = VelociPy()
    app.mount("/sub", failing)
    with pytest.raises(Exception, match="lifespan startup failed: no database"):
        with make_client(app):
            pass


def test_the_origin_guard_runs_before_the_mounted_app(client_for: ClientFactory) -> None:
    app = VelociPy(websocket_origins=["https://app.example"])
    sub = RecordingApp()
    app.mount("/graphql", sub)
    client = client_for(app)
    with client.websocket_connect("/graphql", headers={"origin": "https://app.example"}) as ws:
        ws.send_text("ok")
        assert ws.receive_text() == "/graphql|/graphql|ok"
    with pytest.raises(WebSocketDenied) as denied:
        with client.websocket_connect("/graphql", headers={"origin": "https://evil.example"}):
            pass
    assert denied.value.status_code == 403


def test_a_declared_body_over_the_limit_is_refused_before_the_mounted_app(
    client_for: ClientFactory,
) -> None:
    app = VelociPy(max_body_size=1000)
    sub = RecordingApp()
    app.mount("/graphql", sub)
    client = client_for(app)
    assert client.post("/graphql", content=b"x" * 1000).status_code == 201  # at the limit
    assert client.post("/graphql", content=b"x" * 1001).status_code == 413  # above it


def test_a_velocipy_app_inside_starlette_routes_below_its_root_path() -> None:
    from starlette.applications import Starlette
    from starlette.routing import Mount

    inner = VelociPy()

    @inner.get("/where")
    async def where(request: Request) -> dict[str, str]:
        return {"root_path": request.root_path, "path": request.path}

    host = Starlette(routes=[Mount("/v", app=below_root_path(inner))])
    with TestClient(host) as client:  # Starlette speaks ASGI only
        assert client.get("/v/where").json() == {"root_path": "/v", "path": "/where"}
    bare = Starlette(routes=[Mount("/v", app=inner)])
    with TestClient(bare) as client:  # without it: the full path, which it does not route
        assert client.get("/v/where").status_code == 404
