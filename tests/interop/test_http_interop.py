"""The same HTTP app on a real uvicorn, a real granian --interface rsgi and --interface asgi.

Every request goes over loopback with urllib / http.client / a raw socket, so what is checked
is what a client of the real server receives. After client errors the server must still answer
and must not have logged a traceback.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.interop.apps import http_app
from tests.support import (
    REPO_ROOT,
    SERVERS,
    HTTPResult,
    ServerProcess,
    free_port,
    http_request,
    server_argv,
    wait_until,
)

pytestmark = pytest.mark.interop

TARGET = "tests.interop.apps.http_app:app"
APP_FILE = Path(http_app.__file__)


@contextlib.contextmanager
def serve(kind: str, markers: Path, log_dir: Path) -> Iterator[ServerProcess]:
    """Like ``tests.support.running`` but with the log kept in ``log_dir``, not the repo root."""
    port = free_port()
    process = ServerProcess(
        server_argv(kind, TARGET, port),
        port,
        REPO_ROOT,
        {http_app.MARKER_DIR_VARIABLE: str(markers)},
        log_path=log_dir / f"{kind}.log",
    ).start()
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module", params=SERVERS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """One server of each kind for the whole module; ``server.markers`` holds lifespan files."""
    kind = str(request.param)
    markers = tmp_path_factory.mktemp(f"markers-{kind}")
    with serve(kind, markers, tmp_path_factory.mktemp(f"log-{kind}")) as process:
        process.markers = markers  # type: ignore[attr-defined]
        yield process


def get(server: ServerProcess, path: str, **kwargs: object) -> HTTPResult:
    return http_request(server.url + path, timeout=10.0, **kwargs)  # type: ignore[arg-type]


def post_json(server: ServerProcess, path: str, body: bytes, **headers: str) -> HTTPResult:
    return http_request(
        server.url + path,
        method="POST",
        data=body,
        headers={"content-type": "application/json", **headers},
    )


def raw_exchange(server: ServerProcess, request: bytes) -> bytes:
    """Send raw bytes, read until the server closes or 2 s pass; return what came back."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=5.0) as sock:
        sock.sendall(request)
        return read_response(sock)


def send_chunked(server: ServerProcess, path: str, chunks: list[bytes]) -> bytes:
    """POST ``chunks`` with Transfer-Encoding: chunked; stop sending if the server hangs up."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=5.0) as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(head)
            for chunk in chunks:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sock.sendall(b"0\r\n\r\n")
        return read_response(sock)


def read_response(sock: socket.socket, silence: float = 2.0) -> bytes:
    """Read one response (until Content-Length is satisfied, the peer closes, or ``silence``
    seconds pass with nothing arriving)."""
    sock.settimeout(silence)
    received = b""
    with contextlib.suppress(TimeoutError, ConnectionResetError):
        while chunk := sock.recv(65536):
            received += chunk
            if b"\r\n\r\n" in received and _complete(received):
                break
    return received


def _complete(data: bytes) -> bool:
    head, _, body = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value.strip())
    return False


def status_of(raw: bytes) -> int:
    assert raw.startswith(b"HTTP/1.1 "), raw[:200]
    return int(raw.split(b" ", 2)[1])


def assert_still_up(server: ServerProcess) -> None:
    assert server.alive(), server.output()
    response = get(server, "/hello")
    assert (response.status, response.body) == (200, b"hello")


@contextlib.contextmanager
def no_traceback_logged(server: ServerProcess) -> Iterator[None]:
    before = len(server.output())
    yield
    assert_still_up(server)
    added = server.output()[before:]
    assert "Traceback" not in added, added
    assert "Unhandled error" not in added, added


def test_startup_ran_before_serving(server: ServerProcess) -> None:
    data = json.loads(get(server, "/started").body)
    assert data["started"] is True
    markers = server.markers  # type: ignore[attr-defined]
    assert (markers / f"startup-{data['pid']}").exists()


def test_routing_and_params(server: ServerProcess) -> None:
    hello = get(server, "/hello")
    assert (hello.status, hello.body) == (200, b"hello")
    assert hello.headers["content-type"] == "text/plain; charset=utf-8"
    assert hello.headers["content-length"] == "5"
    item = get(server, "/items/42?q=a%20b&tag=x&tag=y", headers={"X-Token": "t0k"})
    assert item.status == 200
    assert item.headers["content-type"] == "application/json"
    assert json.loads(item.body) == {"id": 42, "q": "a b", "tags": ["x", "y"], "token": "t0k"}
    files = get(server, "/files/a/b%20c/d.txt")
    assert json.loads(files.body) == {"rest": "a/b c/d.txt"}
    redirect = http_request(server.url + "/redirect")  # urllib follows the 307
    assert (redirect.status, redirect.body) == (200, b"hello")


def test_json_body_round_trip(server: ServerProcess) -> None:
    created = post_json(server, "/items", b'{"name": "pen", "price": 1.5, "tags": ["t"]}')
    assert created.status == 201
    assert json.loads(created.body) == {"name": "pen", "price": 1.5, "tags": ["t"]}
    payload = {"nested": [1, 2**64 - 1, -(2**63), "\u00fc\U0001f600", None]}
    echo = post_json(server, "/echo", json.dumps(payload).encode())
    assert json.loads(echo.body) == {"value": payload}


def test_client_errors(server: ServerProcess) -> None:
    with no_traceback_logged(server):
        missing = get(server, "/nowhere")
        assert (missing.status, json.loads(missing.body)) == (404, {"detail": "Not Found"})

        not_allowed = http_request(server.url + "/items/1", method="DELETE")
        assert not_allowed.status == 405
        assert not_allowed.headers["allow"] == "GET, HEAD, PUT"

        bad_param = get(server, "/items/abc")
        assert bad_param.status == 422
        assert json.loads(bad_param.body)["detail"][0]["loc"] == ["path", "item_id"]

        bad_body = post_json(server, "/items", b'{"name": "pen"}')
        assert bad_body.status == 422
        assert json.loads(bad_body.body)["detail"][0]["type"] == "missing"

        not_json = post_json(server, "/echo", b"{nope")
        assert not_json.status == 400

        wrong_type = http_request(
            server.url + "/items",
            method="POST",
            data=b'{"name": "pen", "price": 1}',
            headers={"content-type": "text/plain"},
        )
        assert wrong_type.status == 415

        teapot = get(server, "/teapot")
        assert (teapot.status, teapot.headers["x-pot"]) == (418, "yes")

        missing_file = get(server, "/missing-file")
        assert missing_file.status == 404


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 50_000,  # under the app's 64 KiB body limit
        b"[" * 5000 + b"]" * 5000,
        b"1" * 5000,
        b"1e400",
        b"NaN",
        b'"\\ud800"',
        b'"\xff"',
        str(2**64).encode(),
    ],
    ids=["unclosed-50k", "deep-5000", "5000-digits", "1e400", "NaN", "surrogate", "utf8", "2**64"],
)
def test_hostile_json_is_400(server: ServerProcess, body: bytes) -> None:
    with no_traceback_logged(server):
        assert post_json(server, "/echo", body).status == 400
        assert post_json(server, "/items", body).status == 400


def test_body_limit_declared_and_chunked(server: ServerProcess) -> None:
    limit = http_app.MAX_BODY_SIZE
    with no_traceback_logged(server):
        over = http_request(server.url + "/upload", method="POST", data=b"x" * (limit + 1))
        assert over.status == 413
        assert str(limit) in json.loads(over.body)["detail"]

        # 128 KiB in 16 KiB chunks without a Content-Length: the server may answer and close
        # before the client has sent everything, so the bytes go out through a raw socket.
        raw = send_chunked(server, "/upload", [b"y" * 16384] * 8)
        assert status_of(raw) == 413

        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10.0)
        try:
            connection.request(
                "POST", "/upload", body=iter([b"z" * 1000] * 10), encode_chunked=True
            )
            response = connection.getresponse()
            assert (response.status, json.loads(response.read())) == (200, {"size": 10_000})
        finally:
            connection.close()


@pytest.mark.parametrize("framing", ["declared", "chunked"])
@pytest.mark.parametrize("offset", [-1, 0, 1], ids=["below", "at", "above"])
def test_body_limit_at_below_and_above(server: ServerProcess, framing: str, offset: int) -> None:
    """The limit counted exactly on every server, whether the body is declared or chunked (the
    ASGI adapter also buffers up to the limit before the handler reads)."""
    size = http_app.MAX_BODY_SIZE + offset
    body = b"x" * size
    with no_traceback_logged(server):
        if framing == "declared":
            response = http_request(server.url + "/upload", method="POST", data=body)
            status, answer = response.status, json.loads(response.body)
        else:  # 10,000-byte chunks: the limit falls inside the seventh
            raw = send_chunked(
                server, "/upload", [body[i : i + 10_000] for i in range(0, size, 10_000)]
            )
            status, answer = status_of(raw), json.loads(raw.partition(b"\r\n\r\n")[2])
    if offset > 0:
        detail = f"Request body is larger than the limit of {http_app.MAX_BODY_SIZE} bytes"
        assert (status, answer) == (413, {"detail": detail})
    else:
        assert (status, answer) == (200, {"size": size})


@pytest.mark.parametrize("length", [b"-1", b"abc", b"0x10"])
def test_malformed_content_length_is_400(server: ServerProcess, length: bytes) -> None:
    with no_traceback_logged(server):
        raw = raw_exchange(
            server,
            b"POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: "
            + length
            + b"\r\nConnection: close\r\n\r\nhello",
        )
        # uvicorn and granian refuse these in their HTTP parsers; either way: 400, no crash.
        assert status_of(raw) == 400


def test_streamed_response(server: ServerProcess) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10.0)
    try:
        connection.request("GET", "/stream")
        response = connection.getresponse()
        body = response.read()
        assert response.status == 200
        assert response.getheader("content-type") == "text/plain; charset=utf-8"
        assert response.getheader("transfer-encoding") == "chunked"
        assert response.getheader("content-length") is None
    finally:
        connection.close()
    assert body == "".join(f"{i}\n" for i in range(http_app.STREAM_CHUNKS)).encode()


def test_file_response(server: ServerProcess) -> None:
    response = get(server, "/file")
    assert response.status == 200
    assert response.body == APP_FILE.read_bytes()
    assert response.headers["content-type"] == "text/x-python; charset=utf-8"
    assert response.headers["content-length"] == str(APP_FILE.stat().st_size)
    assert "etag" in response.headers


@pytest.mark.parametrize("path", ["/hello", "/items/7", "/file", "/stream"])
def test_head_has_get_headers_and_no_body(server: ServerProcess, path: str) -> None:
    get_response = get(server, path)
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10.0)
    try:
        connection.request("HEAD", path)
        head = connection.getresponse()
        body = head.read()
    finally:
        connection.close()
    assert head.status == 200
    assert body == b""
    assert head.getheader("content-type") == get_response.headers["content-type"]
    if "content-length" in get_response.headers:
        assert head.getheader("content-length") == get_response.headers["content-length"]
    assert_still_up(server)


def test_unhandled_error_is_generic_500_with_logged_traceback(server: ServerProcess) -> None:
    response = get(server, "/boom")
    assert response.status == 500
    assert json.loads(response.body) == {"detail": "Internal Server Error"}
    assert b"interop boom" not in response.body
    assert wait_until(lambda: "interop boom" in server.output(), timeout=5.0), server.output()
    assert "Traceback" in server.output()
    assert_still_up(server)


@pytest.mark.parametrize("kind", SERVERS)
def test_lifespan_shutdown_runs_when_the_server_stops(kind: str, tmp_path: Path) -> None:
    with serve(kind, tmp_path, tmp_path) as process:
        pid = json.loads(get(process, "/started").body)["pid"]
        assert (tmp_path / f"startup-{pid}").exists()
        assert not (tmp_path / f"shutdown-{pid}").exists()
        process.stop()
        assert (tmp_path / f"shutdown-{pid}").exists(), process.output()
        assert "Traceback" not in process.output()
