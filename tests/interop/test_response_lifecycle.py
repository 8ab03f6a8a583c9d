"""A response's body and its after-response work on real uvicorn, granian RSGI and granian ASGI.

Producers that never await, HEAD requests whose body is never sent, bodies that fail after the
response started, GZip around streams and files, 304 and 416 file answers, and a file that
grows while it is sent. Markers written by tests/interop/apps/lifecycle_app.py say what ran,
and the ``yield`` provider's marker names the exception it saw (so the garbage collector
closing a provider, which throws ``GeneratorExit``, never passes for teardown).
"""

from __future__ import annotations

import contextlib
import gzip
import http.client
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.interop.apps import lifecycle_app
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

TARGET = "tests.interop.apps.lifecycle_app:app"


@pytest.fixture(scope="module", params=SERVERS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    variable = lifecycle_app.MARKER_DIR_VARIABLE
    with server_with_markers(
        str(request.param), TARGET, variable, tmp_path_factory, "lifecycle"
    ) as process:
        yield process


def markers(server: ServerProcess) -> Path:
    return server.markers  # type: ignore[attr-defined,no-any-return]


def marked(server: ServerProcess, name: str, timeout: float = 10.0) -> bool:
    return wait_until((markers(server) / name).exists, timeout=timeout)


def outcome_of_provider(server: ServerProcess, name: str) -> list[str]:
    """How the ``yield`` provider of request ``name`` ended, once it did (bounded wait)."""
    prefix = f"{name}-provider-"
    wait_until(lambda: any(markers(server).glob(prefix + "*")), timeout=10.0)
    return sorted(path.name.removeprefix(prefix) for path in markers(server).glob(prefix + "*"))


def still_serving(server: ServerProcess) -> None:
    assert server.alive(), server.output()
    response = http_request(server.url + "/hello", timeout=5.0)
    assert (response.status, response.body) == (200, b'{"hello":"world"}')


@contextlib.contextmanager
def log_added(server: ServerProcess) -> Iterator[list[str]]:
    """Collects what the server logs during the block (read when the block ends)."""
    before = len(server.output())
    added: list[str] = []
    yield added
    added.append(server.output()[before:])


def raw_request(server: ServerProcess, method: str, path: str, *headers: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close", *headers]
    with socket.create_connection(("127.0.0.1", server.port), timeout=5.0) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        return read_response(sock)


# --- item 1: a producer that never awaits -----------------------------------------------------


@pytest.mark.parametrize(
    ("route", "coding"),
    [("tight", ""), ("tight-events", ""), ("tight-sync", ""), ("tight", "gzip")],
    ids=["stream", "events", "sync-stream", "gzipped-stream"],
)
def test_producer_that_never_awaits_stops_when_the_client_leaves(
    server: ServerProcess, route: str, coding: str
) -> None:
    name = f"{route}-{coding}-left"
    accept = f"Accept-Encoding: {coding}\r\n" if coding else ""
    # gzip squeezes the 1 KiB chunks to a few bytes each: less is enough to see it flowing
    flowing = 4 * 1024 if coding else 64 * 1024
    with log_added(server) as log:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5.0) as sock:
            sock.sendall(
                f"GET /{route}/{name} HTTP/1.1\r\nHost: 127.0.0.1\r\n{accept}\r\n".encode()
            )
            received = b""
            while len(received) < flowing:  # the stream is flowing
                chunk = sock.recv(65536)
                assert chunk, received[:200]
                received += chunk
        assert received.startswith(b"HTTP/1.1 200")
        head = received.partition(b"\r\n\r\n")[0].lower()
        assert (b"content-encoding: gzip" in head) == bool(coding), head
        # The producer was stopped (its finally ran), the worker is free for other requests.
        assert marked(server, f"{name}-finally"), server.output()
        still_serving(server)
        stopped = server.output()
        time.sleep(0.5)  # what a producer still running would log meanwhile
        assert server.output() == stopped
    added = log[0]
    assert "Traceback" not in added, added
    # granian ASGI logs a line for each chunk sent between the client leaving and the app being
    # told (how many is a race); the others log nothing. None comes after the producer stopped.
    if server.kind != "granian-asgi":  # type: ignore[attr-defined]
        assert "transport error" not in added, added


@pytest.mark.parametrize("kind", SERVERS)
def test_server_stops_on_sigterm_after_a_tight_producer_lost_its_client(
    kind: str, tmp_path: Path
) -> None:
    """A producer pinning the worker made uvicorn ignore SIGTERM (and need SIGKILL)."""
    port = free_port()
    process = ServerProcess(
        server_argv(kind, TARGET, port),
        port,
        REPO_ROOT,
        {lifecycle_app.MARKER_DIR_VARIABLE: str(tmp_path)},
        log_path=tmp_path / "server.log",
    ).start()
    try:
        process.wait_ready()
        with socket.create_connection(("127.0.0.1", port), timeout=5.0) as sock:
            sock.sendall(b"GET /tight/gone HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        assert wait_until((tmp_path / "gone-finally").exists, timeout=10.0), process.output()
    finally:
        code = process.stop(timeout=8.0)
    # uvicorn re-raises the SIGTERM it handled (-15), granian exits 0; -9 would mean it had to
    # be killed.
    assert code == (-signal.SIGTERM if kind == "uvicorn" else 0), process.output()


# --- item 5: HEAD closes every body it does not send ------------------------------------------


@pytest.mark.parametrize("kind", ["stream", "lines", "events"])
@pytest.mark.parametrize("encoding", ["identity", "gzip"])
def test_head_closes_the_body_it_does_not_send(
    server: ServerProcess, kind: str, encoding: str
) -> None:
    name = f"head-{kind}-{encoding}"
    raw = raw_request(server, "HEAD", f"/body/{kind}/{name}", f"Accept-Encoding: {encoding}")
    assert status_of(raw) == 200, raw
    assert raw.endswith(b"\r\n\r\n"), raw  # headers only
    assert marked(server, f"{name}-closed"), server.output()
    # A HEAD answered is a request that succeeded: its after-response work runs normally.
    assert marked(server, f"{name}-background")
    assert outcome_of_provider(server, name) == ["commit"]
    still_serving(server)


def test_get_closes_the_body_it_sent(server: ServerProcess) -> None:
    raw = raw_request(server, "GET", "/body/lines/get-lines")
    assert status_of(raw) == 200
    assert raw.endswith(b"data\r\n0\r\n\r\n"), raw
    assert marked(server, "get-lines-closed"), server.output()
    assert outcome_of_provider(server, "get-lines") == ["commit"]


# --- item 4: a body that fails after it started -----------------------------------------------


def test_body_failing_after_it_started_follows_one_rule(server: ServerProcess) -> None:
    """Every server: the provider sees the body's error, background tasks are skipped (and
    a warning says so). ASGI servers drop the connection; RSGI can only end the body early."""
    name = f"failing-{server.kind}"  # type: ignore[attr-defined]
    with log_added(server) as log:
        raw = raw_request(server, "GET", f"/failing/{name}")
        assert outcome_of_provider(server, name) == ["RuntimeError"]
        still_serving(server)
    assert status_of(raw) == 200
    assert b"first chunk\n" in raw
    if server.kind == "granian-rsgi":  # type: ignore[attr-defined]
        assert raw.endswith(b"\r\n0\r\n\r\n"), raw  # RSGI cannot abort a stream
        assert "streamed response failed after it started (body truncated)" in log[0]
    else:
        assert not raw.endswith(b"\r\n0\r\n\r\n"), raw  # the connection was dropped
    assert f"the body of {name} broke" in log[0]
    assert "skipped BackgroundTasks" in log[0], log[0]
    assert not (markers(server) / f"{name}-background").exists()


# --- item 3: GZip keeps what it wraps ---------------------------------------------------------


@pytest.mark.parametrize("route", ["stream", "file"])
def test_gzip_keeps_background_and_teardown(server: ServerProcess, route: str) -> None:
    name = f"gzip-{route}"
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10.0)
    try:
        connection.request("GET", f"/{route}/{name}", headers={"Accept-Encoding": "gzip"})
        response = connection.getresponse()
        body = gzip.decompress(response.read())
    finally:
        connection.close()
    assert response.status == 200
    assert response.getheader("content-encoding") == "gzip"
    assert body.startswith(b"line 0" if route == "stream" else b'"""The app the hostile')
    assert marked(server, f"{name}-background"), server.output()
    assert outcome_of_provider(server, name) == ["commit"]


# --- item 16: 304 and 416 file answers keep the after-response work ---------------------------


@pytest.mark.parametrize("answer", [304, 416])
def test_bodiless_file_answers_keep_the_after_work(server: ServerProcess, answer: int) -> None:
    etag = http_request(server.url + "/file/etag-probe").headers["etag"]
    name = f"file-{answer}"
    asked = {"If-None-Match": etag} if answer == 304 else {"Range": "bytes=999999-"}
    response = http_request(server.url + f"/file/{name}", headers=asked)
    assert response.status == answer
    assert marked(server, f"{name}-background"), server.output()
    assert outcome_of_provider(server, name) == ["commit"]


# --- item 4: exactly the announced length of a file -------------------------------------------


def test_a_file_that_grows_while_it_is_sent_goes_out_at_its_announced_length(
    server: ServerProcess, tmp_path: Path
) -> None:
    path = tmp_path / "growing.bin"
    original = bytes(range(256)) * 16 * 1024  # 4 MiB: more than the socket buffers hold
    path.write_bytes(original)
    with log_added(server) as log:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10.0) as sock:
            sock.sendall(f"GET /growing?path={path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            received = sock.recv(65536)
            while b"\r\n\r\n" not in received:
                received += sock.recv(65536)
            with path.open("ab") as grow:  # the file grows while it is being sent
                grow.write(b"appended" * 128 * 1024)
            head, _, body = received.partition(b"\r\n\r\n")
            assert b"content-length: 4194304" in head.lower(), head
            while len(body) < len(original):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                body += chunk
            # The same connection serves the next request: nothing extra was sent.
            sock.sendall(b"GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            following = read_response(sock)
        still_serving(server)
    assert body == original
    assert status_of(following) == 200, following[:300]
    assert following.endswith(b'{"hello":"world"}'), following[-300:]
    assert "Traceback" not in log[0], log[0]
