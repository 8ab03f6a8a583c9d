"""Shared fixtures: run one test body on ASGI and RSGI, and start real servers for interop tests."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import SERVERS, ServerProcess, free_port, running, server_argv
from velocipy.testing import TestClient

ClientFactory = Callable[..., TestClient]
ServeFactory = Callable[..., contextlib.AbstractContextManager[ServerProcess]]


@pytest.fixture(params=["asgi", "rsgi"])
def protocol(request: pytest.FixtureRequest) -> str:
    """The interface the in-process test client drives: every test using it runs twice."""
    return str(request.param)


@pytest.fixture
def make_client(protocol: str) -> ClientFactory:
    """``make_client(app, **kwargs)``: a TestClient for the current protocol, not yet entered.

    Use it as ``with make_client(app) as client:`` to run lifespan, or call it directly.
    """

    def make(app: Any, **kwargs: Any) -> TestClient:
        return TestClient(app, interface=protocol, **kwargs)  # type: ignore[arg-type]

    return make


@pytest.fixture
def client_for(protocol: str) -> Iterator[ClientFactory]:
    """``client_for(app, **kwargs)``: an entered TestClient (lifespan ran), exited at teardown."""
    with contextlib.ExitStack() as stack:

        def make(app: Any, **kwargs: Any) -> TestClient:
            client = TestClient(app, interface=protocol, **kwargs)  # type: ignore[arg-type]
            return stack.enter_context(client)

        yield make


@pytest.fixture(params=SERVERS)
def server_kind(request: pytest.FixtureRequest) -> str:
    """One of "uvicorn", "granian-rsgi", "granian-asgi": interop tests run against each."""
    return str(request.param)


@pytest.fixture
def serve() -> ServeFactory:
    """``with serve("module:app", kind, cwd) as server:`` runs a real server on a free port.

    ``kind`` is one of ``tests.support.SERVERS``; ``server.url`` / ``server.ws_url`` address it,
    ``server.output()`` has its log. The whole process group is stopped on exit.
    """

    @contextlib.contextmanager
    def start(
        app_target: str, kind: str, cwd: Path, env: dict[str, str] | None = None
    ) -> Iterator[ServerProcess]:
        port = free_port()
        with running(server_argv(kind, app_target, port), port=port, cwd=cwd, env=env) as server:
            yield server

    return start
