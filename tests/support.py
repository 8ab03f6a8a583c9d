"""Helpers shared by every test that starts a real process: free ports, waits, clean stops.

Every wait is bounded; every process is started in its own process group and killed with
its whole group, so a failing test never leaves a server behind. A pytest that is itself killed
(SIGKILL, a CI timeout) takes its servers along: they get SIGTERM when it dies.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
BIN_DIR = Path(sys.executable).parent

# Debian's Chromium (installed by .ci/provision), headless, with the background services off:
# this machine's closed network refuses their connections, many at a time.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


_PR_SET_PDEATHSIG = 1  # prctl(2)


def _sigterm_when_pytest_dies() -> None:  # pragma: no cover - runs in the child, before exec
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def die_with_pytest() -> Callable[[], None] | None:
    """A ``preexec_fn`` for servers: SIGTERM once pytest is gone (Linux).

    The kernel sends the signal when the *thread* that started the child ends, so it is only
    asked for from the main thread (which lives as long as pytest).
    """
    if sys.platform == "linux" and threading.current_thread() is threading.main_thread():
        return _sigterm_when_pytest_dies
    return None


def executable(name: str) -> str:
    """Path of a console script installed next to the running interpreter."""
    candidate = BIN_DIR / name
    return str(candidate) if candidate.exists() else name


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_is_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def wait_until(predicate: object, timeout: float = 15.0, interval: float = 0.05) -> bool:
    """Poll ``predicate()`` until it is truthy or ``timeout`` seconds pass."""
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


@dataclass
class HTTPResult:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode()


def http_request(
    url: str,
    *,
    method: str = "GET",
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> HTTPResult:
    """One HTTP request with urllib that returns error statuses instead of raising."""
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return HTTPResult(
                response.status,
                {k.lower(): v for k, v in response.headers.items()},
                response.read(),
            )
    except urllib.error.HTTPError as exc:
        body = exc.read()
        return HTTPResult(exc.code, {k.lower(): v for k, v in exc.headers.items()}, body)


@dataclass
class ServerProcess:
    """A process started in its own group; output goes to a log file for post-mortems."""

    argv: Sequence[str]
    port: int
    cwd: Path
    env: dict[str, str] = field(default_factory=dict)
    log_path: Path | None = None
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> ServerProcess:
        if self.log_path is None:  # never in cwd: that may be the repo or a watched project
            log_dir = Path(tempfile.mkdtemp(prefix="velocipy-server-log-"))
            self.log_path = log_dir / f"server-{self.port}.log"
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            list(self.argv),
            cwd=self.cwd,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **self.env},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=die_with_pytest(),
        )
        log.close()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def output(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 20.0) -> None:
        assert self.process is not None
        ready = wait_until(
            lambda: (
                self.process is not None
                and (self.process.poll() is not None or port_is_open(self.port))
            ),
            timeout,
        )
        if self.process.poll() is not None or not ready:
            raise RuntimeError(f"server {self.argv} did not start:\n{self.output()}")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal(self, signum: int) -> None:
        assert self.process is not None
        self.process.send_signal(signum)

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM the process group, SIGKILL it after ``timeout``; return the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        try:
            return self.process.wait(5)
        except subprocess.TimeoutExpired:  # pragma: no cover - the kernel owes us this one
            return None


@contextlib.contextmanager
def running(
    argv: Sequence[str],
    *,
    port: int,
    cwd: Path,
    env: dict[str, str] | None = None,
    ready_timeout: float = 20.0,
) -> Iterator[ServerProcess]:
    """Start a server, wait until its port answers, and always stop its whole group."""
    server = ServerProcess(argv, port, cwd, env or {}).start()
    try:
        server.wait_ready(ready_timeout)
        yield server
    finally:
        server.stop()


SERVERS = ("uvicorn", "granian-rsgi", "granian-asgi")


def server_argv(kind: str, target: str, port: int) -> list[str]:
    """The command line that serves ``target`` ("module:attr") with one of ``SERVERS``."""
    if kind == "uvicorn":
        return [
            executable("uvicorn"),
            target,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "info",
        ]
    interface = {"granian-rsgi": "rsgi", "granian-asgi": "asgi"}[kind]
    return [
        executable("granian"),
        target,
        "--interface",
        interface,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--log-level",
        "info",
    ]


@contextlib.contextmanager
def server_with_markers(
    kind: str,
    target: str,
    marker_variable: str,
    tmp_path_factory: pytest.TempPathFactory,
    name: str,
) -> Iterator[ServerProcess]:
    """A server of ``kind`` for ``target``, whose app writes its marks (a generator's
    ``finally``, a teardown) into ``server.markers``; ``server.kind`` says which server it is."""
    markers = tmp_path_factory.mktemp(f"{name}-markers-{kind}")
    port = free_port()
    process = ServerProcess(
        server_argv(kind, target, port),
        port,
        REPO_ROOT,
        {marker_variable: str(markers)},
        log_path=tmp_path_factory.mktemp(f"{name}-log-{kind}") / "server.log",
    ).start()
    try:
        process.wait_ready()
        process.markers = markers  # type: ignore[attr-defined]
        process.kind = kind  # type: ignore[attr-defined]
        yield process
    finally:
        process.stop()
