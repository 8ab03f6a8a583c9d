"""Start and stop the servers the end-to-end tiers measure, one framework at a time.

Each server runs in its own process group, pinned to the server CPU, with ``bench/`` as its
working directory and import path (see ``serve/server_app.py``). The other package named velocipy on
the package index shares our import name, so it lives in its own virtualenv under
``bench/.venvs/`` (git-ignored), created on first use with pip.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from machine import pinned, process_tree

BENCH_DIR = Path(__file__).resolve().parent
SERVE_DIR = BENCH_DIR / "serve"  # the servers' working directory (see serve/server_app.py)
VENVS = BENCH_DIR / ".venvs"
SERVERS = ("granian-rsgi", "granian-asgi", "uvicorn")
# The other framework named velocipy on the package index, and what its app needs to run.
PYPI_VELOCIPY = "velocipy[all]==0.3.0"  # its __init__ imports every optional extra
PYPI_VELOCIPY_DEPS = ("msgspec", "granian>=2.8,<2.9", "uvicorn[standard]>=0.30")
PYPI_NAME = "velocipy-pypi"


class ServerFailed(RuntimeError):
    pass


def interface_of(server: str) -> str:
    return "rsgi" if server == "granian-rsgi" else "asgi"


def serves(framework: str, server: str) -> bool:
    """Peers written only for ASGI are skipped on RSGI."""
    rsgi_capable = {"bare", "floor", "velocipy", "emmett", PYPI_NAME}
    return interface_of(server) == "asgi" or framework in rsgi_capable


def pypi_python(create: bool = True) -> Path | None:
    """The interpreter of the virtualenv holding the package-index velocipy (made on demand)."""
    python = VENVS / PYPI_NAME / "bin" / "python"
    if python.exists() or not create:
        return python if python.exists() else None
    subprocess.run([sys.executable, "-m", "venv", str(python.parent.parent)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", PYPI_VELOCIPY, *PYPI_VELOCIPY_DEPS],
        check=True,
    )
    return python


def python_for(framework: str) -> str:
    if framework == PYPI_NAME:
        python = pypi_python()
        assert python is not None
        return str(python)
    return sys.executable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(port: int) -> bool:
    """The app itself answers (granian opens the port before its worker is ready)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/plaintext", timeout=2) as reply:
            return reply.status == 200
    except (OSError, ValueError):
        return False


def server_argv(python: str, server: str, port: int, workers: int = 1) -> list[str]:
    if server == "uvicorn":
        return [
            python,
            "-m",
            "uvicorn",
            "server_app:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
            "--interface",  # Emmett's app object would be guessed to be ASGI 2
            "asgi3",
            *(["--workers", str(workers)] if workers > 1 else []),
        ]
    return [
        python,
        "-m",
        "granian",
        "server_app:app",
        "--interface",
        interface_of(server),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        "--no-access-log",
    ]


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def pids(self) -> list[int]:
        return process_tree(self.process.pid)

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-2000:]


@contextlib.contextmanager
def serving(
    framework: str,
    server: str,
    cpus: str | None,
    *,
    fillers: int | None = None,
    suite: str | None = None,
    env: dict[str, str] | None = None,
    workers: int = 1,
) -> Iterator[Server]:
    """Run ``framework``'s app on ``server`` until the block ends (the whole group is killed).

    ``suite`` names the module of app factories (``peers.py`` by default), ``env`` adds
    variables the app reads (a database URL), ``workers`` is the server's worker count.
    """
    port = free_port()
    variables = {
        **os.environ,
        "BENCH_APP": framework,
        "BENCH_INTERFACE": interface_of(server),
        "PYTHONPATH": f"{SERVE_DIR}{os.pathsep}{BENCH_DIR}",
        "PYTHONUNBUFFERED": "1",
    }
    if fillers is not None:
        variables["BENCH_FILLERS"] = str(fillers)
    if suite is not None:
        variables["BENCH_SUITE"] = suite
    variables.update(env or {})
    variables.pop("VELOCIPY_DEBUG", None)
    log = Path(tempfile.mkstemp(prefix=f"bench-{framework}-{server}-", suffix=".log")[1])
    with log.open("wb") as out:
        process = subprocess.Popen(
            pinned(server_argv(python_for(framework), server, port, workers), cpus),
            cwd=SERVE_DIR,
            env=variables,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    running = Server(process, port, log)
    try:
        deadline = time.monotonic() + 30
        while not _answers(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise ServerFailed(f"{framework} on {server} did not start:\n{running.output()}")
            time.sleep(0.05)
        yield running
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
        log.unlink(missing_ok=True)
