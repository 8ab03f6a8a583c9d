"""Host and forwarded-host values on real uvicorn, granian RSGI and granian ASGI processes.

``tests/interop/apps/hosts_app.py`` serves ``example.com`` and ``*.example.com`` behind a
trusted loopback proxy. Raw sockets send each hostile ``Host`` exactly as written (an HTTP
client would normalise it); every case has one expected answer, the log stays free of
tracebacks and the server keeps answering.
"""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import Iterator

import pytest

from tests.interop.test_http_interop import read_response, status_of
from tests.support import REPO_ROOT, SERVERS, ServerProcess, free_port, running, server_argv

pytestmark = pytest.mark.interop

TARGET = "tests.interop.apps.hosts_app:app"
REFUSED = b"Invalid host header"


@pytest.fixture(scope="module", params=SERVERS)
def server(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    port = free_port()
    argv = server_argv(str(request.param), TARGET, port)
    if request.param == "uvicorn":  # uvicorn's own proxy handling would answer first
        argv.append("--no-proxy-headers")
    with running(argv, port=port, cwd=REPO_ROOT) as process:
        yield process
        assert "Traceback" not in process.output(), process.output()


def get(server: ServerProcess, path: str, *header_lines: str) -> tuple[int, bytes]:
    lines = [f"GET {path} HTTP/1.1", *header_lines, "Connection: close"]
    with socket.create_connection(("127.0.0.1", server.port), timeout=5.0) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        raw = read_response(sock)
    return status_of(raw), raw.partition(b"\r\n\r\n")[2]


@contextlib.contextmanager
def still_serving(server: ServerProcess) -> Iterator[None]:
    before = len(server.output())
    yield
    assert get(server, "/hello", "Host: example.com") == (200, b"hello")
    added = server.output()[before:]
    for sign in ("Traceback", "ERROR", "Exception in ASGI"):
        assert sign not in added, added


HOSTILE_HOSTS = [
    "example.com:@evil.com",
    "user@example.com",
    "evil.com/.example.com",
    "evil.com#.example.com",
    "evil.com?.example.com",
    "evil.com\\.example.com",
    "evil.com%2f.example.com",
    "evil.com%2F.example.com",
    "evil.com\t.example.com",
    "example.com:80x",
    "example.com:+80",
    "example.com:-1",
    "example.com::80",
    "example.com:65536",
    "example.com:99999999999999999999",
    "[::1",
    "[::1]x",
    "[example.com]",
    ":80",
]


@pytest.mark.parametrize("host", HOSTILE_HOSTS)
def test_a_host_that_is_not_a_host_is_400(server: ServerProcess, host: str) -> None:
    with still_serving(server):
        assert get(server, "/host", f"Host: {host}") == (400, REFUSED)


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("example.com", "http://example.com/host"),
        ("API.Example.com", "http://API.Example.com/host"),
        ("a.example.com:0", "http://a.example.com:0/host"),
        ("a.example.com:65534", "http://a.example.com:65534/host"),
        ("a.example.com:65535", "http://a.example.com:65535/host"),
        ("example.com:", "http://example.com/host"),
    ],
)
def test_a_well_formed_allowed_host_passes(server: ServerProcess, host: str, url: str) -> None:
    status, body = get(server, "/host", f"Host: {host}")
    assert status == 200, body
    answer = json.loads(body)
    assert (answer["host"], answer["url"]) == (host, url)


def test_a_hostile_host_cannot_open_a_websocket(server: ServerProcess) -> None:
    handshake = [
        "Host: evil.com/.example.com",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13",
    ]
    with still_serving(server):
        with socket.create_connection(("127.0.0.1", server.port), timeout=5.0) as sock:
            sock.sendall(("GET /ws HTTP/1.1\r\n" + "\r\n".join(handshake) + "\r\n\r\n").encode())
            assert status_of(read_response(sock)) == 400


@pytest.mark.parametrize(
    ("header", "answer"),
    [
        ("X-Forwarded-Host: evil.com/.example.com", b"Invalid forwarded host in X-Forwarded-Host"),
        ("X-Forwarded-Host: example.com:@evil.com", b"Invalid forwarded host in X-Forwarded-Host"),
        ("X-Forwarded-Host: example.com:65536", b"Invalid forwarded host in X-Forwarded-Host"),
        ('Forwarded: host="evil.com#.example.com"', b"Invalid forwarded host in Forwarded"),
        (
            "X-Forwarded-For: 203.0.113.7:99999999999999999999",
            b"Invalid forwarded client address in X-Forwarded-For",
        ),
        ('Forwarded: for="203.0.113.7:65536"', b"Invalid forwarded client address in Forwarded"),
        ('Forwarded: for="[2001:db8::7]:1x"', b"Invalid forwarded client address in Forwarded"),
    ],
)
def test_a_malformed_forwarded_host_or_port_is_400(
    server: ServerProcess, header: str, answer: bytes
) -> None:
    with still_serving(server):
        assert get(server, "/host", "Host: example.com", header) == (400, answer)


@pytest.mark.parametrize(
    ("header", "client", "url"),
    [
        ("X-Forwarded-For: 203.0.113.7:65535", ["203.0.113.7", 65535], "http://example.com/host"),
        ('Forwarded: for="203.0.113.7:0"', ["203.0.113.7", 0], "http://example.com/host"),
        ('Forwarded: for="[2001:db8::7]:65534"', ["2001:db8::7", 65534], "http://example.com/host"),
        ("X-Forwarded-Host: shop.example.com:65535", None, "http://shop.example.com:65535/host"),
    ],
)
def test_a_well_formed_forwarded_value_is_taken(
    server: ServerProcess, header: str, client: list[object] | None, url: str
) -> None:
    status, body = get(server, "/host", "Host: example.com", header)
    assert status == 200, body
    answer = json.loads(body)
    assert answer["url"] == url
    if client is not None:
        assert answer["client"] == client
