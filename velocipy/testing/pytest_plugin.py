"""The pytest plugin (registered through the ``pytest11`` entry point, so it loads by itself).

Fixtures, all built on one ``app`` fixture:

- ``app``: the app under test. Define your own ``app`` fixture (a fresh app per test, say),
  or name it once in the pytest configuration: ``velocipy_app = "myproject.main:app"``.
- ``velocipy_interface``: ``"asgi"`` then ``"rsgi"``; every test using the fixtures below runs
  once per interface.
- ``client``: an entered :class:`~velocipy.testing.TestClient` (lifespan ran).
- ``async_client``: an :class:`~velocipy.testing.AsyncTestClient` whose lifespan ran; await
  its calls in an async test (pytest-asyncio, anyio) or in ``asyncio.run``.
- ``live_server``: the app served by a real server on a free loopback port, for browsers and
  end-to-end clients: uvicorn for ``asgi``, granian ``--interface rsgi`` for ``rsgi``.
  ``live_server.url`` (``http://127.0.0.1:PORT``) and ``live_server.ws_url``.

The servers are imported only by the process the live server runs in.
"""

from __future__ import annotations

import importlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from velocipy.testing.client import AsyncTestClient, TestClient

__all__ = ["LiveServer"]

APP_OPTION = "velocipy_app"
INTERFACES = ("asgi", "rsgi")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        APP_OPTION, "the app the velocipy fixtures test, as 'module:attribute'", default=""
    )


def load_app(target: str) -> Any:
    """The object ``module:attribute`` names (``attribute`` may be dotted)."""
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise pytest.UsageError(f"{APP_OPTION} = {target!r}: write it as 'module:attribute'")
    found: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        found = getattr(found, part)
    return found


@pytest.fixture
def app(pytestconfig: pytest.Config) -> Any:
    """The app under test, from ``velocipy_app``; override this fixture to build it yourself."""
    target = str(pytestconfig.getini(APP_OPTION))
    if not target:
        raise pytest.UsageError(
            "the velocipy fixtures need the app: define an `app` fixture in conftest.py, or set "
            f"{APP_OPTION} = 'module:attribute' in your pytest configuration"
        )
    return load_app(target)


@pytest.fixture(params=INTERFACES)
def velocipy_interface(request: pytest.FixtureRequest) -> str:
    """The interface the client fixtures drive: every test using them runs on ASGI and RSGI."""
    return str(request.param)


@pytest.fixture
def client(app: Any, velocipy_interface: str) -> Iterator[TestClient]:
    with TestClient(app, interface=velocipy_interface) as entered:  # type: ignore[arg-type]
        yield entered


@pytest.fixture
def async_client(app: Any, velocipy_interface: str) -> Iterator[AsyncTestClient]:
    async_client = AsyncTestClient(app, interface=velocipy_interface)  # type: ignore[arg-type]
    with async_client.sync:  # its own loop thread: lifespan runs without the test's loop
        yield async_client


@pytest.fixture
def live_server(
    app: Any, velocipy_interface: str, pytestconfig: pytest.Config
) -> Iterator[LiveServer]:
    target = str(pytestconfig.getini(APP_OPTION)) or import_string_of(app)
    server = LiveServer(target, velocipy_interface, cwd=pytestconfig.rootpath)
    with server:
        yield server


def import_string_of(app: Any) -> str:
    """``module:attribute`` of a module-level app, for the live server's process to import."""
    for name, module in list(sys.modules.items()):
        if name == "__main__" or module is None:
            continue
        for attribute, value in list(vars(module).items()):
            if value is app:
                return f"{name}:{attribute}"
    raise pytest.UsageError(
        "live_server runs the app in a server process, which imports it: the app must be a "
        f"module-level variable, or set {APP_OPTION} = 'module:attribute'"
    )


class LiveServer:
    """A real server process (uvicorn for ASGI, granian for RSGI) on a free loopback port.

    Its output goes to ``log_path``; a server that does not come up within ``timeout``
    seconds fails the test with that output.
    """

    def __init__(
        self, target: str, interface: str, *, cwd: Path | None = None, timeout: float = 20.0
    ) -> None:
        self.target = target
        self.interface = interface
        self.cwd = cwd or Path.cwd()
        self.timeout = timeout
        self.host = "127.0.0.1"
        self.port = _free_port()
        self.log_path = Path(tempfile.mkdtemp(prefix="velocipy-live-")) / "server.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    def argv(self) -> list[str]:
        address = ["--host", self.host, "--port", str(self.port)]
        if self.interface == "asgi":
            return [sys.executable, "-m", "uvicorn", self.target, *address]
        return [sys.executable, "-m", "granian", self.target, "--interface", "rsgi", *address]

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self) -> LiveServer:
        env = dict(os.environ)
        paths = [str(self.cwd), *(p for p in sys.path if p)]
        env["PYTHONPATH"] = os.pathsep.join(paths)
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                self.argv(),
                cwd=self.cwd,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + self.timeout
        while not _port_is_open(self.host, self.port):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"the live server did not start: {self.argv()}\n{self.output()}")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_is_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0
