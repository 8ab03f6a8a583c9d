"""One VelociPy app with mounted ASGI apps, served by every server in test_mounts_interop.py.

- ``/graphql``: Strawberry (velocipy.contrib.strawberry), query, mutation and a subscription.
- ``/socket.io``: a python-socketio server (rooms, emits).
- ``/starlette``: a Starlette app with its own middleware, answering with its root_path.
- ``/inner``: another VelociPy app, answering with its root_path and path.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import socketio
import strawberry
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request as StarletteRequest
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route
from strawberry.types import Info

from velocipy import HTMLResponse, Request, VelociPy
from velocipy.contrib.strawberry import GraphQL

NOTES: list[str] = []


@strawberry.type
class Query:
    @strawberry.field
    def hello(self, name: str) -> str:
        return f"Hello {name}"

    @strawberry.field
    def seen_by(self, info: Info) -> str:
        connection = info.context["connection"]
        return f"{connection.headers.get('x-who', '?')} at {connection.app.state.started}"


@strawberry.type
class Mutation:
    @strawberry.mutation
    def add_note(self, text: str) -> int:
        NOTES.append(text)
        return len(NOTES)


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def count(self, upto: int) -> AsyncGenerator[int, None]:
        for number in range(1, upto + 1):
            yield number
            await asyncio.sleep(0)


schema = strawberry.Schema(query=Query, mutation=Mutation, subscription=Subscription)

sio = socketio.AsyncServer(async_mode="asgi")


@sio.event
async def join(sid: str, room: str) -> str:
    await sio.enter_room(sid, room)
    return f"joined {room}"


@sio.event
async def shout(sid: str, data: dict[str, str]) -> None:
    await sio.emit("news", f"{data['text']} to {data['room']}", room=data["room"])


class Tagging(BaseHTTPMiddleware):
    async def dispatch(self, request: StarletteRequest, call_next: Any) -> Any:
        response = await call_next(request)
        response.headers["x-starlette-middleware"] = "ran"
        return response


async def starlette_where(request: StarletteRequest) -> JSONResponse:
    return JSONResponse(
        {
            "root_path": request.scope["root_path"],
            "path": request.url.path,
            "url_for": str(request.url_for("where")),
        }
    )


async def starlette_echo(request: StarletteRequest) -> StreamingResponse:
    """Reads the body as a stream, then streams back each part's size, one line at a time.
    (Starlette's streamed response listens for a disconnect on ``receive`` while it sends, so
    the body is read before the answer starts.)"""
    sizes = [len(chunk) async for chunk in request.stream() if chunk]

    async def lines() -> AsyncIterator[bytes]:
        for size in sizes:
            yield f"{size}\n".encode()

    return StreamingResponse(lines(), media_type="text/plain")


starlette_app = Starlette(
    routes=[
        Route("/where", starlette_where, name="where"),
        Route("/echo", starlette_echo, methods=["POST"]),
    ],
    middleware=[Middleware(Tagging)],
)

inner = VelociPy()


@inner.get("/where")
async def inner_where(request: Request) -> dict[str, str]:
    return {"root_path": request.root_path, "path": request.path}


def started() -> None:
    app.state.started = "startup"


app = VelociPy(on_startup=[started])
app.mount("/graphql", GraphQL(schema))
app.mount("/socket.io", socketio.ASGIApp(sio))
app.mount("/starlette", starlette_app)
app.mount("/inner", inner)


@app.get("/")
async def index() -> str:
    return "outer"


@app.get("/page")
async def page() -> HTMLResponse:
    """A same-origin page for the browser test (a GraphQL subscription from JavaScript)."""
    return HTMLResponse("<!doctype html><title>mounts</title><p>graphql from a browser</p>")
