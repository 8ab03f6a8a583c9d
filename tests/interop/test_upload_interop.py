"""Uploads, malformed forms and background tasks on real uvicorn, granian RSGI and granian ASGI.

Memory and temporary files are read from the serving worker's ``/proc/PID`` (the app reports its
pid), so what is checked is the real process, not a model of it.
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.interop.apps import upload_app
from tests.support import REPO_ROOT, ServerProcess, wait_until

pytestmark = pytest.mark.interop

TARGET = "tests.interop.apps.upload_app:app"
BOUNDARY = "velocipy-interop-boundary"
MIB = 1024 * 1024


@pytest.fixture
def spool_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "spool"
    directory.mkdir()
    return directory


@pytest.fixture
def upload_server(serve: Any, server_kind: str, spool_dir: Path, tmp_path: Path) -> Iterator[Any]:
    env = {"TMPDIR": str(spool_dir), upload_app.TASK_MARKER_VARIABLE: str(tmp_path / "tasks")}
    with serve(TARGET, server_kind, REPO_ROOT, env) as server:
        yield server


def worker_pid(server: ServerProcess) -> int:
    return int(httpx.get(f"{server.url}/pid", timeout=10).json()["pid"])


def memory_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


def files_open_in(pid: int, directory: Path) -> list[str]:
    """Files under ``directory`` (deleted or not) that process ``pid`` holds open."""
    found = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(directory)):
            found.append(target)
    return found


def file_part_head(name: str, filename: str) -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; '
        f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'
    ).encode()


TAIL = f"\r\n--{BOUNDARY}--\r\n".encode()


def upload_body(size: int, digest: Any) -> Iterator[bytes]:
    """A multipart body with one ``size``-byte file, generated as it is sent."""
    yield file_part_head("file", "big.bin")
    block = bytes(range(256)) * 256
    sent = 0
    while sent < size:
        piece = block[: min(len(block), size - sent)]
        digest.update(piece)
        sent += len(piece)
        yield piece
    yield TAIL


def assert_quiet_log(server: ServerProcess) -> None:
    output = server.output()
    assert "Traceback" not in output, output
    assert "ERROR" not in output, output


def test_a_200_mb_upload_keeps_the_workers_memory_growth_under_30_mb(
    upload_server: ServerProcess, spool_dir: Path
) -> None:
    pid = worker_pid(upload_server)
    small = hashlib.sha256()
    warm = httpx.post(
        f"{upload_server.url}/upload",
        content=b"".join(upload_body(3 * MIB, small)),
        headers={"content-type": f"multipart/form-data; boundary={BOUNDARY}"},
        timeout=60,
    )
    assert warm.json()["sha256"] == small.hexdigest()
    baseline_rss = memory_kib(pid, "VmRSS")
    baseline_peak = memory_kib(pid, "VmHWM")
    samples: list[int] = []
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.02):
            samples.append(memory_kib(pid, "VmRSS"))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    size = 200 * MIB
    digest = hashlib.sha256()
    length = len(file_part_head("file", "big.bin")) + size + len(TAIL)
    try:
        response = httpx.post(
            f"{upload_server.url}/upload",
            content=upload_body(size, digest),
            headers={
                "content-type": f"multipart/form-data; boundary={BOUNDARY}",
                "content-length": str(length),
            },
            timeout=300,
        )
    finally:
        done.set()
        sampler.join(10)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "filename": "big.bin",
        "size": size,
        "sha256": digest.hexdigest(),
        "note": "",
    }
    peak = max([*samples, memory_kib(pid, "VmRSS")])
    new_peak = memory_kib(pid, "VmHWM")
    if new_peak > baseline_peak:  # the high-water mark moved during the upload: count it too
        peak = max(peak, new_peak)
    growth_mib = (peak - baseline_rss) / 1024
    assert len(samples) > 5
    assert growth_mib < 30, f"worker RSS grew by {growth_mib:.1f} MiB during a 200 MiB upload"
    assert wait_until(lambda: files_open_in(pid, spool_dir) == [], 10)
    assert_quiet_log(upload_server)


def test_a_client_leaving_mid_upload_leaves_no_temporary_file_and_no_error(
    upload_server: ServerProcess, spool_dir: Path
) -> None:
    pid = worker_pid(upload_server)
    declared = 50 * MIB
    head = (
        f"POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {declared}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", upload_server.port), timeout=30) as sock:
        sock.sendall(head + file_part_head("file", "partial.bin"))
        for _ in range(5 * 16):  # 5 MiB, past the 1 MiB spool: the upload is on disk now
            sock.sendall(b"x" * 64 * 1024)
        assert wait_until(lambda: len(files_open_in(pid, spool_dir)) == 1, 20), (
            "the upload never reached a temporary file"
        )
    # The client is gone, 45 MiB short of what it announced.
    assert wait_until(lambda: files_open_in(pid, spool_dir) == [], 20), files_open_in(
        pid, spool_dir
    )
    assert list(spool_dir.iterdir()) == []
    assert httpx.get(f"{upload_server.url}/pid", timeout=10).json() == {"pid": pid}
    assert_quiet_log(upload_server)


def tiny_parts(count: int) -> bytes:
    part = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="p"\r\n\r\n\r\n'.encode()
    return part * count + f"--{BOUNDARY}--\r\n".encode()


MALFORMED = [
    ("multipart/form-data", tiny_parts(1), 400, "needs a boundary parameter"),
    (None, tiny_parts(1)[: -len(BOUNDARY) - 6], 400, "ends before the closing boundary"),
    (
        None,
        f"--{BOUNDARY}\r\n\r\nbody\r\n--{BOUNDARY}--\r\n".encode(),
        400,
        "no Content-Disposition",
    ),
    # Which limit speaks first depends on how the server chunks the body: the field count (1000)
    # when the parser's events are read chunk by chunk, the part count (fields + files) when one
    # chunk holds more than 2000 parts. Both are the form's 413.
    (None, tiny_parts(10_000), 413, "in the form: the limit is"),
    ("application/x-www-form-urlencoded", b"&".join([b"f=1"] * 1001), 413, "Too many fields"),
]


def test_malformed_multipart_bodies_get_their_status_and_the_server_stays_up(
    upload_server: ServerProcess,
) -> None:
    pid = worker_pid(upload_server)
    for content_type, body, status, reason in MALFORMED:
        response = httpx.post(
            f"{upload_server.url}/form",
            content=body,
            headers={"content-type": content_type or f"multipart/form-data; boundary={BOUNDARY}"},
            timeout=30,
        )
        assert response.status_code == status, (reason, response.text)
        assert reason in response.json()["detail"]
        assert httpx.get(f"{upload_server.url}/pid", timeout=10).json() == {"pid": pid}
    assert upload_server.alive()
    assert_quiet_log(upload_server)


def test_forms_and_files_from_httpx_reach_the_handler(upload_server: ServerProcess) -> None:
    response = httpx.post(
        f"{upload_server.url}/upload",
        data={"note": "café"},
        files={"file": ("../../etc/notes.txt", b"hello", "text/plain")},
        timeout=30,
    )
    assert response.json() == {
        "filename": "notes.txt",
        "size": 5,
        "sha256": hashlib.sha256(b"hello").hexdigest(),
        "note": "café",
    }
    form = httpx.post(f"{upload_server.url}/form", data={"a": ["1", "2"], "b": "x y"}, timeout=30)
    assert form.json() == {"a": ["1", "2"], "b": ["x y"]}


def test_background_tasks_run_after_the_response_and_a_failure_is_only_logged(
    upload_server: ServerProcess, tmp_path: Path
) -> None:
    marker = tmp_path / "tasks"
    response = httpx.post(
        f"{upload_server.url}/signup", data={"email": "ada@example.org"}, timeout=30
    )
    assert response.status_code == 200
    assert response.json() == {"status": "registered"}
    assert wait_until(lambda: marker.exists() and "welcome" in marker.read_text(), 15)
    assert marker.read_text() == "welcome ada@example.org\n"
    assert wait_until(lambda: "mail server unreachable" in upload_server.output(), 15)
    assert "Traceback" in upload_server.output()
    assert httpx.get(f"{upload_server.url}/pid", timeout=10).status_code == 200


def test_files_of_request_form_are_closed_when_the_request_is_over(
    upload_server: ServerProcess, spool_dir: Path
) -> None:
    pid = worker_pid(upload_server)
    with httpx.Client(timeout=60) as client:  # the connection stays open: the request is over
        response = client.post(
            f"{upload_server.url}/form", files={"doc": ("big.bin", b"z" * (3 * MIB))}
        )
        assert response.json() == {
            "doc": [
                "UploadFile(filename='big.bin', size=3145728, "
                "content_type='application/octet-stream')"
            ]
        }
        assert wait_until(lambda: files_open_in(pid, spool_dir) == [], 15), files_open_in(
            pid, spool_dir
        )
        assert client.get(f"{upload_server.url}/pid").json() == {"pid": pid}
    assert_quiet_log(upload_server)
