"""Where features meet: every built-in middleware x every response kind x after-response work.

Each route has a background task and a ``yield`` provider attached and records, in order, when
its body was closed, when the background task ran and how the provider ended (``commit`` or the
exception thrown in at its ``yield``, so a provider closed by the garbage collector, which sees
``GeneratorExit``, never passes for teardown). Runs on ASGI and RSGI through the test client;
tests/interop/test_response_lifecycle.py holds the same rules on real servers.
"""

from __future__ import annotations

import gzip
import json
import logging
import zlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest

from velocipy import (
    BackgroundTasks,
    Depends,
    FileResponse,
    JSONResponse,
    Request,
    Response,
    StreamingResponse,
    VelociPy,
)
from velocipy.middleware import (
    CORSMiddleware,
    GZipMiddleware,
    HTTPSRedirectMiddleware,
    Middleware,
    ProxyHeadersMiddleware,
    SecurityHeadersMiddleware,
    SessionMiddleware,
    TrustedHostMiddleware,
    WebSocketOriginMiddleware,
)
from velocipy.sse import EventSourceResponse
from velocipy.testing import TestClient
from velocipy.testing.errors import IncompleteResponse

ORIGIN = "https://site.example"
TEXT = "a line of text that is long enough to be worth compressing\n" * 20

MIDDLEWARE: dict[str, list[tuple[type[Middleware], dict[str, Any]]]] = {
    "none": [],
    "cors": [(CORSMiddleware, {"allow_origins": [ORIGIN]})],
    "gzip": [(GZipMiddleware, {"minimum_size": 1})],
    "httpsredirect": [(HTTPSRedirectMiddleware, {})],
    "proxyheaders": [(ProxyHeadersMiddleware, {})],
    "securityheaders": [(SecurityHeadersMiddleware, {})],
    "sessions": [(SessionMiddleware, {"secret_key": "k" * 32})],
    "trustedhost": [(TrustedHostMiddleware, {"allowed_hosts": ["testserver"]})],
    "websocket_origin": [(WebSocketOriginMiddleware, {"allowed_origins": [ORIGIN]})],
}
MIDDLEWARE["all"] = [entry for entries in MIDDLEWARE.values() for entry in entries]

KINDS = ("bytes", "json", "stream", "file", "sse", "not-modified", "unsatisfiable", "missing-file")
STREAM_KINDS = ("stream", "lines", "sse", "file")
HEADERS = {
    "accept-encoding": "gzip",
    "origin": ORIGIN,
    "x-forwarded-for": "10.1.2.3",
    "x-forwarded-proto": "https",
}


class Body:
    """An async iterator over ``TEXT`` (in lines) that records when it is closed."""

    def __init__(self, events: list[str]) -> None:
        self.events = events
        self.lines = iter(TEXT.splitlines(keepends=True))

    def __aiter__(self) -> Body:
        return self

    async def __anext__(self) -> str:
        try:
            return next(self.lines)
        except StopIteration:
            raise StopAsyncIteration from None

    async def aclose(self) -> None:
        self.events.append("body closed")


class Lines:
    """The same as a plain iterator (advanced in a worker thread), closed with ``close``."""

    def __init__(self, events: list[str]) -> None:
        self.events = events
        self.lines = iter(TEXT.splitlines(keepends=True))

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        return next(self.lines)

    def close(self) -> None:
        self.events.append("body closed")


async def transaction(request: Request) -> AsyncIterator[None]:
    """A provider that records how it ended: commit, or the exception thrown in at ``yield``."""
    events: list[str] = request.app.state.events
    try:
        yield
    except BaseException as exc:
        events.append(f"provider saw {type(exc).__name__}")
        raise
    else:
        events.append("provider commit")


Transaction = Annotated[None, Depends(transaction)]


def build_app(middleware: str, events: list[str], file: Path) -> VelociPy:
    app = VelociPy()
    for cls, options in MIDDLEWARE[middleware]:
        app.add_middleware(cls, **options)

    app.state.events = events

    @app.get("/{kind}")
    async def answer(
        kind: str, request: Request, tasks: BackgroundTasks, tx: Transaction
    ) -> Response:
        tasks.add_task(events.append, "background")
        if "sessions" in middleware or middleware == "all":
            request.session["seen"] = kind
        if kind == "bytes":
            return Response(TEXT, media_type="text/plain")
        if kind == "json":
            return JSONResponse({"text": TEXT})
        if kind == "stream":
            return StreamingResponse(Body(events), media_type="text/plain")
        if kind == "lines":
            return StreamingResponse(Lines(events), media_type="text/plain")
        if kind == "sse":
            return EventSourceResponse(Body(events), ping=None)
        if kind == "broken":

            async def broken() -> AsyncIterator[str]:
                yield "first\n"
                raise RuntimeError("the body broke")

            return StreamingResponse(broken(), media_type="text/plain")
        if kind == "bad-status":
            return StreamingResponse(Body(events), status_code=1000, media_type="text/plain")
        if kind == "bad-json":
            return JSONResponse({"not json": object()})
        if kind == "missing-file":
            return FileResponse(file.with_name("missing.txt"), media_type="text/plain")
        return FileResponse(file, media_type="text/plain")

    return app


@pytest.fixture
def text_file(tmp_path: Path) -> Path:
    path = tmp_path / "text.txt"
    path.write_text(TEXT)
    return path


def request_headers(client: TestClient, kind: str, file: Path) -> dict[str, str]:
    headers = dict(HEADERS)
    if kind in ("not-modified", "unsatisfiable"):
        etag = client.get("/file", headers=HEADERS).headers["etag"]
        if kind == "not-modified":
            headers["if-none-match"] = etag
        else:
            headers["range"] = f"bytes={len(TEXT) + 10}-"
    return headers


def expected_body(kind: str) -> str:
    if kind == "sse":
        return "".join(f"data: {line}\ndata: \n\n" for line in TEXT.splitlines())
    if kind == "not-modified":
        return ""
    if kind == "unsatisfiable":
        return '{"detail":"Range Not Satisfiable"}'
    if kind == "missing-file":
        return '{"detail":"File not found"}'
    return TEXT


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("middleware", list(MIDDLEWARE))
def test_after_work_survives_every_middleware(
    protocol: str, middleware: str, kind: str, text_file: Path
) -> None:
    events: list[str] = []
    app = build_app(middleware, events, text_file)
    with TestClient(app, interface=protocol, base_url="https://testserver") as client:  # type: ignore[arg-type]
        headers = request_headers(client, kind, text_file)
        events.clear()
        route = "file" if kind in ("not-modified", "unsatisfiable") else kind
        response = client.get(f"/{route}", headers=headers)
    status = {"not-modified": 304, "unsatisfiable": 416, "missing-file": 404}.get(kind, 200)
    assert response.status_code == status, response.content
    body = response.raw_content  # the bytes on the wire (the client decodes .content)
    if response.headers.get("content-encoding") == "gzip":
        body = gzip.decompress(body)
    if kind == "json":
        assert json.loads(body) == {"text": TEXT}
    else:
        assert body.decode() == expected_body(kind)
    closed = ["body closed"] if kind in ("stream", "sse") else []
    assert events == [*closed, "background", "provider commit"]


@pytest.mark.parametrize("kind", STREAM_KINDS)
@pytest.mark.parametrize("middleware", ["none", "gzip", "all"])
def test_head_closes_every_stream_kind(
    protocol: str, middleware: str, kind: str, text_file: Path
) -> None:
    events: list[str] = []
    app = build_app(middleware, events, text_file)
    with TestClient(app, interface=protocol, base_url="https://testserver") as client:  # type: ignore[arg-type]
        response = client.head(f"/{kind}", headers=HEADERS)
    assert response.status_code == 200
    assert response.content == b""
    closed = [] if kind == "file" else ["body closed"]  # a file is only opened to be sent
    assert events == [*closed, "background", "provider commit"]


@pytest.mark.parametrize("middleware", ["none", "gzip", "all"])
def test_a_body_failing_after_it_started_skips_tasks_and_tells_the_provider(
    protocol: str, middleware: str, text_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    events: list[str] = []
    app = build_app(middleware, events, text_file)
    with TestClient(
        app,
        interface=protocol,  # type: ignore[arg-type]
        base_url="https://testserver",
        raise_server_exceptions=False,
    ) as client:
        if protocol == "asgi":  # the server drops the connection: the client sees that
            with pytest.raises(IncompleteResponse):
                client.get("/broken", headers=HEADERS)
        else:  # RSGI cannot abort a stream: the body ends early, normally
            response = client.get("/broken", headers=HEADERS)
            body = response.raw_content
            if response.headers.get("content-encoding") == "gzip":  # a gzip stream cut short
                body = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(body)
            assert (response.status_code, body) == (200, b"first\n")
    assert events == ["provider saw RuntimeError"]
    skipped = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(skipped) == 1, caplog.records
    assert skipped[0].getMessage().startswith("skipped BackgroundTasks(")
    assert "RuntimeError: the body broke" in skipped[0].getMessage()


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("bad-status", ["body closed", "provider saw ValueError"]),
        ("bad-json", ["provider saw TypeError"]),
    ],
)
@pytest.mark.parametrize("middleware", ["none", "gzip", "all"])
def test_a_response_that_cannot_be_sent_becomes_a_500_that_keeps_the_after_work(
    protocol: str,
    middleware: str,
    kind: str,
    expected: list[str],
    text_file: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The app answers 500 in place of the handler's response: that response's body is closed
    unsent, its provider sees why, its background tasks are skipped (one warning)."""
    events: list[str] = []
    app = build_app(middleware, events, text_file)
    with TestClient(app, interface=protocol, base_url="https://testserver") as client:  # type: ignore[arg-type]
        response = client.get(f"/{kind}", headers=HEADERS)
    body = response.raw_content  # the bytes on the wire
    if response.headers.get("content-encoding") == "gzip":
        body = gzip.decompress(body)
    assert (response.status_code, body) == (500, b'{"detail":"Internal Server Error"}')
    assert events == expected
    skipped = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(skipped) == 1, caplog.records
    assert skipped[0].getMessage().startswith("skipped BackgroundTasks(")
