"""httpx clients over the in-process drivers (``velocipy.testing.transport``), ASGI and RSGI."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from velocipy import (
    BackgroundTasks,
    Request,
    Response,
    UploadFile,
    VelociPy,
)
from velocipy.responses import RedirectResponse
from velocipy.testing.transport import AsyncVelociPyTransport, VelociPyTransport


def build_app(events: list[str]) -> VelociPy:
    app = VelociPy(on_startup=[lambda: events.append("startup")])

    @app.post("/upload")
    async def upload(file: UploadFile, tasks: BackgroundTasks) -> dict[str, Any]:
        tasks.add_task(events.append, f"stored {file.filename}")
        return {"filename": file.filename, "size": file.size}

    @app.get("/login")
    async def login() -> Response:
        response = RedirectResponse("/me", status_code=303)
        response.set_cookie("session", "abc")
        return response

    @app.get("/me")
    async def me(request: Request) -> dict[str, Any]:
        return {"session": request.cookies.get("session"), "q": request.query_params.get("q")}

    return app


def test_httpx_client_with_cookies_redirects_and_multipart(protocol: str) -> None:
    events: list[str] = []
    transport = VelociPyTransport(build_app(events), protocol)
    with httpx.Client(transport=transport, base_url="http://testserver") as client:
        assert events == ["startup"]
        sent = client.post("/upload", files={"file": ("a b.txt", b"12345")})
        assert sent.json() == {"filename": "a b.txt", "size": 5}
        assert events[-1] == "stored a b.txt"
        me = client.get("/login", follow_redirects=True)
        assert me.json() == {"session": "abc", "q": None}
        assert client.get("/me", params={"q": "x y"}).json() == {"session": "abc", "q": "x y"}


def test_httpx_async_client(protocol: str) -> None:
    events: list[str] = []

    async def main() -> list[Any]:
        transport = AsyncVelociPyTransport(build_app(events), protocol)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            uploads = [
                client.post("/upload", files={"file": (f"{i}.txt", b"x" * i)}) for i in range(3)
            ]
            return [r.json() for r in await asyncio.gather(*uploads)]

    results = asyncio.run(main())
    assert results == [{"filename": f"{i}.txt", "size": i} for i in range(3)]
    assert events[0] == "startup"
    assert sorted(events[1:]) == ["stored 0.txt", "stored 1.txt", "stored 2.txt"]
