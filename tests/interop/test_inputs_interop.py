"""Credentials, client ports, big sessions and malformed forms on real uvicorn, granian RSGI and
granian ASGI processes: one exact answer per case, and nothing in the log at WARNING or above
that a client caused (the big session is the operator's: one WARNING, once).
"""

from __future__ import annotations

import base64
import contextlib
import socket
from collections.abc import Iterator

import httpx
import pytest

from tests.interop.test_http_interop import read_response, status_of
from tests.support import REPO_ROOT, SERVERS, ServerProcess, free_port, running, server_argv

pytestmark = pytest.mark.interop

TARGET = "tests.interop.apps.inputs_app:app"
TIMEOUT = 10.0


@pytest.fixture(scope="module", params=SERVERS)
def server(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    port = free_port()
    with running(
        server_argv(str(request.param), TARGET, port), port=port, cwd=REPO_ROOT
    ) as process:
        process.kind = request.param  # type: ignore[attr-defined]
        yield process


@contextlib.contextmanager
def quiet_log(server: ServerProcess) -> Iterator[None]:
    """The block adds no traceback, error or warning to the server's log, and it still answers."""
    before = len(server.output())
    yield
    assert httpx.get(server.url + "/hello", timeout=TIMEOUT).text == "hello"
    added = server.output()[before:]
    for sign in ("Traceback", "ERROR", "WARNING", "Exception in ASGI", "transport error"):
        assert sign not in added, added


def raw_get(server: ServerProcess, path: str, *header_lines: bytes) -> bytes:
    lines = [f"GET {path} HTTP/1.1".encode(), b"Host: 127.0.0.1", *header_lines]
    with socket.create_connection(("127.0.0.1", server.port), timeout=5.0) as sock:
        sock.sendall(b"\r\n".join([*lines, b"Connection: close", b"", b""]))
        return read_response(sock)


def header(raw: bytes, name: bytes) -> bytes:
    for line in raw.partition(b"\r\n\r\n")[0].split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == name:
            return value.strip()
    raise AssertionError(f"no {name!r} in {raw[:300]!r}")


@pytest.mark.parametrize(
    "credentials",
    ["éééé".encode("latin-1"), "Zm9vOmJhcg==é".encode("latin-1"), "日本".encode()],
    ids=["latin-1", "base64-then-latin-1", "utf-8"],
)
def test_non_ascii_basic_credentials_are_401(server: ServerProcess, credentials: bytes) -> None:
    with quiet_log(server):
        raw = raw_get(server, "/basic", b"Authorization: Basic " + credentials)
        assert status_of(raw) == 401
        assert header(raw, b"www-authenticate") == b'Basic realm="inputs"'
        # granian's RSGI scope drops a header whose value is not ASCII (design/rsgi.md):
        # there the request simply has no credentials.
        detail = (
            b"Not authenticated: send a user name and password"
            if server.kind == "granian-rsgi"  # type: ignore[attr-defined]
            else b"Invalid Basic credentials: expected base64 of user:password"
        )
        assert raw.partition(b"\r\n\r\n")[2] == b'{"detail":"' + detail + b'"}'


def test_utf8_basic_credentials_are_read(server: ServerProcess) -> None:
    encoded = base64.b64encode("zoë:pässwörd".encode()).decode()
    response = httpx.get(
        server.url + "/basic", headers={"authorization": f"Basic {encoded}"}, timeout=TIMEOUT
    )
    assert (response.status_code, response.text) == (200, "zoë:pässwörd")


@pytest.mark.parametrize(
    ("authorization", "challenge"),
    [
        ("Basic YTpi", "Bearer"),
        ("Token abc", "Bearer"),
        ("Bearer", 'Bearer error="invalid_request"'),
        (None, "Bearer"),
    ],
)
def test_bearer_challenges_follow_rfc_6750(
    server: ServerProcess, authorization: str | None, challenge: str
) -> None:
    headers = {} if authorization is None else {"authorization": authorization}
    with quiet_log(server):
        response = httpx.get(server.url + "/bearer", headers=headers, timeout=TIMEOUT)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == challenge


def test_the_client_port_is_a_number_on_every_server(server: ServerProcess) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5.0) as sock:
        local_port = sock.getsockname()[1]
        sock.sendall(b"GET /client HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        raw = read_response(sock)
    body = raw.partition(b"\r\n\r\n")[2]
    assert body == b'{"host":"127.0.0.1","port":%d,"port_type":"int"}' % local_port


def test_a_session_too_large_for_browsers_warns_once(server: ServerProcess) -> None:
    before = len(server.output())
    with httpx.Client(base_url=server.url, timeout=TIMEOUT) as client:
        assert client.post("/remember/100").text == "remembered"
        assert "WARNING" not in server.output()[before:]
        for _ in range(3):
            response = client.post("/remember/6000")
            assert len(response.headers["set-cookie"].partition(";")[0]) > 4096
    added = server.output()[before:]
    assert added.count("browsers drop cookies over 4096 bytes") == 1, added


@pytest.mark.parametrize(
    "body",
    [b"--XyZ\r\nCont ent: x\r\n\r\nx\r\n--XyZ--\r\n", b"--XyZ\rX", b"--XyQ\r\n"],
    ids=["bad-header-name", "no-lf-after-boundary", "wrong-boundary"],
)
def test_a_malformed_multipart_body_is_400_and_no_warning(
    server: ServerProcess, body: bytes
) -> None:
    before = len(server.output())
    with quiet_log(server):
        response = httpx.post(
            server.url + "/form",
            content=body,
            headers={"content-type": "multipart/form-data; boundary=XyZ"},
            timeout=TIMEOUT,
        )
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert detail.startswith("Malformed multipart body: ")
    # python-multipart's warning would reach stderr through logging's last-resort handler,
    # which prints the bare message
    assert detail.removeprefix("Malformed multipart body: ") not in server.output()[before:]
