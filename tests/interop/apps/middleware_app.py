"""Apps with every built-in middleware, served by real uvicorn and granian processes in
tests/interop/test_middleware_interop.py and tests/interop/test_cors_in_browser.py.

``app`` trusts the loopback proxy; ``untrusted_app`` trusts only 10.0.0.0/8, so forged
forwarding headers from the loopback test client must change nothing there.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

from velocipy import PlainTextResponse, Request, Response, StreamingResponse, VelociPy, WebSocket
from velocipy.middleware import (
    CORSMiddleware,
    GZipMiddleware,
    HTTPSRedirectMiddleware,
    ProxyHeadersMiddleware,
    SecurityHeadersMiddleware,
    SessionMiddleware,
    TrustedHostMiddleware,
)

SECRET = "interop-session-secret-0123456789"
# The browser test serves its page from this origin; set by the test for each run.
PAGE_ORIGIN = os.environ.get("MIDDLEWARE_PAGE_ORIGIN", "http://127.0.0.1:1")
BIG = "the quick velociraptor jumps over the lazy developer\n" * 200
STREAM_CHUNKS = [f"chunk {i}: {'x' * 40}\n" for i in range(30)]

app = VelociPy(
    middleware=[
        ProxyHeadersMiddleware(trusted_proxies=["127.0.0.1", "::1"]),
        TrustedHostMiddleware(allowed_hosts=["127.0.0.1", "localhost", "*.example.test"]),
        CORSMiddleware(
            allow_origins=[PAGE_ORIGIN],
            allow_methods=["GET", "POST", "PUT"],
            allow_headers=["x-api-key"],
            allow_credentials=True,
            expose_headers=["x-request-count"],
        ),
        GZipMiddleware(minimum_size=200),
        SessionMiddleware(secret_key=SECRET),
        SecurityHeadersMiddleware(content_security_policy="default-src 'self'"),
    ],
    websocket_origins=[PAGE_ORIGIN],
)
release_stream = asyncio.Event()


@app.get("/api/data")
async def data(request: Request) -> Response:
    visits = int(request.session.get("visits", 0)) + 1
    request.session["visits"] = visits
    return PlainTextResponse(
        f"data visit {visits}", headers={"x-request-count": str(visits), "x-hidden": "1"}
    )


@app.put("/api/data")
async def put_data(request: Request) -> dict[str, str]:
    return {"key": request.headers.get("x-api-key", "")}


@app.get("/big")
async def big() -> Response:
    return PlainTextResponse(BIG)


@app.get("/stream")
async def stream() -> Response:
    async def chunks() -> AsyncIterator[str]:
        for chunk in STREAM_CHUNKS:
            yield chunk

    return StreamingResponse(chunks(), media_type="text/plain")


@app.get("/held-stream")
async def held_stream() -> Response:
    """First chunk at once, the rest only after /release: proves chunks are not held back."""
    release_stream.clear()

    async def chunks() -> AsyncIterator[str]:
        yield "first line before the release\n"
        await asyncio.wait_for(release_stream.wait(), 20)
        yield "second line after the release\n"

    return StreamingResponse(chunks(), media_type="text/plain")


@app.post("/release")
async def release() -> str:
    release_stream.set()
    return "released"


@app.get("/who")
async def who(request: Request) -> dict[str, object]:
    client = request.client
    return {"client": client.host if client else None, "url": str(request.url)}


@app.post("/login/{name}")
async def login(request: Request, name: str) -> str:
    request.session["user"] = name
    return "logged in"


@app.get("/me")
async def me(request: Request) -> dict[str, object]:
    return dict(request.session)


@app.websocket("/ws")
async def ws(websocket: WebSocket) -> None:
    await websocket.accept()
    client = websocket.client
    await websocket.send_json(
        {
            "user": websocket.session.get("user"),
            "url": str(websocket.url),
            "client": client.host if client else None,
        }
    )
    async for text in websocket.iter_text():
        await websocket.send_text(f"echo: {text}")


untrusted_app = VelociPy(
    middleware=[
        ProxyHeadersMiddleware(trusted_proxies=["10.0.0.0/8"]),
        HTTPSRedirectMiddleware(),
    ]
)


@untrusted_app.get("/who")
async def untrusted_who(request: Request) -> dict[str, object]:
    client = request.client
    return {"client": client.host if client else None, "url": str(request.url)}


@untrusted_app.websocket("/ws")
async def untrusted_ws(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.close()
