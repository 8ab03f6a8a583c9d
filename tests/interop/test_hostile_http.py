"""Hostile HTTP clients against real uvicorn, granian RSGI and granian ASGI processes.

Every case asserts the precise status the client gets (where one can still be sent), that the
server logged no traceback for the client's doing, and that the same server process still
answers a normal request afterwards. Raw sockets send what well-behaved clients never would.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import signal
import socket
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.interop.apps import hostile_app
from tests.interop.test_http_interop import read_response, status_of
from tests.support import (
    REPO_ROOT,
    SERVERS,
    ServerProcess,
    free_port,
    http_request,
    server_argv,
    server_with_markers,
    wait_until,
)

pytestmark = pytest.mark.interop

TARGET = "tests.interop.apps.hostile_app:app"


@pytest.fixture(scope="module", params=SERVERS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """One server of each kind for the module; ``server.markers`` collects ``finally`` marks."""
    variable = hostile_app.MARKER_DIR_VARIABLE
    with server_with_markers(
        str(request.param), TARGET, variable, tmp_path_factory, "hostile"
    ) as process:
        yield process


def marker(server: ServerProcess, name: str) -> Path:
    return server.markers / name  # type: ignore[attr-defined,no-any-return]


def assert_still_up(server: ServerProcess) -> None:
    assert server.alive(), server.output()
    response = http_request(server.url + "/hello", timeout=10.0)
    assert (response.status, response.body) == (200, b"hello")


@contextlib.contextmanager
def no_traceback_logged(server: ServerProcess) -> Iterator[None]:
    """The block's hostile traffic adds no traceback or error line, and the server still works."""
    before = len(server.output())
    yield
    assert_still_up(server)
    added = server.output()[before:]
    for sign in ("Traceback", "Unhandled error", "ERROR", "Exception in ASGI"):
        assert sign not in added, added


def exchange(server: ServerProcess, request: bytes, silence: float = 2.0) -> bytes:
    """Send raw bytes (the server may hang up early) and read what comes back, waiting up to
    ``silence`` seconds for each part of the answer."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=5.0) as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(request)
        return read_response(sock, silence)


def send_and_vanish(server: ServerProcess, request: bytes) -> None:
    """Send a request that is not complete yet, then close the socket."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=5.0) as sock:
        sock.sendall(request)
        time.sleep(0.2)  # let the server start reading before the connection goes


def post_head(path: str, *headers: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


# --- D1: a client leaving while its body is read ---------------------------------------------


def test_client_leaving_mid_body_ends_the_request_quietly(server: ServerProcess) -> None:
    with no_traceback_logged(server):
        send_and_vanish(server, post_head("/echo?mark=gone-cl", "Content-Length: 50000") + b"abc")
        send_and_vanish(
            server, post_head("/upload?mark=gone-te", "Transfer-Encoding: chunked") + b"3\r\nab"
        )
        for name in ("gone-cl", "gone-te"):  # the handlers ended (then the log is checked)
            assert wait_until(marker(server, name).exists, timeout=10.0), server.output()


@pytest.mark.parametrize(
    "body",
    [b"zz\r\nabc\r\n0\r\n\r\n", b"3\r\nabc\r\nzz\r\n0\r\n\r\n"],
    ids=["bad-size-first", "bad-size-later"],
)
@pytest.mark.parametrize("path", ["/echo", "/upload"])
def test_malformed_chunk_size_is_400(server: ServerProcess, path: str, body: bytes) -> None:
    with no_traceback_logged(server):
        raw = exchange(
            server,
            post_head(path, "Transfer-Encoding: chunked", "Connection: close") + body,
        )
        assert status_of(raw) == 400, raw


def test_unknown_transfer_coding_is_400(server: ServerProcess) -> None:
    with no_traceback_logged(server):
        raw = exchange(
            server,
            post_head("/echo", "Transfer-Encoding: xchunked", "Connection: close")
            + b"3\r\nabc\r\n0\r\n\r\n",
        )
        assert status_of(raw) == 400, raw


# --- D2: a streamed response whose client left ------------------------------------------------


def open_stream_and_leave(server: ServerProcess, path: str, body: bytes | None = None) -> None:
    """Start a streamed response (a POST of ``body`` when given), read its first bytes, then
    vanish."""
    head = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    if body is not None:
        head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n\r\n"
        head = head.encode() + body
    with socket.create_connection(("127.0.0.1", server.port), timeout=5.0) as sock:
        sock.sendall(head)
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")


@pytest.mark.parametrize(
    ("kind", "body"),
    [("busy-stream", None), ("waiting-stream", None), ("waiting-stream", b'{"after": "a body"}')],
    ids=["busy", "waiting", "waiting after a body"],
)
def test_stream_stops_when_the_client_leaves(
    server: ServerProcess, kind: str, body: bytes | None
) -> None:
    name = f"{kind}-left" if body is None else f"{kind}-after-body-left"
    with no_traceback_logged(server):
        before = len(server.output())
        open_stream_and_leave(server, f"/{kind}/{name}", body)
        # The generator's finally ran: it stopped producing (or waiting) for nobody.
        assert wait_until(marker(server, f"{name}-finally").exists, timeout=10.0), server.output()
        stopped = server.output()
        time.sleep(0.3)  # what a still-running producer would log in that time
        assert server.output() == stopped
        added = stopped[before:]
        # granian ASGI logs a line per chunk sent before it tells the app (a race); no other
        # server logs anything
        if server.kind != "granian-asgi":  # type: ignore[attr-defined]
            assert "transport error" not in added, added


@pytest.mark.parametrize("kind", SERVERS)
def test_server_stops_promptly_after_abandoned_streams(kind: str, tmp_path: Path) -> None:
    """uvicorn used to ignore SIGTERM (and need SIGKILL) while abandoned streams kept going."""
    port = free_port()
    process = ServerProcess(
        server_argv(kind, TARGET, port),
        port,
        REPO_ROOT,
        {hostile_app.MARKER_DIR_VARIABLE: str(tmp_path)},
        log_path=tmp_path / "server.log",
    ).start()
    try:
        process.wait_ready()
        open_stream_and_leave(process, "/busy-stream/a")
        open_stream_and_leave(process, "/waiting-stream/b")
        assert wait_until((tmp_path / "a-finally").exists, timeout=10.0), process.output()
        assert wait_until((tmp_path / "b-finally").exists, timeout=10.0), process.output()
    finally:
        code = process.stop(timeout=8.0)
    # uvicorn re-raises the SIGTERM it handled (-15), granian exits 0; -9 would mean it had to
    # be killed.
    assert code == (-signal.SIGTERM if kind == "uvicorn" else 0), process.output()


# --- D3: a NUL in a file path; D4: control characters in a response header -------------------


@pytest.mark.parametrize("path", ["/files/a%00b", "/files/hostile_app.py%00.txt"])
def test_nul_in_a_file_path_is_404(server: ServerProcess, path: str) -> None:
    with no_traceback_logged(server):
        response = http_request(server.url + path)
        assert response.status == 404
        assert response.body == b'{"detail":"File not found"}'
    assert http_request(server.url + "/files/hostile_app.py").status == 200


@pytest.mark.parametrize("value", ["%01", "a%7Fb", "%1B%5B31m", "a%0D%0Ax-evil:%201"])
def test_control_character_in_a_header_is_our_500(server: ServerProcess, value: str) -> None:
    # The handler's bug (echoing input into a header) is logged; the client gets the app's
    # generic 500, never the header, and the server keeps serving.
    response = http_request(server.url + f"/header?value={value}")
    assert response.status == 500
    assert response.body == b'{"detail":"Internal Server Error"}'
    assert "x-echo" not in response.headers
    assert "x-evil" not in response.headers
    assert_still_up(server)


# --- reliability.md section 7 (HTTP cases this framework owns) -------------------------------


def get_raw(server: ServerProcess, path: str, *headers: str) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", *headers, "Connection: close"]
    return exchange(server, ("\r\n".join(lines) + "\r\n\r\n").encode())


def json_body(raw: bytes) -> Any:
    return json.loads(raw.partition(b"\r\n\r\n")[2])


def body_of(raw: bytes) -> bytes:
    return raw.partition(b"\r\n\r\n")[2]


# Where the servers answer a hostile request differently, each server's one answer: the status
# and the exact body. uvicorn (h11/httptools) refuses with its own text, granian with an empty
# body; where granian lets a request through, VelociPy's own answer is the one given.
SERVER_REFUSAL = {"uvicorn": b"Invalid HTTP request received.", "granian": b""}
BODY_ENDED_EARLY = (
    b'{"detail":"The request body ended early: the connection closed or its framing was malformed"}'
)


def server_family(server: ServerProcess) -> str:
    kind: str = server.kind  # type: ignore[attr-defined]
    return "uvicorn" if kind == "uvicorn" else "granian"


@pytest.mark.parametrize(
    "headers",
    [
        ["Content-Length: +5"],
        ["Content-Length: 5", "Content-Length: 6"],
        ["Content-Length: 5", "Transfer-Encoding: chunked"],
        ["Transfer-Encoding: chunked", "Transfer-Encoding: chunked"],
    ],
    ids=["plus-sign", "conflicting-lengths", "length-and-chunked", "double-chunked"],
)
def test_ambiguous_body_framing_is_refused(server: ServerProcess, headers: list[str]) -> None:
    """7.A.4: never 'read to EOF' or pick one of two lengths (request smuggling).

    uvicorn refuses all four itself; granian refuses a malformed or doubled Content-Length and
    passes Content-Length with chunked (or chunked twice) on as chunked, whose ``hello`` is no
    valid chunk: VelociPy's body reader then answers 400 itself."""
    family = server_family(server)
    granian_passes = headers[-1] == "Transfer-Encoding: chunked"
    expected = (
        BODY_ENDED_EARLY if family == "granian" and granian_passes else SERVER_REFUSAL[family]
    )
    with no_traceback_logged(server):
        raw = exchange(server, post_head("/echo", *headers, "Connection: close") + b"hello")
        assert (status_of(raw), body_of(raw)) == (400, expected), raw


def test_body_in_one_byte_chunks(server: ServerProcess) -> None:
    """7.A.3: 20,000 one-byte chunks give the whole body (linear work, bounded wait).

    granian hands each chunk over on its own: a bare ASGI app reading them took 2.4 s here on
    an idle machine, so the answer is given 30 s (a time limit, not a speed asserted)."""
    chunks = b"".join(b"1\r\nx\r\n" for _ in range(20_000)) + b"0\r\n\r\n"
    head = post_head("/upload", "Transfer-Encoding: chunked", "Connection: close")
    with no_traceback_logged(server):
        raw = exchange(server, head + chunks, silence=30.0)
        assert status_of(raw) == 200, raw
        assert json_body(raw) == {"size": 20_000}


def test_thousands_of_duplicate_headers_and_cookies(server: ServerProcess) -> None:
    """7.D.19: 5,000 duplicate headers (and Cookie headers): uvicorn hands all of them to the
    app, granian refuses more than its header limit with its own 431."""
    keeps_all = server_family(server) == "uvicorn"
    with no_traceback_logged(server):
        dups = [f"X-Dup: {i}" for i in range(5000)]
        raw = get_raw(server, "/inspect", *dups)
        if keeps_all:
            assert status_of(raw) == 200, raw[:200]
            assert json_body(raw)["dup"] == 5000
        else:
            assert (status_of(raw), body_of(raw)) == (431, b""), raw[:200]
        cookies = [f"Cookie: c{i}=v{i}" for i in range(5000)]
        raw = get_raw(server, "/inspect", *cookies)
        if keeps_all:
            assert status_of(raw) == 200, raw[:200]
            assert json_body(raw)["cookies"] == 5000
        else:
            assert (status_of(raw), body_of(raw)) == (431, b""), raw[:200]


@pytest.mark.parametrize("host", ["example.com/?", "a b", "[::1", "evil.example:99999x"])
def test_malformed_host_falls_back_to_the_server_address(server: ServerProcess, host: str) -> None:
    """7.D.20 (BadHost): request.url never carries a Host header that is not a host."""
    with no_traceback_logged(server):
        raw = exchange(
            server,
            f"GET /inspect HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode(),
        )
        assert status_of(raw) == 200, raw  # every server passes these Hosts on to the app
        assert json_body(raw)["host"] == "127.0.0.1", raw
        assert json_body(raw)["url"] == f"http://127.0.0.1:{server.port}/inspect"


@pytest.mark.parametrize(
    ("cookie", "parsed"),
    [
        ("=;;=x; ;a", 0),
        ('a="unterminated', 1),
        ("\x7f=\x01", None),
        ("a=b=c; ; =; d", 1),
        ("x" * 8000, 0),
    ],
)
def test_malformed_cookies_parse_leniently(
    server: ServerProcess, cookie: str, parsed: int | None
) -> None:
    """7.D.24: malformed inbound cookies never cause a 500: the well-formed pairs are kept (a
    lone name or an empty name is no cookie); control bytes are refused by every server."""
    with no_traceback_logged(server):
        raw = exchange(
            server,
            b"GET /inspect HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: "
            + cookie.encode("latin-1")
            + b"\r\nConnection: close\r\n\r\n",
        )
        if parsed is None:
            expected = SERVER_REFUSAL[server_family(server)]
            assert (status_of(raw), body_of(raw)) == (400, expected), raw
        else:
            assert status_of(raw) == 200, raw
            assert json_body(raw)["cookies"] == parsed, raw


@pytest.mark.parametrize("value", ["a;b", "a,b", "a\r\nSet-Cookie: evil=1", "caf\u00e9", 'q"uote'])
def test_set_cookie_values_are_quoted_not_injected(server: ServerProcess, value: str) -> None:
    """7.D.24: a cookie value with separators or CR/LF is quoted, never splits the header."""
    with no_traceback_logged(server):
        response = http_request(server.url + "/cookie?value=" + urllib.parse.quote(value))
        assert response.status == 200
        assert not response.headers.get("set-cookie", "").lower().startswith("evil")
        raw = get_raw(server, "/cookie?value=" + urllib.parse.quote(value))
        lines = raw.partition(b"\r\n\r\n")[0].lower().split(b"\r\n")
        assert len([line for line in lines if line.startswith(b"set-cookie:")]) == 1, lines
        assert not any(line.startswith(b"evil") for line in lines), lines


@pytest.mark.parametrize(
    ("path", "status"), [("/%1b[31mred", 404), ("/a%0d%0aInjected: 1", 400), ("/%00nul", 404)]
)
def test_control_characters_in_the_path_are_escaped_in_the_log(
    server: ServerProcess, path: str, status: int
) -> None:
    """7.D.25: the path a client sends cannot write escapes or fake lines into the log. The
    escaped ones reach the router (404); the space makes the second no request line (400)."""
    before = len(server.output())
    raw = get_raw(server, path)
    if status == 404:
        assert (status_of(raw), body_of(raw)) == (404, b'{"detail":"Not Found"}'), raw
    else:
        assert (status_of(raw), body_of(raw)) == (400, SERVER_REFUSAL[server_family(server)])
    assert_still_up(server)
    added = server.output()[before:]
    assert "\x1b" not in added
    assert "\nInjected: 1" not in added
    assert "\x00" not in added


def test_huge_paths_are_answered_promptly(server: ServerProcess) -> None:
    """7.E.26: huge paths against every route: 404 from the router; past the server's own
    request-line limit, uvicorn's 400 or granian's 414."""
    family = server_family(server)
    with no_traceback_logged(server):
        assert status_of(get_raw(server, "/users/" + "a/" * 4096)) == 404
        raw = get_raw(server, "/" + "a/" * 51_200)
        refusal = (400, SERVER_REFUSAL[family]) if family == "uvicorn" else (414, b"")
        assert (status_of(raw), body_of(raw)) == refusal, raw[:200]


def test_streams_on_one_keep_alive_connection(server: ServerProcess) -> None:
    """The departure watcher is cancelled after each stream: the connection serves on."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10.0)
    try:
        for _ in range(3):
            connection.request("GET", "/files/hostile_app.py")
            assert (
                connection.getresponse().read()
                == (hostile_app.FILES / "hostile_app.py").read_bytes()
            )
            connection.request("GET", "/short-stream")
            response = connection.getresponse()
            assert (response.status, response.read()) == (200, b"a\nb\nc\n")
            connection.request("GET", "/hello")
            assert connection.getresponse().read() == b"hello"
    finally:
        connection.close()


def test_chunked_body_with_trailers(server: ServerProcess) -> None:
    """Request trailers are legal, but granian's RSGI reports them exactly like a body that broke
    off (an extra empty chunk): VelociPy refuses both with 400 there rather than hand the app a
    truncated body as complete (docs/security.md, 'What RSGI cannot do')."""
    with no_traceback_logged(server):
        raw = exchange(
            server,
            post_head("/upload", "Transfer-Encoding: chunked", "Connection: close")
            + b"3\r\nabc\r\n0\r\nX-Checksum: 1\r\n\r\n",
        )
        if server.kind == "granian-rsgi":  # type: ignore[attr-defined]
            assert status_of(raw) == 400, raw
        else:
            assert status_of(raw) == 200, raw
            assert json_body(raw) == {"size": 3}


# --- non-ASCII header values and malformed ids ------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["café".encode(), "café".encode("latin-1"), b"\xff\xfe", "\U0001f600".encode()],
    ids=["utf-8", "latin-1", "ff-fe", "emoji"],
)
def test_non_ascii_header_values(server: ServerProcess, value: bytes) -> None:
    """Bytes outside visible ASCII in a request header: the ASGI servers hand them on and the
    app reads them as Latin-1 (one character per byte); granian RSGI drops the header
    (docs/servers.md). Never a refusal or an error."""
    with no_traceback_logged(server):
        raw = exchange(
            server,
            b"GET /inspect HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Name: "
            + value
            + b"\r\nConnection: close\r\n\r\n",
        )
        assert status_of(raw) == 200, raw
        seen = None if server.kind == "granian-rsgi" else value.decode("latin-1")  # type: ignore[attr-defined]
        assert json_body(raw)["name"] == seen


def int_refusal(name: str, text: str) -> dict[str, Any]:
    message = f"{text!r} is not a whole number"
    return {"detail": [{"loc": ["path", name], "msg": message, "type": "int_parsing"}]}


def uuid_refusal(text: str) -> dict[str, Any]:
    message = f"{text!r} is not valid: Invalid UUID"
    return {"detail": [{"loc": ["path", "order_id"], "msg": message, "type": "value_error"}]}


ORDER = "5b0c2c5e-7a4e-4f7d-9d0e-0a6c1c1f7b11"
MALFORMED_IDS = [
    ("/items/-1", 200, {"id": -1}),
    ("/items/" + "9" * 40, 200, {"id": int("9" * 40)}),
    ("/items/+1", 422, int_refusal("item_id", "+1")),
    ("/items/1e3", 422, int_refusal("item_id", "1e3")),
    ("/items/0x10", 422, int_refusal("item_id", "0x10")),
    ("/items/1.0", 422, int_refusal("item_id", "1.0")),
    ("/items/%201", 422, int_refusal("item_id", " 1")),
    ("/items/%EF%BC%91", 422, int_refusal("item_id", "\uff11")),  # a full-width digit one
    ("/items/", 404, {"detail": "Not Found"}),
    ("/accounts/abc", 422, int_refusal("account_id", "abc")),
    ("/accounts/%D9%A3", 422, int_refusal("account_id", "\u0663")),  # an Arabic-Indic three
    (
        "/accounts/" + "9" * 5000,  # past Python's 4300 digits: no advice to call a function
        422,
        {
            "detail": [
                {
                    "loc": ["path", "account_id"],
                    "msg": "a whole number of 5000 digits is longer than the limit of 4300",
                    "type": "int_parsing",
                }
            ]
        },
    ),
    ("/orders/" + ORDER.replace("-", ""), 200, {"id": ORDER}),
    ("/orders/" + ORDER.upper(), 200, {"id": ORDER}),
    ("/orders/%7B" + ORDER + "%7D", 422, uuid_refusal("{" + ORDER + "}")),
    ("/orders/not-a-uuid", 422, uuid_refusal("not-a-uuid")),
    ("/orders/" + ORDER + "0", 422, uuid_refusal(ORDER + "0")),
]


@pytest.mark.parametrize(
    ("path", "status", "answer"), MALFORMED_IDS, ids=[p[:40] for p, _, _ in MALFORMED_IDS]
)
def test_malformed_ids_get_one_exact_answer(
    server: ServerProcess, path: str, status: int, answer: dict[str, Any]
) -> None:
    """Ids in the path that only look like numbers or UUIDs: 422 naming the parameter and the
    text, never a 500 or a silently different id (no full-width or Arabic digits as ints)."""
    with no_traceback_logged(server):
        raw = get_raw(server, path)
        assert (status_of(raw), json_body(raw)) == (status, answer), raw
