"""The reload-mode proxy: clients stay connected while the app's worker restarts.

The supervisor owns the public socket; in reload mode the worker serves an internal loopback
socket and this proxy, in a thread of the supervisor, forwards between the two:

- HTTP requests are forwarded with h11, bodies streamed both ways. While a worker restarts
  they wait (the supervisor holds the gate, :data:`WAIT_SECONDS` at most). The old worker
  answers the requests it got (the hold waits for them, bounded); a GET/HEAD/OPTIONS it still
  left unanswered, or whose worker died before answering, is sent again to the new one.
- WebSocket clients speak to websockets' own protocol here and to a ``websockets`` client
  connection upstream. When the worker restarts, the proxy opens a new upstream WebSocket with
  the same path, query, headers and subprotocols (plus ``X-VelociPy-Resumed: N``; every
  upstream of one client carries the same ``X-VelociPy-Connection`` id) and then
  delivers the messages the client sent meanwhile, in order. A broken app is retried until it
  is fixed or :data:`RESUME_DEADLINE_SECONDS` pass, then the client is closed with a reason.

Never imports the user's app (the supervisor's rule); the cost per message is measured in
docs/dev-proxy.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import threading
import time

import h11

from velocipy_cli.dev.forwarding import HttpForwarder
from velocipy_cli.dev.upstream import (
    DRAIN_MAX_SECONDS,
    DRAIN_QUIET_SECONDS,
    READ_CHUNK,
    WAIT_SECONDS,
    AppUnavailable,
    resume_deadline_setting,
)


class DevProxy:
    """Serves ``listener`` in its own thread and event loop, forwarding to ``upstream``."""

    def __init__(
        self,
        listener: socket.socket,
        upstream: tuple[str, int],
        *,
        ssl_context: ssl.SSLContext | None = None,
        resume_deadline: float | None = None,
    ) -> None:
        self.listener = listener
        self.upstream = upstream
        self.ssl_context = ssl_context
        self.resume_deadline = resume_deadline or resume_deadline_setting()
        self.generation = 0  # bumped by hold(): upstream connections older than it are stale
        self.retired = -1  # set by hold() once the old worker may go
        self.unanswered = 0
        self.awaiting_reply: set[object] = set()
        self.last_activity = 0.0
        self._loop = asyncio.new_event_loop()
        self._gate = asyncio.Event()  # set while a worker serves (or the 503 responder does)
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, name="velocipy-proxy", daemon=True)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # The supervisor's side (another thread).

    def start(self) -> None:
        self._thread.start()
        self._started.wait(5)

    def hold(self) -> None:
        """Stop forwarding to the current worker and let it finish what it got; then it may go."""
        future = asyncio.run_coroutine_threadsafe(self._hold(), self._loop)
        with contextlib.suppress(Exception):
            future.result(DRAIN_MAX_SECONDS + 1)

    def release(self) -> None:
        """A worker (or the 503 responder) serves the internal socket: forward again."""
        self._loop.call_soon_threadsafe(self._gate.set)

    def stop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._shutdown)
            self._thread.join(3)

    # The proxy's own thread.

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve())
        self._loop.close()

    async def _serve(self) -> None:
        self._stopped = asyncio.Event()
        self._server = await asyncio.start_server(
            self._on_client, sock=self.listener, ssl=self.ssl_context, limit=READ_CHUNK
        )
        self._started.set()
        await self._stopped.wait()
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=1)

    def _shutdown(self) -> None:
        self._stopped.set()

    async def _hold(self) -> None:
        self.generation += 1
        self._gate.clear()
        deadline = time.monotonic() + DRAIN_MAX_SECONDS
        while time.monotonic() < deadline:
            quiet = time.monotonic() - self.last_activity >= DRAIN_QUIET_SECONDS
            if quiet and not self.unanswered and not self.awaiting_reply:
                break
            await asyncio.sleep(0.005)
        self.retired = self.generation - 1

    async def wait_for_worker(self) -> int:
        """The generation of the worker that serves now, once one does (bounded)."""
        if self._gate.is_set():  # no suspension: the generation read below is the one that serves
            return self.generation
        try:
            await asyncio.wait_for(self._gate.wait(), WAIT_SECONDS)
        except TimeoutError:
            raise AppUnavailable(f"the app did not come back within {WAIT_SECONDS:.0f} s") from None
        return self.generation

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await HttpForwarder(self, reader, writer).run()
        except (ConnectionError, asyncio.IncompleteReadError, h11.ProtocolError):
            pass  # the client went away or spoke nonsense: nothing to tell anyone
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def open_upstream(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        host, port = self.upstream
        return await asyncio.open_connection(host, port, limit=READ_CHUNK)
