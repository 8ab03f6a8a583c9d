"""``TestClient``: call an app in process through its real ASGI or RSGI entry points."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import http
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import TracebackType
from typing import Any, Literal, Protocol
from urllib.parse import quote, unquote, urlencode, urlsplit

import httpx
import msgspec

from .asgi import ASGIDriver
from .loop import LoopThread
from .messages import Finished, Headers, RequestSpec, ResponseData
from .request_bodies import (
    FormInput,
    HeaderInput,
    Params,
    body_chunks,
    encode_multipart,
    form_pairs,
    header_pairs,
    param_pairs,
)
from .rsgi import RSGIDriver
from .websocket import (
    AsyncWebSocketTestSession,
    WebSocketChannel,
    WebSocketTestSession,
    serve_websocket,
)

Interface = Literal["asgi", "rsgi"]

_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
_QUERY_SAFE = "/?%:@!$&'()*+,;=-._~"


class Driver(Protocol):
    """What ASGIDriver and RSGIDriver have in common."""

    def start(self, loop: LoopThread, timeout: float) -> None: ...
    def stop(self, loop: LoopThread, timeout: float) -> None: ...
    async def http(self, request: RequestSpec) -> ResponseData: ...
    async def websocket(self, request: RequestSpec, channel: WebSocketChannel) -> Finished: ...


class TestResponse:
    """What the client received: status, headers (case-insensitive, multi-value) and body."""

    __test__ = False

    def __init__(
        self,
        data: ResponseData,
        method: str,
        url: str,
        history: list[TestResponse] | None = None,
    ) -> None:
        self.status_code = data.status
        self.headers = Headers(data.headers)
        self.content = data.body
        #: The body as sent, before ``Content-Encoding`` was decoded (``content`` is decoded).
        self.raw_content = data.body
        self.method = method
        self.url = url
        self.history = history or []

    @classmethod
    def from_httpx(
        cls, response: httpx.Response, history: list[TestResponse] | None = None
    ) -> TestResponse:
        """From httpx's response (body already decoded): what the client finally received."""
        headers = response.extensions.get(_HEADERS)
        if headers is None:
            headers = [(name.lower(), value) for name, value in response.headers.multi_items()]
        data = ResponseData(response.status_code, headers, response.content)
        answer = cls(data, response.request.method, str(response.request.url), history)
        answer.raw_content = response.extensions.get(_RAW, response.content)
        return answer

    @property
    def reason_phrase(self) -> str:
        try:
            return http.HTTPStatus(self.status_code).phrase
        except ValueError:
            return ""

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    @property
    def charset(self) -> str:
        content_type = self.headers.get("content-type", "")
        for param in content_type.split(";")[1:]:
            name, _, value = param.strip().partition("=")
            if name.lower() == "charset" and value:
                return value.strip('"')
        return "utf-8"

    @property
    def text(self) -> str:
        return self.content.decode(self.charset, errors="replace")

    def json(self) -> Any:
        return msgspec.json.decode(self.content)

    def __repr__(self) -> str:
        return f"<TestResponse [{self.status_code}] {self.method} {self.url}>"


class TestClient:
    """Drive ``app`` in process over ASGI (like uvicorn) or RSGI (like granian 2.8.7).

    Without ``with``, each call runs on a fresh event loop and lifespan does not run. Inside
    ``with``, one loop serves every call and lifespan runs on enter (startup) and exit
    (shutdown). An exception escaping the app is re-raised in the test when
    ``raise_server_exceptions`` is true; otherwise the client gets what the real server sends.
    A call that would kill a granian worker always raises ``WorkerCrash``.
    """

    __test__ = False

    def __init__(
        self,
        app: Any,
        interface: Interface = "asgi",
        base_url: str = "http://testserver",
        *,
        raise_server_exceptions: bool = True,
        timeout: float = 10.0,
        chunk_size: int = 64 * 1024,
        headers: HeaderInput = None,
        cookies: Mapping[str, str] | None = None,
        client_address: tuple[str, int] = ("127.0.0.1", 50000),
        follow_redirects: bool = True,
    ) -> None:
        if interface not in ("asgi", "rsgi"):
            raise ValueError(f"interface must be 'asgi' or 'rsgi', not {interface!r}")
        self.app = app
        self.interface = interface
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.chunk_size = chunk_size
        self.headers = header_pairs(headers)
        self.follow_redirects = follow_redirects
        self._http = httpx.Client(
            transport=_DriverTransport(self), base_url=self.base_url, cookies=dict(cookies or {})
        )
        self.client_address = client_address
        self.raise_server_exceptions = raise_server_exceptions
        self._driver: Driver
        if interface == "asgi":
            self._driver = ASGIDriver(app, raise_server_exceptions=raise_server_exceptions)
        else:
            self._driver = RSGIDriver(
                app, raise_server_exceptions=raise_server_exceptions, stream_timeout=timeout / 2
            )
        self._loop: LoopThread | None = None

    # lifespan

    def __enter__(self) -> TestClient:
        if self._loop is not None:
            raise RuntimeError("this TestClient is already running; enter it only once")
        loop = LoopThread()
        try:
            self._driver.start(loop, self.timeout)
        except BaseException:
            loop.close()
            raise
        self._loop = loop
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        loop, self._loop = self._loop, None
        if loop is None:
            return
        try:
            self._driver.stop(loop, self.timeout)
        finally:
            loop.close()

    @contextlib.contextmanager
    def _running_loop(self) -> Iterator[LoopThread]:
        if self._loop is not None:
            yield self._loop
            return
        loop = LoopThread()
        loop.start()
        try:
            yield loop
        finally:
            loop.close()

    # building requests

    def _request_spec(
        self,
        method: str,
        url: str,
        params: Params,
        headers: HeaderInput,
        cookies: Mapping[str, str] | None,
        body: list[bytes],
        extra_headers: list[tuple[str, str]],
    ) -> tuple[RequestSpec, str]:
        base = urlsplit(self.base_url)
        target = urlsplit(url if "://" in url else self.base_url + "/" + url.lstrip("/"))
        scheme = "https" if target.scheme in ("https", "wss") else "http"
        host = target.hostname or "testserver"
        port = target.port or (443 if scheme == "https" else 80)
        raw_path = quote(target.path or "/", safe=_PATH_SAFE)
        query = quote(target.query, safe=_QUERY_SAFE)
        extra_query = urlencode(param_pairs(params))
        query = "&".join(part for part in (query, extra_query) if part)
        netloc = target.netloc or base.netloc
        full_url = f"{scheme}://{netloc}{raw_path}" + (f"?{query}" if query else "")
        defaults = [("host", netloc), ("user-agent", "velocipy-testclient"), ("accept", "*/*")]
        cookie = self._cookie_header(full_url, cookies)
        if cookie:
            defaults.append(("cookie", cookie))
        given = [*self.headers, *header_pairs(headers)]
        given_names = {name for name, _ in given}
        wire = [(n, v) for n, v in [*defaults, *extra_headers] if n not in given_names] + given
        spec = RequestSpec(
            method=method.upper(),
            scheme=scheme,
            server=(host, port),
            client=self.client_address,
            path=unquote(raw_path),
            raw_path=raw_path.encode("ascii"),
            query_string=query.encode("ascii"),
            headers=wire,
            body=body,
        )
        return spec, full_url

    @property
    def cookies(self) -> httpx.Cookies:
        """The cookie jar (httpx's): kept by each cookie's Domain, Path, Secure and expiry,
        sent where they say. A mapping of name to value; assign a dict to replace it."""
        return self._http.cookies

    @cookies.setter
    def cookies(self, cookies: Mapping[str, str] | httpx.Cookies) -> None:
        self._http.cookies = cookies  # type: ignore[assignment]

    def _cookie_header(self, url: str, extra: Mapping[str, str] | None) -> str | None:
        """The Cookie header the jar sends to ``url``, with ``extra`` cookies added."""
        probe = httpx.Request("GET", url)
        self._http.cookies.set_cookie_header(probe)
        extra = extra or {}
        sent = probe.headers.get("cookie", "")
        pairs = [pair for pair in sent.split("; ") if pair and pair.split("=")[0] not in extra]
        pairs += [f"{name}={value}" for name, value in extra.items()]  # these win
        return "; ".join(pairs) or None

    # HTTP

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Params = None,
        headers: HeaderInput = None,
        cookies: Mapping[str, str] | None = None,
        json: Any = None,
        content: str | bytes | Iterable[bytes] | None = None,
        data: FormInput = None,
        files: Any = None,
        timeout: float | None = None,
        follow_redirects: bool | None = None,
    ) -> TestResponse:
        """Send one request; ``content`` as an iterable reaches the app as separate chunks.

        Redirects are followed unless ``follow_redirects=False`` (here or on the client);
        ``response.history`` holds the answers that redirected.

        ``data=`` sends a form (``application/x-www-form-urlencoded``); with ``files=`` too, or
        ``files=`` alone, a ``multipart/form-data`` body; both take httpx's shapes.
        """
        extra: list[tuple[str, str]] = []
        if json is not None:
            content = msgspec.json.encode(json)
            extra.append(("content-type", "application/json"))
        elif files is not None:
            content, content_type = encode_multipart(data, files)
            extra.append(("content-type", content_type))
        elif data is not None:
            content = urlencode(form_pairs(data))
            extra.append(("content-type", "application/x-www-form-urlencoded"))
        chunks, sized = body_chunks(content, self.chunk_size)
        if sized and (chunks or method.upper() in ("POST", "PUT", "PATCH")):
            extra.append(("content-length", str(sum(len(c) for c in chunks))))
        elif not sized:
            extra.append(("transfer-encoding", "chunked"))
        spec, full_url = self._request_spec(method, url, params, headers, cookies, chunks, extra)
        wire = [(name.encode("latin-1"), _header_bytes(value)) for name, value in spec.headers]
        first = httpx.Request(spec.method, full_url, headers=wire, content=b"".join(chunks))
        first.extensions.update({_SPEC: spec, _TIMEOUT: timeout})
        follow = self.follow_redirects if follow_redirects is None else follow_redirects
        # httpx follows redirects, keeps cookies by their attributes and decodes bodies
        # (gzip, deflate; br and zstd when brotli and zstandard are installed)
        answer = self._http.send(first, follow_redirects=follow)
        history = [TestResponse.from_httpx(hop) for hop in answer.history]
        return TestResponse.from_httpx(answer, history)

    def get(self, url: str, **kwargs: Any) -> TestResponse:
        return self.request("GET", url, **kwargs)

    def head(self, url: str, **kwargs: Any) -> TestResponse:
        return self.request("HEAD", url, **kwargs)

    def options(self, url: str, **kwargs: Any) -> TestResponse:
        return self.request("OPTIONS", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> TestResponse:
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> TestResponse:
        return self.request("PUT", url, **kwargs)

    def patch(self, url: str, **kwargs: Any) -> TestResponse:
        return self.request("PATCH", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> TestResponse:
        return self.request("DELETE", url, **kwargs)

    # WebSocket

    def websocket_connect(
        self,
        path: str,
        headers: HeaderInput = None,
        subprotocols: Iterable[str] | None = None,
        *,
        params: Params = None,
        cookies: Mapping[str, str] | None = None,
    ) -> WebSocketTestSession:
        """Open a WebSocket; raises WebSocketDenied when the handshake is refused."""
        offered = list(subprotocols or [])
        key = base64.b64encode(os.urandom(16)).decode()
        extra = [
            ("connection", "upgrade"),
            ("upgrade", "websocket"),
            ("sec-websocket-key", key),
            ("sec-websocket-version", "13"),
        ]
        if offered:
            extra.append(("sec-websocket-protocol", ", ".join(offered)))
        spec, _ = self._request_spec("GET", path, params, headers, cookies, [], extra)
        spec.subprotocols = offered
        owned = self._loop is None
        loop = LoopThread() if owned else self._loop
        assert loop is not None
        if owned:
            loop.start()
        channel = WebSocketChannel(loop.loop)
        driver = self._driver
        future = loop.submit(serve_websocket(lambda: driver.websocket(spec, channel), channel))
        return WebSocketTestSession(
            channel,
            future,
            offered_subprotocols=offered,
            timeout=self.timeout,
            raise_server_exceptions=self.raise_server_exceptions,
            on_finish=loop.close if owned else lambda: None,
        )


_SPEC = "velocipy.spec"  # the first hop's request as TestClient built it
_TIMEOUT = "velocipy.timeout"
_HEADERS = "velocipy.headers"  # the response headers exactly as the driver read them
_RAW = "velocipy.raw"  # the body as it came over the wire, before any decoding


def spec_from_httpx(request: httpx.Request, client: TestClient) -> RequestSpec:
    """The wire request for an httpx request (a redirect's next hop, an httpx.Client's)."""
    url = request.url
    raw_path, _, query = url.raw_path.partition(b"?")
    scheme = "https" if url.scheme == "https" else "http"
    port = url.port or (443 if scheme == "https" else 80)
    headers = [(name.lower(), value) for name, value in request.headers.multi_items()]
    body, _ = body_chunks(request.read(), client.chunk_size)
    return RequestSpec(
        method=request.method,
        scheme=scheme,
        server=(url.host, port),
        client=client.client_address,
        path=unquote(raw_path.decode("ascii")),
        raw_path=raw_path,
        query_string=query,
        headers=headers,
        body=body,
    )


class _DriverTransport(httpx.BaseTransport):
    """httpx's side of :class:`TestClient`: each hop goes to the app through its driver."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        client = self.client
        # the first hop as TestClient built it; redirects (which copy extensions) are httpx's
        spec = request.extensions.pop(_SPEC, None) or spec_from_httpx(request, client)
        timeout = request.extensions.get(_TIMEOUT)
        limit = client.timeout if timeout is None else timeout
        with client._running_loop() as loop:
            data = loop.run(client._driver.http(spec), limit, f"{spec.method} {request.url}")
        headers = [(name.encode("latin-1"), _header_bytes(value)) for name, value in data.headers]
        return httpx.Response(
            data.status,
            headers=headers,
            content=data.body,
            extensions={_HEADERS: data.headers, _RAW: data.body},
        )


def _header_bytes(value: str) -> bytes:
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:  # RSGI header values are str: UTF-8 on the wire
        return value.encode()


class AsyncTestClient:
    """The test client for ``async def`` tests: ``await client.get("/")``.

    It drives the app exactly as :class:`TestClient` does (same options, same event loop in a
    background thread, same RSGI fakes) and awaits each call from a worker thread, so the test's
    own loop keeps running meanwhile. ``async with`` runs the app's lifespan.
    """

    __test__ = False

    def __init__(self, app: Any, interface: Interface = "asgi", **options: Any) -> None:
        self.sync = TestClient(app, interface, **options)

    @property
    def cookies(self) -> httpx.Cookies:
        return self.sync.cookies

    async def __aenter__(self) -> AsyncTestClient:
        await asyncio.to_thread(self.sync.__enter__)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.sync.__exit__, exc_type, exc, traceback)

    async def request(self, method: str, url: str, **kwargs: Any) -> TestResponse:
        return await asyncio.to_thread(functools.partial(self.sync.request, method, url, **kwargs))

    async def get(self, url: str, **kwargs: Any) -> TestResponse:
        return await self.request("GET", url, **kwargs)

    async def head(self, url: str, **kwargs: Any) -> TestResponse:
        return await self.request("HEAD", url, **kwargs)

    async def options(self, url: str, **kwargs: Any) -> TestResponse:
        return await self.request("OPTIONS", url, **kwargs)

    async def post(self, url: str, **kwargs: Any) -> TestResponse:
        return await self.request("POST", url, **kwargs)

    async def put(self, url: str, **kwargs: Any) -> TestResponse:
        return await self.request("PUT", url, **kwargs)

    async def patch(self, url: str, **kwargs: Any) -> TestResponse:
        return await self.request("PATCH", url, **kwargs)

    async def delete(self, url: str, **kwargs: Any) -> TestResponse:
        return await self.request("DELETE", url, **kwargs)

    def websocket_connect(
        self,
        path: str,
        headers: HeaderInput = None,
        subprotocols: Iterable[str] | None = None,
        **kwargs: Any,
    ) -> _AsyncWebSocketConnect:
        """``async with client.websocket_connect("/ws") as ws:``; ``WebSocketDenied`` when the
        handshake is refused. Same arguments as :meth:`TestClient.websocket_connect`."""
        connect = functools.partial(
            self.sync.websocket_connect, path, headers, subprotocols, **kwargs
        )
        return _AsyncWebSocketConnect(connect)


class _AsyncWebSocketConnect:
    """What ``AsyncTestClient.websocket_connect`` returns: the handshake runs on ``async with``."""

    def __init__(self, connect: Callable[[], WebSocketTestSession]) -> None:
        self._connect = connect
        self._session: AsyncWebSocketTestSession | None = None

    async def __aenter__(self) -> AsyncWebSocketTestSession:
        self._session = AsyncWebSocketTestSession(await asyncio.to_thread(self._connect))
        return self._session

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()
