"""Send a streamed body while watching for the client to leave (used by both adapters).

Servers do not reliably tell a producer that its client went away: uvicorn's ``send`` returns
silently, granian's ASGI ``send`` logs a line per chunk, and a generator that is waiting
(an idle event stream) never calls ``send`` at all. So the adapter gives a way to wait for the
departure (ASGI: ``http.disconnect`` from ``receive``; RSGI: ``protocol.client_disconnect()``)
and the producer runs beside that watcher: whichever ends first cancels the other, and the
generator is closed either way, so its ``finally`` runs within moments of the client leaving.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

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
    producer = asyncio.ensure_future(_send_all(chunks, send_chunk))
    watcher = asyncio.ensure_future(client_left())
    try:
        await asyncio.wait((producer, watcher), return_when=asyncio.FIRST_COMPLETED)
    finally:
        # PERF: the watcher holds the server's disconnect future: cancel it (RSGI needs that
        # on keep-alive connections, see design/rsgi.md), and stop a producer still running.
        watcher.cancel()
        producer.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await watcher
        await asyncio.wait((producer,))
        await chunks.aclose()  # type: ignore[attr-defined]
    if producer.cancelled():
        logger.debug("client disconnected during a streamed response: stream stopped")
        return False
    error = producer.exception()
    del producer, watcher  # no reference cycle through the error's traceback (RSGI releases)
    if isinstance(error, ClientDisconnect):
        logger.debug("client disconnected during a streamed response")
        return False
    if error is not None:
        try:
            raise error
        finally:
            del error
    return True


async def _send_all(chunks: AsyncIterator[bytes], send_chunk: SendChunk) -> None:
    async for chunk in chunks:
        if chunk:
            await send_chunk(chunk)
