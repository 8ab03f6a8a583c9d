"""Every built-in middleware on real uvicorn, granian RSGI and granian ASGI processes.

``tests/interop/apps/middleware_app.py`` stacks the built-ins in one app (and HTTPSRedirect with
an untrusting ProxyHeaders in another); each is served once per server kind for the module and
driven over loopback with httpx, curl and the ``websockets`` client.
"""

from __future__ import annotations

import contextlib
import gzip
import shutil
import socket
import subprocess
from collections.abc import Callable, Iterator

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from tests.interop.apps.middleware_app import BIG, STREAM_CHUNKS
from tests.support import REPO_ROOT, SERVERS, ServerProcess, free_port, running, server_argv

pytestmark = pytest.mark.interop

PAGE = "http://127.0.0.1:1"  # the app's allowed origin when MIDDLEWARE_PAGE_ORIGIN is unset
TARGETS = {
    "main": "tests.interop.apps.middleware_app:app",
    "untrusted": "tests.interop.apps.middleware_app:untrusted_app",
}
TIMEOUT = 10.0
Live = Callable[[str, str], ServerProcess]


@pytest.fixture(scope="module")
def live() -> Iterator[Live]:
    started: dict[tuple[str, str], ServerProcess] = {}
    with contextlib.ExitStack() as stack:

        def get(target: str, kind: str) -> ServerProcess:
            if (target, kind) not in started:
                port = free_port()
                argv = server_argv(kind, TARGETS[target], port)
                if kind == "uvicorn":  # uvicorn's own proxy handling would answer first
                    argv.append("--no-proxy-headers")
                started[target, kind] = stack.enter_context(running(argv, port=port, cwd=REPO_ROOT))
            return started[target, kind]

        yield get
        for server in started.values():
            assert "Traceback" not in server.output(), server.output()


@pytest.fixture(params=SERVERS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_cors_preflight_and_simple_requests(live: Live, kind: str) -> None:
    server = live("main", kind)
    with httpx.Client(base_url=server.url, timeout=TIMEOUT) as client:
        preflight = client.options(
            "/api/data",
            headers={
                "origin": PAGE,
                "access-control-request-method": "PUT",
                "access-control-request-headers": "x-api-key",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == PAGE
        assert preflight.headers["access-control-allow-credentials"] == "true"
        refused = client.options(
            "/api/data",
            headers={"origin": PAGE, "access-control-request-method": "DELETE"},
        )
        assert refused.status_code == 400
        assert "method DELETE" in refused.text
        simple = client.get("/api/data", headers={"origin": PAGE})
        assert simple.headers["access-control-allow-origin"] == PAGE
        assert simple.headers["access-control-expose-headers"] == "x-request-count"
        assert "Origin" in simple.headers["vary"]
        foreign = client.get("/api/data", headers={"origin": "http://evil.test"})
        assert "access-control-allow-origin" not in foreign.headers


def curl(*args: str) -> subprocess.CompletedProcess[bytes]:
    assert shutil.which("curl"), "curl is needed: apt-get install -y curl"
    return subprocess.run(
        ["curl", "--silent", "--show-error", "--max-time", "10", *args],
        capture_output=True,
        check=True,
        timeout=20,
    )


def test_gzip_with_curl_compressed(live: Live, kind: str) -> None:
    server = live("main", kind)
    big = curl("--compressed", "--dump-header", "-", server.url + "/big").stdout.decode()
    head, _, body = big.partition("\r\n\r\n")
    assert "content-encoding: gzip" in head.lower()
    assert "vary: accept-encoding" in head.lower()
    assert body == BIG
    raw = curl("-H", "accept-encoding: gzip", server.url + "/big").stdout
    assert len(raw) < len(BIG) // 5
    assert gzip.decompress(raw).decode() == BIG
    streamed = curl("--compressed", "--dump-header", "-", server.url + "/stream").stdout.decode()
    head, _, body = streamed.partition("\r\n\r\n")
    assert "content-encoding: gzip" in head.lower()
    assert "transfer-encoding: chunked" in head.lower()
    assert body == "".join(STREAM_CHUNKS)
    plain = curl("--dump-header", "-", server.url + "/big").stdout.decode()
    assert "content-encoding" not in plain.lower()
    assert plain.endswith(BIG)


def test_gzip_stream_arrives_chunk_by_chunk(live: Live, kind: str) -> None:
    """The first compressed chunk decodes before the handler has produced the second."""
    server = live("main", kind)
    with (
        httpx.Client(base_url=server.url, timeout=TIMEOUT) as client,
        client.stream("GET", "/held-stream", headers={"accept-encoding": "gzip"}) as response,
    ):
        assert response.headers["content-encoding"] == "gzip"
        parts = response.iter_text()
        first = next(parts)
        assert first == "first line before the release\n"
        with httpx.Client(base_url=server.url, timeout=TIMEOUT) as other:
            assert other.post("/release").text == "released"
        assert "".join(parts) == "second line after the release\n"


def test_trusted_host_http_and_websocket(live: Live, kind: str) -> None:
    server = live("main", kind)
    with httpx.Client(base_url=server.url, timeout=TIMEOUT) as client:
        assert client.get("/who", headers={"host": "api.example.test"}).status_code == 200
        refused = client.get("/who", headers={"host": "evil.test"})
        assert (refused.status_code, refused.text) == (400, "Invalid host header")
    with pytest.raises(InvalidStatus) as denied:
        connect_as_host(server, "evil.test")
    assert denied.value.response.status_code == 400
    if kind != "granian-rsgi":  # ASGI servers send the refusal's body too
        assert denied.value.response.body == b"Invalid host header"
    with connect_as_host(server, "api.example.test") as ws:
        assert '"url":"ws://api.example.test/ws"' in str(ws.recv(timeout=TIMEOUT))


def connect_as_host(server: ServerProcess, host: str) -> ClientConnection:
    """A WebSocket to the local server whose handshake says ``Host: <host>``."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT)
    return connect(f"ws://{host}/ws", sock=sock, open_timeout=TIMEOUT)


def test_session_in_http_and_websocket(live: Live, kind: str) -> None:
    server = live("main", kind)
    with httpx.Client(base_url=server.url, timeout=TIMEOUT) as client:
        client.post("/login/ada")
        cookie = client.cookies["session"]
        assert client.get("/me").json() == {"user": "ada"}
        with connect(
            server.ws_url + "/ws",
            additional_headers={"Cookie": f"session={cookie}"},
            open_timeout=TIMEOUT,
        ) as ws:
            assert '"user":"ada"' in str(ws.recv(timeout=TIMEOUT))
        tampered = cookie[:-2] + ("A" if cookie[-2] != "A" else "B") + cookie[-1]
        response = httpx.get(
            server.url + "/me", headers={"cookie": f"session={tampered}"}, timeout=TIMEOUT
        )
        assert response.json() == {}


def test_security_headers(live: Live, kind: str) -> None:
    response = httpx.get(live("main", kind).url + "/who", timeout=TIMEOUT)
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["content-security-policy"] == "default-src 'self'"
    assert "strict-transport-security" not in response.headers  # plain http


def test_proxy_headers_from_the_trusted_loopback(live: Live, kind: str) -> None:
    server = live("main", kind)
    forwarded = {
        "x-forwarded-for": "203.0.113.7",
        "x-forwarded-proto": "https",
        "x-forwarded-host": "shop.example.test",
    }
    response = httpx.get(server.url + "/who", headers=forwarded, timeout=TIMEOUT)
    assert response.json() == {"client": "203.0.113.7", "url": "https://shop.example.test/who"}
    assert "strict-transport-security" in response.headers  # the client used https
    with connect(server.ws_url + "/ws", additional_headers=forwarded, open_timeout=TIMEOUT) as ws:
        hello = str(ws.recv(timeout=TIMEOUT))
    assert '"url":"wss://shop.example.test/ws"' in hello
    assert '"client":"203.0.113.7"' in hello


def test_forged_proxy_headers_from_an_untrusted_peer(live: Live, kind: str) -> None:
    server = live("untrusted", kind)
    forged = {
        "x-forwarded-for": "6.6.6.6",
        "x-forwarded-proto": "https",
        "forwarded": "for=6.6.6.6;proto=https",
    }
    response = httpx.get(server.url + "/who", headers=forged, timeout=TIMEOUT)
    assert response.status_code == 307  # still plain http: HTTPSRedirect sends it to https
    assert response.headers["location"] == f"https://127.0.0.1:{server.port}/who"
    # A raw handshake: the websockets client would follow the redirect.
    handshake = {
        **forged,
        "connection": "Upgrade",
        "upgrade": "websocket",
        "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
        "sec-websocket-version": "13",
    }
    refused = httpx.get(server.url + "/ws", headers=handshake, timeout=TIMEOUT)
    assert refused.status_code == 307
    if kind != "granian-rsgi":  # RSGI refuses with the status only
        assert refused.headers["location"] == f"wss://127.0.0.1:{server.port}/ws"


def test_websocket_origin_guard(live: Live, kind: str) -> None:
    server = live("main", kind)
    for origin in (PAGE, server.url):  # the allowed page, and the app's own origin
        with connect(server.ws_url + "/ws", origin=origin, open_timeout=TIMEOUT) as ws:  # type: ignore[arg-type]
            ws.recv(timeout=TIMEOUT)
            ws.send("hi")
            assert ws.recv(timeout=TIMEOUT) == "echo: hi"
    with pytest.raises(InvalidStatus) as denied:
        connect(server.ws_url + "/ws", origin="http://evil.test", open_timeout=TIMEOUT)  # type: ignore[arg-type]
    assert denied.value.response.status_code == 403
