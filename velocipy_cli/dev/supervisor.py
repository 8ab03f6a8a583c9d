"""The dev supervisor: owns the socket and the watcher, (re)starts the child, never imports the app.

One loop in the main thread waits on a wake-up pipe (signals, file changes) and the current
child's report pipe, and polls the child's exit status. A child that reported ``ready`` waits
until its ``ready`` line is printed (the supervisor then closes the child's stdin), so no request
is logged before it. A change restarts the child (its whole process
group: SIGTERM, then SIGKILL after :data:`STOP_GRACE_SECONDS`); a broken app is shown once and
answered with a 503 by the :class:`~velocipy_cli.dev.fallback.FallbackResponder` until the
next change.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Protocol

from velocipy_cli.dev.debounce import RestartScheduler
from velocipy_cli.dev.fallback import FallbackResponder
from velocipy_cli.dev.launch import ChildSpec
from velocipy_cli.dev.proxy import DevProxy
from velocipy_cli.dev.reports import AppFailure, parse_reports
from velocipy_cli.dev.sockets import bind_listening_socket
from velocipy_cli.dev.tls import DevCertificate, server_context
from velocipy_cli.dev.watcher import ChangeWatcher, ReloadFilter
from velocipy_cli.discovery import AppLocation

STOP_GRACE_SECONDS = 3.0
KILL_WAIT_SECONDS = 1.5
POLL_SECONDS = 0.05


@dataclass(frozen=True)
class DevServerConfig:
    """What ``velocipy run`` resolved: the app, the server, the watch."""

    location: AppLocation
    project_root: Path
    server: str = "uvicorn"  # see velocipy_cli.dev.choice
    interface: str = "asgi"
    host: str = "127.0.0.1"
    port: int = 8000
    reload: bool = True
    watch_dirs: Sequence[Path] = ()
    reload_includes: Sequence[str] = ()
    reload_excludes: Sequence[str] = ()
    workers: int = 1
    log_level: str = "info"
    access_log: bool = True
    debug: bool = False
    tls: DevCertificate | None = None  # --https
    header_timeout: int = 10  # applied without reload (velocipy_cli.dev.timeouts)
    body_timeout: int = 30
    proxy: bool = True  # reload mode: keep clients connected across restarts (--no-proxy)

    @property
    def proxied(self) -> bool:
        """The dev proxy runs only when reloading one worker; production mode never has it."""
        return self.proxy and self.reload and self.workers == 1


class SupervisorEvents(Protocol):
    """What the supervisor tells the user; the command renders it."""

    def serving(self, seconds: float, app: str) -> None: ...
    def reloading(self, changes: Sequence[Path]) -> None: ...
    def reloaded(self, changes: Sequence[Path], seconds: float) -> None: ...
    def app_failed(self, failure: AppFailure) -> None: ...
    def stopping(self) -> None: ...


@dataclass
class _Child:
    process: subprocess.Popen[bytes]
    reports: int  # read end of the report pipe
    started_at: float
    changes: Sequence[Path]  # what triggered this start (empty for the first one)
    buffer: bytearray = field(default_factory=bytearray)
    reports_ended: bool = False  # every writer closed the report pipe
    ready: bool = False
    failure: AppFailure | None = None


class Supervisor:
    """Runs until SIGINT/SIGTERM (exit 0), or until a child fails without ``reload`` (exit 1)."""

    def __init__(
        self, config: DevServerConfig, listener: socket.socket, events: SupervisorEvents
    ) -> None:
        self.config = config
        self.listener = listener
        self.events = events
        self._child: _Child | None = None
        self._standby: _Child | None = None
        self._fallback: FallbackResponder | None = None
        self._batches: list[tuple[float, list[Path]]] = []  # (arrival, paths) from the watcher
        self._batches_lock = threading.Lock()
        self._scheduler = RestartScheduler()
        self._stop_requested = False
        self._wake_read, self._wake_write = os.pipe()
        # Where the worker listens: the public socket, or behind the proxy an internal one.
        self._serving = listener
        self._proxy: DevProxy | None = None
        os.set_blocking(self._wake_read, False)
        os.set_blocking(self._wake_write, False)

    def run(self) -> int:
        previous = {
            signum: signal.signal(signum, self._on_stop_signal)
            for signum in (signal.SIGINT, signal.SIGTERM)
        }
        watcher = self._make_watcher()
        try:
            if watcher is not None:
                watcher.start()
            self._start_proxy()
            self._start_child(changes=())
            return self._loop()
        finally:
            self.events.stopping()
            if watcher is not None:
                watcher.stop()
            self._stop_fallback()
            self._stop_child()
            standby, self._standby = self._standby, None
            if standby is not None:
                self._stop(standby)
            self._stop_proxy()
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            os.close(self._wake_read)
            os.close(self._wake_write)

    def _start_proxy(self) -> None:
        if not self.config.proxied:
            return
        self._serving = bind_listening_socket("127.0.0.1", 0)
        host, port = self._serving.getsockname()[:2]
        tls = self.config.tls
        self._proxy = DevProxy(
            self.listener, (host, port), ssl_context=server_context(tls) if tls else None
        )
        self._proxy.start()

    def _stop_proxy(self) -> None:
        proxy, self._proxy = self._proxy, None
        if proxy is not None:
            proxy.stop()
            self._serving.close()

    def _release_proxy(self) -> None:
        if self._proxy is not None:
            self._proxy.release()

    def _make_watcher(self) -> ChangeWatcher | None:
        if not self.config.reload:
            return None
        roots = list(self.config.watch_dirs) or [self.config.project_root]
        reload_filter = ReloadFilter(
            roots, self.config.reload_includes, self.config.reload_excludes
        )
        return ChangeWatcher(roots, reload_filter, self._on_changes)

    # Wake-ups from other contexts: signal handlers and the watcher thread.

    def _on_stop_signal(self, signum: int, frame: FrameType | None) -> None:
        self._stop_requested = True
        self._wake()

    def _on_changes(self, paths: list[Path]) -> None:
        with self._batches_lock:
            self._batches.append((time.monotonic(), paths))
        self._wake()

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self._wake_write, b"!")

    # The loop.

    def _loop(self) -> int:
        while not self._stopping():
            watched = [self._wake_read]
            child = self._child
            if child is not None and not child.reports_ended:
                watched.append(child.reports)  # a waiting "ready" is shown at once
            # Child exits are polled: a short timeout costs nothing here.
            select.select(watched, [], [], POLL_SECONDS)
            with contextlib.suppress(OSError):
                os.read(self._wake_read, 4096)
            if self._stopping():
                break
            self._read_reports()
            changes = self._changes_due()
            if changes:
                self._restart(changes)
            elif self._child_exited() and not self.config.reload:
                return 1
        return 0

    def _stopping(self) -> bool:
        return self._stop_requested  # set by the signal handler, between any two lines

    def _changes_due(self) -> list[Path]:
        with self._batches_lock:
            batches, self._batches = self._batches, []
        changes: list[Path] = []
        for arrival, paths in batches:
            changes += self._scheduler.add(arrival, paths)
        changes += self._scheduler.due(time.monotonic())
        return sorted(set(changes))

    def _restart(self, changes: Sequence[Path]) -> None:
        self.events.reloading(changes)
        started = time.perf_counter()
        if self._proxy is not None:
            self._proxy.hold()  # nothing new reaches the old worker; its last messages finish
        self._stop_fallback()
        self._stop_child()
        self._start_child(changes, started)

    def _read_reports(self) -> None:
        child = self._child
        if child is None:
            return
        while True:
            try:
                data = os.read(child.reports, 65536)
            except (BlockingIOError, OSError):
                break
            if not data:
                child.reports_ended = True
                break
            child.buffer.extend(data)
        for report in parse_reports(child.buffer):
            failure = report.failure
            if report.event == "ready" and not child.ready and child.failure is None:
                child.ready = True
                seconds = time.perf_counter() - child.started_at
                if child.changes:
                    self.events.reloaded(child.changes, seconds)
                else:
                    self.events.serving(seconds, report.note)
                self._release_proxy()
                self._prepare_standby()
            if report.event == "ready":  # shown (or not to be shown): the child may serve
                _acknowledge(child)
            elif report.event == "failed" and failure is not None and child.failure is None:
                child.failure = failure
                self.events.app_failed(failure)
                self._release_proxy()  # the 503 answers come from the internal socket now
                self._prepare_standby()

    def _child_exited(self) -> bool:
        """True once the current child is gone; then a broken app gets the 503 responder."""
        child = self._child
        if child is None or child.process.poll() is None:
            return False
        self._read_reports()
        code = child.process.returncode
        failure = child.failure
        if failure is None:
            how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
            failure = AppFailure("exit", f"the server process {how}")
            self.events.app_failed(failure)
        self._stop_child()
        if self.config.reload:
            self._fallback = FallbackResponder(self._serving, failure)
            self._fallback.start()
            self._release_proxy()
            self._prepare_standby()
        return True

    # Children.

    def _start_child(self, changes: Sequence[Path], started: float | None = None) -> None:
        """Wake the standby child (server already imported) or, if there is none, spawn one."""
        child, self._standby = self._standby, None
        if child is None or not _release(child):
            if child is not None:
                self._stop(child)
            child = self._spawn()
            _release(child)
        child.started_at = started or time.perf_counter()
        child.changes = tuple(changes)
        self._child = child

    def _prepare_standby(self) -> None:
        """Start the next child early, up to the point where it would import the app."""
        if self.config.reload and self._standby is None and not self._stopping():
            self._standby = self._spawn()

    def _spawn(self) -> _Child:
        reports_read, reports_write = os.pipe()
        tls = None if self._proxy is not None else self.config.tls  # the proxy speaks TLS
        os.set_blocking(reports_read, False)
        spec = ChildSpec(
            module=self.config.location.module,
            attribute=self.config.location.attribute,
            import_root=str(self.config.location.import_root),
            project_root=str(self.config.project_root),
            server=self.config.server,
            interface=self.config.interface,
            host=self.config.host,
            port=self.config.port,
            socket_fd=self._serving.fileno(),
            report_fd=reports_write,
            supervisor_pid=os.getpid(),
            workers=self.config.workers,
            log_level=self.config.log_level,
            access_log=self.config.access_log,
            debug=self.config.debug,
            watch_loop=self.config.reload or self.config.debug,
            app_reason=self.config.location.reason,
            tls_cert=str(tls.cert) if tls else None,
            tls_key=str(tls.key) if tls else None,
            header_timeout=None if self.config.reload else self.config.header_timeout,
            body_timeout=None if self.config.reload else self.config.body_timeout,
        )
        try:
            process = subprocess.Popen(
                spec.argv(),
                cwd=self.config.project_root,
                stdin=subprocess.PIPE,  # one line on it means "go: import the app and serve"
                pass_fds=(self._serving.fileno(), reports_write),
                process_group=0,  # its own group: a restart stops every process it started
            )
        finally:
            os.close(reports_write)
        return _Child(process, reports_read, time.perf_counter(), ())

    def _stop_child(self) -> None:
        child, self._child = self._child, None
        if child is not None:
            self._stop(child)

    def _stop(self, child: _Child) -> None:
        """SIGTERM the child's process group; SIGKILL whatever is left after the grace time."""
        process = child.process
        if process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()
        if process.poll() is None:
            _signal_group(process.pid, signal.SIGTERM)
            try:
                process.wait(STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                _signal_group(process.pid, signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(KILL_WAIT_SECONDS)
        _wait_group_gone(process.pid, KILL_WAIT_SECONDS)
        os.close(child.reports)

    def _stop_fallback(self) -> None:
        fallback, self._fallback = self._fallback, None
        if fallback is not None:
            fallback.stop()


def _release(child: _Child) -> bool:
    """Tell a waiting child to go on; False if it is gone already.

    Its stdin stays open: closing it (:func:`_acknowledge`) later lets the child serve.
    """
    if child.process.stdin is None or child.process.poll() is not None:
        return False
    try:
        child.process.stdin.write(b"go\n")
        child.process.stdin.flush()
    except OSError:
        return False
    return True


def _acknowledge(child: _Child) -> None:
    """The child's ``ready`` was shown: close its stdin, and every worker of it starts serving."""
    if child.process.stdin is not None:
        with contextlib.suppress(OSError):
            child.process.stdin.close()


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def _wait_group_gone(pgid: int, timeout: float) -> None:
    """Give stragglers of the group (server workers) ``timeout`` to exit, then kill them."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return
        time.sleep(0.02)
    _signal_group(pgid, signal.SIGKILL)
