"""Serve a loaded app on the inherited listening socket: uvicorn (ASGI), granian (RSGI or ASGI)."""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path
from typing import Any

from velocipy_cli.dev.guards import (
    EXIT_STARTUP_FAILED,
    ASGIStartupGuard,
    FailureSink,
    ReadySink,
    RSGIStartupGuard,
)
from velocipy_cli.dev.launch import ChildSpec
from velocipy_cli.dev.orphans import exit_with_supervisor
from velocipy_cli.dev.reports import AppFailure, Report, send_report, wait_for_acknowledgement
from velocipy_cli.dev.timeouts import bounded_uvicorn_protocol, granian_http1_settings
from velocipy_cli.discovery import LoadedApp
from velocipy_cli.docs_line import docs_address

GRACEFUL_SHUTDOWN_SECONDS = 2
UVICORN_WS_MAX_SIZE = 16 * 1024 * 1024  # uvicorn's own default, for apps that set no limit


def serve(loaded: LoadedApp, spec: ChildSpec, acknowledgement_fd: int) -> int:
    """Run the server until it is told to stop; the exit code says whether the app started.

    Readiness is reported from the last point before the server handles requests (each
    worker's startup), and the report waits there until the supervisor has printed it.
    """
    root = Path(spec.project_root)

    def report_failure(error: BaseException | str) -> None:
        failure = (
            AppFailure("startup", f"lifespan startup: {error}")
            if isinstance(error, str)
            else AppFailure.from_exception(error, "startup", root)
        )
        send_report(spec.report_fd, Report("failed", failure))

    def report_ready() -> None:
        docs = docs_address(loaded.app, spec.host, spec.port, secure=spec.tls_cert is not None)
        send_report(
            spec.report_fd, Report("ready", note=f"{loaded.target} ({loaded.reason}){docs}")
        )
        wait_for_acknowledgement(acknowledgement_fd)

    if spec.server == "granian":
        return _serve_granian(loaded, spec, report_failure, report_ready)
    return _serve_uvicorn(loaded, spec, report_failure, report_ready)


def _serve_uvicorn(
    loaded: LoadedApp, spec: ChildSpec, report_failure: FailureSink, report_ready: ReadySink
) -> int:
    import uvicorn

    class ReportingServer(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=sockets)
            if not self.should_exit:  # listening, but nothing accepted before the loop runs
                report_ready()

        async def main_loop(self) -> None:
            """uvicorn's tick loop, but it notices a stop within 10 ms (reloads are faster)."""
            ticks = 0
            while not await self.on_tick(ticks):
                for _ in range(10):  # on_tick still runs every 100 ms, as uvicorn expects
                    await asyncio.sleep(0.01)
                    if self.should_exit:
                        return
                ticks = (ticks + 1) % 864000

    bounds: dict[str, Any] = {}
    if spec.header_timeout is not None and spec.body_timeout is not None:
        bounds["http"] = bounded_uvicorn_protocol(spec.header_timeout, spec.body_timeout)
    config = uvicorn.Config(
        ASGIStartupGuard(loaded.app, report_failure),
        lifespan="on",
        log_level=spec.log_level,
        access_log=spec.access_log,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        ws_max_size=_ws_max_size(loaded.app),
        ssl_certfile=spec.tls_cert,
        ssl_keyfile=spec.tls_key,
        **bounds,
    )
    _prefork(spec.workers - 1)
    server = ReportingServer(config)
    server.run(sockets=[socket.socket(fileno=spec.socket_fd)])
    return 0 if server.started else EXIT_STARTUP_FAILED


def _ws_max_size(app: object) -> int:
    """The app's WebSocket message limit, so uvicorn refuses a bigger message before buffering
    it (granian 2.8 has no such setting: there VelociPy checks after granian buffered it)."""
    limit = getattr(app, "ws_max_message_size", None)
    return limit if isinstance(limit, int) and limit > 0 else UVICORN_WS_MAX_SIZE


def _prefork(extra_workers: int) -> None:
    """``--workers N`` on uvicorn: N processes accept on the same inherited socket.

    Each fork watches the first child process, which watches the supervisor.
    """
    parent = os.getpid()
    for _ in range(extra_workers):
        if os.fork() == 0:
            exit_with_supervisor(parent)
            return


def _serve_granian(
    loaded: LoadedApp, spec: ChildSpec, report_failure: FailureSink, report_ready: ReadySink
) -> int:
    from granian import Granian
    from granian._granian import SocketHolder

    guarded: object
    if spec.interface == "rsgi":
        guarded = RSGIStartupGuard(loaded.app, report_failure, report_ready)
    else:  # granian runs the ASGI lifespan itself, in each worker, before it serves
        guarded = ASGIStartupGuard(loaded.app, report_failure, on_ready=report_ready)
    fd = spec.socket_fd

    class InheritedSocketGranian(Granian):  # type: ignore[misc,valid-type]
        """Granian's process manager, fed the supervisor's socket instead of binding its own."""

        def _init_shared_socket(self) -> None:
            self._ssp = None
            self._shd = SocketHolder(fd, False, 2048)  # type: ignore[call-arg]  # stub lags
            self._sfd = fd
            shared = socket.socket(fileno=os.dup(fd))
            shared.set_inheritable(True)
            self._sso = shared

    bounds: dict[str, Any] = {}
    if spec.header_timeout is not None:  # granian has no body timeout
        bounds["http1_settings"] = granian_http1_settings(spec.header_timeout)
    server = InheritedSocketGranian(
        loaded.target,
        address=spec.host,
        port=spec.port,
        interface=spec.interface,
        workers=spec.workers,
        log_level=spec.log_level,
        log_access=spec.access_log,
        websockets=True,
        ssl_cert=Path(spec.tls_cert) if spec.tls_cert else None,
        ssl_key=Path(spec.tls_key) if spec.tls_key else None,
        **bounds,
    )
    try:
        server.serve(target_loader=lambda: guarded, wrap_loader=False)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    return 0
