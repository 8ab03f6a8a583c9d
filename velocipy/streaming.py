"""Send a streamed body while watching for the client to leave (used by both adapters).

Servers do not reliably tell a producer that its client went away: uvicorn's ``send`` returns
silently, granian's ASGI ``send`` logs a line per chunk, and a generator that is waiting
(an idle event stream) never calls ``send`` at all. So the adapter gives a way to wait for the
departure (ASGI: ``http.disconnect`` from ``receive``; RSGI: ``protocol.client_disconnect()``),
a watcher task waits on it while the chunks are sent, and when it fires it cancels the sending
task: the generator is interrupted wherever it waits and closed, so its ``finally`` runs
within moments of the client leaving. When the stream ends first, the watcher is cancelled.

A producer that never awaits (``while True: yield ...``) would never let the watcher run: after a
disconnect uvicorn's ``send`` returns without suspending, so the loop would never turn again. The
sending loop therefore gives the event loop one turn after every chunk: the watcher notices the
departure, other requests are served meanwhile, and the cost is one loop turn per chunk.
"""

from __future__ import annotations

import asyncio
import logging
import types
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from typing import Any

from velocipy.exceptions import ClientDisconnect

__all__ = ["send_until_client_leaves"]

logger = logging.getLogger("velocipy")

SendChunk = Callable[[bytes], Awaitable[None]]


async def send_until_client_leaves(
    chunks: AsyncIterator[bytes],
    send_chunk: SendChunk,
    client_left: Callable[[], Awaitable[object]],
) -> bool:
    """Send every chunk, or stop when ``client_left()`` resolves; always close ``chunks``.

    Returns False when the client left before the end (then nothing more should be sent).
    ``send_chunk`` raises :class:`ClientDisconnect` when the server reports the client gone.
    Any other error from the generator or the server propagates to the adapter.
    """
    # PERF: the chunks are sent from the calling task; only the watcher is a task, and when
    # it fires it cancels the caller, which is told apart from any other cancellation.
    departure = _Departure(asyncio.current_task())
    watcher = asyncio.ensure_future(client_left())
    watcher.add_done_callback(departure.notice)
    try:
        async for chunk in chunks:
            if chunk:
                await send_chunk(chunk)
            await _one_loop_turn()
    except asyncio.CancelledError:
        if not departure.left or departure.undo_cancel():
            raise  # a cancellation of its own (server shutdown): let it through
        logger.debug("client disconnected during a streamed response: stream stopped")
        return False
    except ClientDisconnect:
        logger.debug("client disconnected during a streamed response")
        return False
    finally:
        departure.streaming = False
        # The watcher holds the server's disconnect future: cancel it (RSGI needs that on
        # keep-alive connections, see design/rsgi.md).
        watcher.cancel()
        await chunks.aclose()  # type: ignore[attr-defined]
    return True


@types.coroutine
def _one_loop_turn() -> Generator[None, None, None]:
    """Let the event loop run once (what ``asyncio.sleep(0)`` does, without its call)."""
    yield


class _Departure:
    """Cancels the streaming task when the client leaves, while it is still streaming."""

    __slots__ = ("left", "streaming", "task")

    def __init__(self, task: asyncio.Task[Any] | None) -> None:
        self.task = task
        self.streaming = True
        self.left = False

    def notice(self, watcher: asyncio.Future[object]) -> None:
        if self.streaming and not watcher.cancelled() and self.task is not None:
            self.left = True
            self.task.cancel()

    def undo_cancel(self) -> int:
        """Withdraw our cancel request; the number of other requests still pending."""
        return self.task.uncancel() if self.task is not None else 0
