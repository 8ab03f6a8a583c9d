"""The same endpoints written for each framework the suite measures.

Scenarios: a static plaintext route, a JSON route, and a route with an int path parameter, plus
a WebSocket echo at ``/ws``. The bare, VelociPy and Starlette apps also have a hub at ``/hub``:
each text message a socket sends is sent to every socket connected there (the scale tier's
broadcast). ``fillers`` registers that many extra routes first (half static,
half with a parameter), so a router that scans its routes pays for them as a real app would.
Each factory returns an app for "asgi" or "rsgi", or None when the framework cannot serve that
interface (or is not installed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec
from floor import floor_app


@dataclass(frozen=True)
class Scenario:
    name: str
    request: tuple[str, str, str]  # method, path, query


SCENARIOS = (
    Scenario("plaintext", ("GET", "/plaintext", "")),
    Scenario("json", ("GET", "/json", "")),
    Scenario("path-param", ("GET", "/users/42", "")),
)

PLAIN = b"Hello, World!"
MESSAGE = {"message": "Hello, World!"}


# Annotations here are strings (``from __future__ import annotations``); peers that resolve a
# handler's annotations from its module globals cannot see names imported inside a factory, so
# WebSocket handlers get their annotations as objects ("see _resolved()").
FILLER_COUNT = 20  # routes registered before the measured ones in the end-to-end apps


def filler_paths(count: int) -> list[tuple[str, str | None]]:
    """(path, None) for a static route, (prefix, parameter name) for one with a parameter."""
    return [
        (f"/filler/{i}/items", None) if i % 2 == 0 else (f"/filler/{i}/items", "item_id")
        for i in range(count)
    ]


# --- bare, hand-written apps: the floor every framework is compared with ------------------
def bare(interface: str, fillers: int = 0) -> Any:
    encode = msgspec.json.Encoder().encode  # the fastest encoder a hand-written app could use
    text_headers = [(b"content-type", b"text/plain"), (b"content-length", b"13")]

    if interface == "asgi":

        async def asgi_websocket(receive: Any, send: Any) -> None:
            await receive()  # websocket.connect
            await send({"type": "websocket.accept"})
            while True:
                message = await receive()
                if message["type"] != "websocket.receive":
                    return
                if message.get("text") is not None:
                    await send({"type": "websocket.send", "text": message["text"]})
                else:
                    await send({"type": "websocket.send", "bytes": message["bytes"]})

        hub: set[Any] = set()

        async def asgi_hub(receive: Any, send: Any) -> None:
            await receive()  # websocket.connect
            await send({"type": "websocket.accept"})
            hub.add(send)
            try:
                while True:
                    message = await receive()
                    if message["type"] != "websocket.receive":
                        return
                    frame = {"type": "websocket.send", "text": message.get("text") or ""}
                    for member in list(hub):
                        await member(frame)
            finally:
                hub.discard(send)

        async def asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            kind = scope["type"]
            if kind == "websocket":
                if scope["path"] == "/hub":
                    await asgi_hub(receive, send)
                else:
                    await asgi_websocket(receive, send)
                return
            if kind != "http":  # lifespan
                message = await receive()
                while message["type"] != "lifespan.shutdown":
                    await send({"type": "lifespan.startup.complete"})
                    message = await receive()
                await send({"type": "lifespan.shutdown.complete"})
                return
            path = scope["path"]
            if path == "/plaintext":
                body, headers = PLAIN, text_headers
            elif path == "/json":
                body = encode(MESSAGE)
                headers = [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ]
            else:
                body = encode({"id": int(path.rsplit("/", 1)[1])})
                headers = [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        return asgi_app

    async def rsgi_websocket(protocol: Any) -> None:
        transport = await protocol.accept()
        while True:
            message = await transport.receive()
            if message.kind == 0:  # close
                break
            if message.kind == 2:  # text
                await transport.send_str(message.data)
            else:
                await transport.send_bytes(message.data)
        protocol.close(None)

    rsgi_hub_members: set[Any] = set()

    async def rsgi_hub(protocol: Any) -> None:
        transport = await protocol.accept()
        rsgi_hub_members.add(transport)
        try:
            while True:
                message = await transport.receive()
                if message.kind == 0:  # close
                    break
                for member in list(rsgi_hub_members):
                    await member.send_str(message.data)
        finally:
            rsgi_hub_members.discard(transport)
        protocol.close(None)

    async def rsgi_app(scope: Any, protocol: Any) -> None:
        if scope.proto == "ws":
            if scope.path == "/hub":
                await rsgi_hub(protocol)
            else:
                await rsgi_websocket(protocol)
            return
        path = scope.path
        if path == "/plaintext":
            protocol.response_bytes(200, [("content-type", "text/plain")], PLAIN)
        elif path == "/json":
            protocol.response_bytes(200, [("content-type", "application/json")], encode(MESSAGE))
        else:
            body = encode({"id": int(path.rsplit("/", 1)[1])})
            protocol.response_bytes(200, [("content-type", "application/json")], body)

    return rsgi_app


def velocipy_app(interface: str, fillers: int = 0) -> Any:
    from velocipy import PlainTextResponse, VelociPy, WebSocket

    app = VelociPy()

    for path, param in filler_paths(fillers):
        if param is None:

            async def filler() -> str:
                return "filler"

            app.add_route(path, filler, ["GET"], name=path)
        else:

            async def filler_param(item_id: int) -> str:
                return "filler"

            app.add_route(f"{path}/{{{param}}}", filler_param, ["GET"], name=path)

    @app.get("/plaintext")
    async def plaintext() -> PlainTextResponse:
        return PlainTextResponse(PLAIN)

    @app.get("/json")
    async def json_route() -> dict[str, str]:
        return MESSAGE

    @app.get("/users/{user_id:int}")
    async def user(user_id: int) -> dict[str, int]:
        return {"id": user_id}

    @app.websocket("/ws")
    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        async for text in websocket.iter_text():
            await websocket.send_text(text)

    members: set[WebSocket] = set()

    @app.websocket("/hub")
    async def hub(websocket: WebSocket) -> None:
        await websocket.accept()
        members.add(websocket)
        try:
            async for text in websocket.iter_text():
                for member in list(members):
                    await member.send_text(text)
        finally:
            members.discard(websocket)

    return app


def starlette_app(interface: str, fillers: int = 0) -> Any:
    if interface != "asgi":
        return None
    try:
        from starlette.applications import Starlette
        from starlette.responses import JSONResponse, PlainTextResponse
        from starlette.routing import Route, WebSocketRoute
        from starlette.websockets import WebSocket
    except ImportError:
        return None

    async def plaintext(request: Any) -> Any:
        return PlainTextResponse(PLAIN)

    async def json_route(request: Any) -> Any:
        return JSONResponse(MESSAGE)

    async def user(request: Any) -> Any:
        return JSONResponse({"id": request.path_params["user_id"]})

    async def filler(request: Any) -> Any:
        return PlainTextResponse("filler")

    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        async for text in websocket.iter_text():
            await websocket.send_text(text)

    members: set[WebSocket] = set()

    async def hub(websocket: WebSocket) -> None:
        await websocket.accept()
        members.add(websocket)
        try:
            async for text in websocket.iter_text():
                for member in list(members):
                    await member.send_text(text)
        finally:
            members.discard(websocket)

    routes = [
        Route(path if param is None else f"{path}/{{{param}:int}}", filler)
        for path, param in filler_paths(fillers)
    ]
    return Starlette(
        routes=[
            *routes,
            Route("/plaintext", plaintext),
            Route("/json", json_route),
            Route("/users/{user_id:int}", user),
            WebSocketRoute("/ws", echo),
            WebSocketRoute("/hub", hub),
        ]
    )


def fastapi_app(interface: str, fillers: int = 0) -> Any:
    if interface != "asgi":
        return None
    try:
        from fastapi import FastAPI, WebSocket, WebSocketDisconnect
        from fastapi.responses import PlainTextResponse
    except ImportError:
        return None
    app = FastAPI()

    for path, param in filler_paths(fillers):
        if param is None:

            async def filler() -> Any:
                return "filler"

            app.get(path)(filler)
        else:

            async def filler_param(item_id: int) -> Any:
                return "filler"

            app.get(f"{path}/{{{param}}}")(filler_param)

    @app.get("/plaintext", response_class=PlainTextResponse)
    async def plaintext() -> Any:
        return PlainTextResponse(PLAIN)

    @app.get("/json")
    async def json_route() -> Any:
        return MESSAGE

    @app.get("/users/{user_id}")
    async def user(user_id: int) -> Any:
        return {"id": user_id}

    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            while True:
                await websocket.send_text(await websocket.receive_text())
        except WebSocketDisconnect:
            pass

    echo.__annotations__ = {"websocket": WebSocket, "return": None}  # objects, not strings
    app.websocket("/ws")(echo)
    return app


def litestar_app(interface: str, fillers: int = 0) -> Any:
    if interface != "asgi":
        return None
    try:
        from litestar import Litestar, MediaType, WebSocket, get, websocket
        from litestar.exceptions import WebSocketDisconnect
    except ImportError:
        return None

    handlers: list[Any] = []
    for path, param in filler_paths(fillers):
        if param is None:

            @get(path, media_type=MediaType.TEXT, name=path)
            async def filler() -> str:
                return "filler"

            handlers.append(filler)
        else:

            @get(f"{path}/{{{param}:int}}", media_type=MediaType.TEXT, name=path)
            async def filler_param(item_id: int) -> str:
                return "filler"

            handlers.append(filler_param)

    @get("/plaintext", media_type=MediaType.TEXT)
    async def plaintext() -> bytes:
        return PLAIN

    @get("/json")
    async def json_route() -> dict[str, str]:
        return MESSAGE

    @get("/users/{user_id:int}")
    async def user(user_id: int) -> dict[str, int]:
        return {"id": user_id}

    async def echo(socket: WebSocket) -> None:
        await socket.accept()
        try:
            while True:
                await socket.send_text(await socket.receive_text())
        except WebSocketDisconnect:
            pass

    echo.__annotations__ = {"socket": WebSocket, "return": None}  # objects, not strings
    return Litestar(
        route_handlers=[*handlers, plaintext, json_route, user, websocket("/ws")(echo)],
        logging_config=None,
    )


def blacksheep_app(interface: str, fillers: int = 0) -> Any:
    if interface != "asgi":
        return None
    try:
        from blacksheep import Application, WebSocket, WebSocketDisconnectError, json, text
        from blacksheep.server.routing import Router
    except ImportError:
        return None
    app = Application(router=Router())  # its own router: the default one is shared
    get = app.router.get

    for path, param in filler_paths(fillers):
        if param is None:

            async def filler() -> Any:
                return text("filler")

            get(path)(filler)
        else:

            async def filler_param(item_id: int) -> Any:
                return text("filler")

            get(f"{path}/{{int:{param}}}")(filler_param)

    @get("/plaintext")
    async def plaintext() -> Any:
        return text("Hello, World!")

    @get("/json")
    async def json_route() -> Any:
        return json(MESSAGE)

    @get("/users/{int:user_id}")
    async def user(user_id: int) -> Any:
        return json({"id": user_id})

    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            while True:
                await websocket.send_text(await websocket.receive_text())
        except WebSocketDisconnectError:
            pass

    echo.__annotations__ = {"websocket": WebSocket, "return": None}  # objects, not strings
    app.router.ws("/ws")(echo)
    return app


def emmett_app(interface: str, fillers: int = 0) -> Any:
    try:
        from emmett import App, websocket
        from emmett.tools import service
    except ImportError:
        return None
    import tempfile
    from pathlib import Path

    # Emmett creates languages/, logs/ and static/ under its root: one fixed scratch folder.
    root = Path(tempfile.gettempdir()) / "velocipy-bench-emmett"
    app = App("bench_emmett", root_path=str(root))

    for index, (path, param) in enumerate(filler_paths(fillers)):
        if param is None:

            async def filler() -> str:
                return "filler"

            app.route(path, methods="get", output="str", name=f"filler{index}")(filler)
        else:

            async def filler_param(item_id: int) -> str:
                return "filler"

            app.route(f"{path}/<int:{param}>", methods="get", output="str", name=f"filler{index}")(
                filler_param
            )

    @app.route("/plaintext", methods="get", output="bytes")
    async def plaintext() -> bytes:
        return PLAIN

    @app.route("/json", methods="get")
    @service.json
    async def json_route() -> dict[str, str]:
        return MESSAGE

    @app.route("/users/<int:user_id>", methods="get")
    @service.json
    async def user(user_id: int) -> dict[str, int]:
        return {"id": user_id}

    @app.websocket("/ws")
    async def echo() -> None:
        await websocket.accept()
        while True:
            await websocket.send(await websocket.receive())

    return app


def velocipy_pypi_app(interface: str, fillers: int = 0) -> Any:
    """The other framework named velocipy on the package index (0.3.0), in its own virtualenv.

    It shares our import name, so this factory only works in ``bench/.venvs/velocipy-pypi``.
    """
    try:
        import velocipy
        from velocipy import PlainTextResponse, VelociPy
    except ImportError:
        return None
    if not hasattr(velocipy, "Cache"):  # ours: this is not the package-index framework
        return None
    app = VelociPy()

    for path, param in filler_paths(fillers):
        if param is None:

            async def filler() -> str:
                return "filler"

            app.get(path)(filler)
        else:

            async def filler_param(item_id: int) -> str:
                return "filler"

            app.get(f"{path}/{{{param}}}")(filler_param)

    @app.get("/plaintext")
    async def plaintext() -> Any:
        return PlainTextResponse(PLAIN)

    @app.get("/json")
    async def json_route() -> Any:
        return MESSAGE

    async def user(user_id: int) -> Any:
        return {"id": user_id}

    user.__annotations__ = {"user_id": int, "return": Any}  # objects, not strings
    app.get("/users/{user_id}")(user)

    async def echo(websocket: Any) -> None:
        await websocket.accept()
        try:
            while True:
                await websocket.send_text(await websocket.receive_text())
        except Exception:  # its disconnect exception: the echo ends either way
            pass

    echo.__annotations__ = {"websocket": velocipy.WebSocket, "return": None}
    app.websocket("/ws")(echo)
    return app


FACTORIES: dict[str, Callable[..., Any]] = {
    "bare": bare,
    "floor": floor_app,
    "velocipy": velocipy_app,
    "starlette": starlette_app,
    "fastapi": fastapi_app,
    "litestar": litestar_app,
    "blacksheep": blacksheep_app,
    "emmett": emmett_app,
    "velocipy-pypi": velocipy_pypi_app,
}


REFERENCES = frozenset({"bare", "floor"})
"""Hand-written apps measured for comparison: never peers (``floor.py`` says what the floor is)."""


def build_apps(only: list[str] | None) -> dict[str, Callable[..., Any]]:
    names = ["bare", *(only or [n for n in FACTORIES if n != "bare"])]
    return {name: FACTORIES[name] for name in names if name in FACTORIES}
