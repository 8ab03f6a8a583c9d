"""Static files and FileResponse over real uvicorn, granian RSGI and granian ASGI.

Traversal attempts go out on raw sockets (an HTTP library may normalise ``..``); Range and
conditional GETs are made with curl, the way a user checks a server by hand.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
from collections.abc import Iterator

import pytest

from tests.interop.files_tree import CSS, SECRET, big_content, build_tree, serve_files
from tests.support import SERVERS, ServerProcess

pytestmark = pytest.mark.interop

NOT_FOUND = b'{"detail":"File not found"}'


@pytest.fixture(scope="module", params=SERVERS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    root = build_tree(tmp_path_factory.mktemp(f"files-{request.param}"))
    with serve_files(str(request.param), root) as process:
        yield process


def raw_get(server: ServerProcess, target: str, method: str = "GET") -> tuple[int, bytes, bytes]:
    """Send the request line exactly as given; return (status, head, body)."""
    request = f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    received = b""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10.0) as sock:
        sock.sendall(request.encode())
        with contextlib.suppress(TimeoutError, ConnectionResetError):
            while chunk := sock.recv(65536):
                received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), head, body


def curl(server: ServerProcess, path: str, *args: str) -> tuple[int, dict[str, str], bytes]:
    """``curl -s -D <headers> --path-as-is`` with ``args``: (status, headers, body)."""
    done = subprocess.run(
        [
            "curl",
            "-s",
            "--path-as-is",
            "-D",
            "/dev/stderr",
            "--max-time",
            "10",
            *args,
            server.url + path,
        ],
        capture_output=True,
        check=True,
        timeout=30,
    )
    lines = done.stderr.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return status, headers, done.stdout


def assert_no_traceback(server: ServerProcess) -> None:
    assert server.alive(), server.output()
    assert "Traceback" not in server.output(), server.output()


def test_a_mounted_file_is_served_with_its_metadata(server: ServerProcess) -> None:
    status, headers, body = curl(server, "/static/app.css")
    assert (status, body) == (200, CSS)
    assert headers["content-type"] == "text/css; charset=utf-8"
    assert headers["content-length"] == str(len(CSS))
    assert headers["accept-ranges"] == "bytes"
    assert headers["etag"].startswith('"')
    assert headers["last-modified"].endswith("GMT")
    head_status, head_headers, head_body = curl(server, "/static/app.css", "-I")
    assert (head_status, head_body.count(b"{")) == (200, 0)
    assert head_headers["content-length"] == str(len(CSS))


@pytest.mark.parametrize("path", ["/static/big.bin", "/downloads/big.bin"])
def test_ranges_with_curl(server: ServerProcess, path: str) -> None:
    content = big_content()
    size = len(content)
    status, headers, body = curl(server, path, "-H", "Range: bytes=100000-250000")
    assert status == 206
    assert headers["content-range"] == f"bytes 100000-250000/{size}"
    assert headers["content-length"] == "150001"
    assert body == content[100000:250001]

    status, headers, body = curl(server, path, "-r", "-500")  # the last 500 bytes
    assert (status, body) == (206, content[-500:])
    assert headers["content-range"] == f"bytes {size - 500}-{size - 1}/{size}"

    status, headers, body = curl(server, path, "-r", "0-9,10-19")  # merges into one range
    assert (status, body, headers["content-range"]) == (206, content[:20], f"bytes 0-19/{size}")

    status, headers, body = curl(server, path, "-r", "0-9,100-109")  # two ranges: whole file
    assert (status, len(body)) == (200, size)

    status, headers, body = curl(server, path, "-H", f"Range: bytes={size}-")
    assert status == 416
    assert headers["content-range"] == f"bytes */{size}"

    status, headers, body = curl(server, path, "-H", "Range: bytes=oops")  # ignored
    assert (status, len(body)) == (200, size)
    assert_no_traceback(server)


def test_conditional_get_with_curl(server: ServerProcess) -> None:
    _, headers, _ = curl(server, "/static/app.css")
    etag, modified = headers["etag"], headers["last-modified"]

    status, not_modified, body = curl(server, "/static/app.css", "-H", f"If-None-Match: {etag}")
    assert (status, body) == (304, b"")
    assert not_modified["etag"] == etag
    status, _, body = curl(server, "/static/app.css", "-H", f"If-Modified-Since: {modified}")
    assert (status, body) == (304, b"")
    status, _, body = curl(server, "/static/app.css", "-H", 'If-None-Match: "other"')
    assert (status, body) == (200, CSS)
    # If-Range with a stale validator: the whole file instead of the range
    status, _, body = curl(server, "/static/app.css", "-r", "0-3", "-H", 'If-Range: "stale"')
    assert (status, body) == (200, CSS)
    status, _, body = curl(server, "/static/app.css", "-r", "0-3", "-H", f"If-Range: {etag}")
    assert (status, body) == (206, CSS[:4])


TRAVERSALS = [
    "/static/../outside/secret.txt",
    "/static/%2e%2e/outside/secret.txt",
    "/static/%2E%2E/%2E%2E/outside/secret.txt",
    "/static/..%2foutside%2fsecret.txt",
    "/static/..%2Foutside/secret.txt",
    "/static/app.css%00",
    "/static/%00../outside/secret.txt",
    "/static//etc/passwd",
    "/static/%2fetc%2fpasswd",
    "/static/..%5coutside%5csecret.txt",
    "/static/%5c%5chost%5cshare",
    "/static/C:%5cWindows%5cwin.ini",
    "/static/../public_sibling/secret.txt",
    "/static/link-out.txt",
    "/static/" + "a" * 5000,
    "/site/../outside/secret.txt",
    "/downloads/../outside/secret.txt",
    "/downloads/%2e%2e/outside/secret.txt",
    "/downloads//etc/passwd",
    "/downloads/link-out.txt",
]


def test_traversal_attempts_are_404_like_a_missing_file(server: ServerProcess) -> None:
    status, _, missing = raw_get(server, "/static/no-such-file.txt")
    assert (status, missing) == (404, NOT_FOUND)
    for target in TRAVERSALS:
        status, head, body = raw_get(server, target)
        assert (status, body) == (404, NOT_FOUND), (target, head)
        assert SECRET not in body
    assert_no_traceback(server)


def test_symlink_inside_the_root_and_html_mode(server: ServerProcess) -> None:
    assert raw_get(server, "/static/link-in.css")[::2] == (200, CSS)
    status, _, body = raw_get(server, "/site/")
    assert status == 200
    assert b"<title>mounted page</title>" in body
    status, head, _ = raw_get(server, "/site/sub")
    assert status == 307
    assert b"location: /site/sub/" in head.lower()
    assert raw_get(server, "/site/sub/")[::2] == (200, b"<p>sub index</p>")
    status, head, body = raw_get(server, "/static/app.css", method="POST")
    assert status == 405
    assert b"allow: GET, HEAD" in head.replace(b"Allow", b"allow")


def test_templates_render_with_url_for(server: ServerProcess) -> None:
    status, headers, body = curl(server, "/page?who=%3Cb%3EAda%3C/b%3E")
    assert status == 200
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert b'href="/static/app.css"' in body
    assert b"Hello &lt;b&gt;Ada&lt;/b&gt;" in body  # autoescaped
    assert b"<p id=path>/page</p>" in body


def test_empty_file(server: ServerProcess) -> None:
    status, headers, body = curl(server, "/static/empty.txt")
    assert (status, body, headers["content-length"]) == (200, b"", "0")
    assert curl(server, "/static/empty.txt", "-r", "0-")[0] == 416
    assert json.loads(curl(server, "/static/nothing")[2]) == {"detail": "File not found"}


def test_ten_thousand_ranges_get_the_whole_file(server: ServerProcess) -> None:
    """A hostile Range header (CVE-2025-62727 shape) is ignored, not merged range by range."""
    header = "Range: bytes=" + ",".join(f"{i}-{i}" for i in range(10_000))
    status, headers, body = curl(server, "/static/big.bin", "-H", header)
    assert (status, len(body)) == (200, len(big_content()))
    assert "content-range" not in headers
    assert_no_traceback(server)


@pytest.mark.parametrize("path", ["/static/app.css/", "/site/app.css/", "/static/sub/index.html/"])
def test_a_file_named_with_a_trailing_slash_is_404(server: ServerProcess, path: str) -> None:
    assert raw_get(server, path)[::2] == (404, NOT_FOUND)
    assert raw_get(server, path.rstrip("/"))[0] == 200


def test_a_broken_tree_is_a_logged_500_not_a_silent_404(server: ServerProcess) -> None:
    """An OSError other than not-found (here ELOOP): a 500 and a log line for the operator."""
    before = len(server.output())
    for method in ("GET", "HEAD"):
        status, _, body = raw_get(server, "/static/loop-a", method)
        assert status == 500
    assert body == b""  # HEAD
    assert raw_get(server, "/static/loop-a")[::2] == (
        500,
        b'{"detail":"The file could not be read"}',
    )
    added = server.output()[before:]
    assert added.count("static file") == 3, added
    assert "could not be read: [Errno 40] Too many levels of symbolic links" in added
    assert "Traceback" not in added
    assert raw_get(server, "/static/app.css")[::2] == (200, CSS)
