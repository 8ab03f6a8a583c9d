"""The same three endpoints written for each framework measured by ``inprocess.py``.

Scenarios: a static plaintext route, a JSON route, and a route with an int path parameter.
Each factory returns an app for "asgi" or "rsgi", or None when the framework cannot serve that
interface (or is not installed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec


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


# --- bare, hand-written apps: the floor every framework is compared with ------------------
def bare(interface: str) -> Any:
    encode = msgspec.json.Encoder().encode  # the fastest encoder a hand-written app could use
    text_headers = [(b"content-type", b"text/plain"), (b"content-length", b"13")]

    if interface == "asgi":

        async def asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
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

    async def rsgi_app(scope: Any, protocol: Any) -> None:
        path = scope.path
        if path == "/plaintext":
            protocol.response_bytes(200, [("content-type", "text/plain")], PLAIN)
        elif path == "/json":
            protocol.response_bytes(200, [("content-type", "application/json")], encode(MESSAGE))
        else:
            body = encode({"id": int(path.rsplit("/", 1)[1])})
            protocol.response_bytes(200, [("content-type", "application/json")], body)

    return rsgi_app


def velocipy_app(interface: str) -> Any:
    from velocipy import PlainTextResponse, VelociPy

    app = VelociPy()

    @app.get("/plaintext")
    async def plaintext() -> PlainTextResponse:
        return PlainTextResponse(PLAIN)

    @app.get("/json")
    async def json_route() -> dict[str, str]:
        return MESSAGE

    @app.get("/users/{user_id:int}")
    async def user(user_id: int) -> dict[str, int]:
        return {"id": user_id}

    return app


def starlette_app(interface: str) -> Any:
    if interface != "asgi":
        return None
    try:
        from starlette.applications import Starlette
        from starlette.responses import JSONResponse, PlainTextResponse
        from starlette.routing import Route
    except ImportError:
        return None

    async def plaintext(request: Any) -> Any:
        return PlainTextResponse(PLAIN)

    async def json_route(request: Any) -> Any:
        return JSONResponse(MESSAGE)

    async def user(request: Any) -> Any:
        return JSONResponse({"id": request.path_params["user_id"]})

    return Starlette(
        routes=[
            Route("/plaintext", plaintext),
            Route("/json", json_route),
            Route("/users/{user_id:int}", user),
        ]
    )


def fastapi_app(interface: str) -> Any:
    if interface != "asgi":
        return None
    try:
        from fastapi import FastAPI
        from fastapi.responses import PlainTextResponse
    except ImportError:
        return None
    app = FastAPI()

    @app.get("/plaintext", response_class=PlainTextResponse)
    async def plaintext() -> Any:
        return PlainTextResponse(PLAIN)

    @app.get("/json")
    async def json_route() -> Any:
        return MESSAGE

    @app.get("/users/{user_id}")
    async def user(user_id: int) -> Any:
        return {"id": user_id}

    return app


def litestar_app(interface: str) -> Any:
    if interface != "asgi":
        return None
    try:
        from litestar import Litestar, MediaType, get
    except ImportError:
        return None

    @get("/plaintext", media_type=MediaType.TEXT)
    async def plaintext() -> bytes:
        return PLAIN

    @get("/json")
    async def json_route() -> dict[str, str]:
        return MESSAGE

    @get("/users/{user_id:int}")
    async def user(user_id: int) -> dict[str, int]:
        return {"id": user_id}

    return Litestar(route_handlers=[plaintext, json_route, user], logging_config=None)


def blacksheep_app(interface: str) -> Any:
    if interface != "asgi":
        return None
    try:
        from blacksheep import Application, json, text
    except ImportError:
        return None
    app = Application()
    get = app.router.get

    @get("/plaintext")
    async def plaintext() -> Any:
        return text("Hello, World!")

    @get("/json")
    async def json_route() -> Any:
        return json(MESSAGE)

    @get("/users/{int:user_id}")
    async def user(user_id: int) -> Any:
        return json({"id": user_id})

    return app


FACTORIES: dict[str, Callable[[str], Any]] = {
    "bare": bare,
    "velocipy": velocipy_app,
    "starlette": starlette_app,
    "fastapi": fastapi_app,
    "litestar": litestar_app,
    "blacksheep": blacksheep_app,
}


def build_apps(only: list[str] | None) -> dict[str, Callable[[str], Any]]:
    names = ["bare", *(only or [n for n in FACTORIES if n != "bare"])]
    return {name: FACTORIES[name] for name in names}
