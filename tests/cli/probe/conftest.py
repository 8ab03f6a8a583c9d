"""ws-probe test fixtures: real servers on free ports, started once per session."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.cli.probe.helpers import HERE, PROBE_APP
from tests.support import ServerProcess, free_port, running, server_argv


@pytest.fixture(scope="session")
def echo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The `websockets` library's own server (see echo_server.py), in its own process."""
    port = free_port()
    argv = [sys.executable, str(HERE / "echo_server.py"), str(port)]
    with running(argv, port=port, cwd=tmp_path_factory.mktemp("echo")) as server:
        yield server


@pytest.fixture(scope="session", params=["uvicorn", "granian-rsgi"])
def velocipy_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """probe_app.py served by a real server: uvicorn (ASGI) and granian (RSGI)."""
    port = free_port()
    argv = server_argv(request.param, PROBE_APP, port)
    with running(argv, port=port, cwd=tmp_path_factory.mktemp(request.param)) as server:
        yield server


@pytest.fixture(scope="session")
def tls_echo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The same server behind TLS with a fresh self-signed certificate (made with openssl)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    port = free_port()
    argv = [sys.executable, str(HERE / "echo_server.py"), str(port), str(cert), str(key)]
    with running(argv, port=port, cwd=folder) as server:
        yield server
