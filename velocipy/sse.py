"""Server-Sent Events: ``EventSourceResponse`` streams ``ServerSentEvent`` s to an ``EventSource``.

An SSE response is a streamed response (``text/event-stream``), so it goes out through the same
streaming path as :class:`~velocipy.responses.StreamingResponse` on both protocols and stops,
with its generator's ``finally``, when the client leaves. Event data that is not text is encoded
with the app's JSON adapter when the app finalises the response, like a ``JSONResponse``.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable
from typing import Any, Final

from velocipy.responses import AfterResponse, HeadersInput, StreamingResponse, _iterate_in_thread

__all__ = ["EventSourceResponse", "ServerSentEvent"]

_LINE_BREAK = re.compile(r"\r\n|\r|\n")  # the three line ends the SSE parser accepts
DEFAULT_PING_INTERVAL: Final = 15.0


def _single_line(field: str, value: str) -> str:
    if "\r" in value or "\n" in value or "\0" in value:
        raise ValueError(f"ServerSentEvent {field} must be one line without NUL: {value!r}")
    return value


class ServerSentEvent:
    """One event: ``data`` (``str`` as is, anything else as JSON), ``event``, ``id``, ``retry``.

    ``comment`` adds comment lines (``: text``), which clients ignore. ``event`` and ``id`` must
    be single lines (``ValueError`` otherwise); multi-line ``data`` becomes several ``data:``
    lines, which the browser joins back with ``\\n``.
    """

    __slots__ = ("comment", "data", "event", "id", "retry")

    def __init__(
        self,
        data: Any = None,
        *,
        event: str | None = None,
        id: str | int | None = None,
        retry: int | None = None,
        comment: str | None = None,
    ) -> None:
        if retry is not None and (type(retry) is not int or retry < 0):
            raise ValueError(f"ServerSentEvent retry must be milliseconds (an int >= 0): {retry!r}")
        self.data = data
        self.event = None if event is None else _single_line("event", event)
        self.id = None if id is None else _single_line("id", str(id))
        self.retry = retry
        self.comment = comment

    def encode(self, json_encode: Callable[[Any], bytes]) -> bytes:
        """The event in the ``text/event-stream`` format, ending with its blank line."""
        lines: list[str] = []
        if self.comment is not None:
            lines.extend(f": {line}" for line in _LINE_BREAK.split(self.comment))
        if self.id is not None:
            lines.append(f"id: {self.id}")
        if self.event is not None:
            lines.append(f"event: {self.event}")
        if self.retry is not None:
            lines.append(f"retry: {self.retry}")
        if self.data is not None:
            data = self.data
            text = data if isinstance(data, str) else json_encode(data).decode("utf-8")
            lines.extend(f"data: {line}" for line in _LINE_BREAK.split(text))
        if not lines:
            return b""
        lines.append("\n")
        return "\n".join(lines).encode("utf-8")

    def __repr__(self) -> str:
        return f"ServerSentEvent(data={self.data!r}, event={self.event!r}, id={self.id!r})"


def _stdlib_json(value: Any) -> bytes:  # only until the app hands over its adapter
    import json

    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class EventSourceResponse(StreamingResponse):
    """Stream events from an async (or plain) iterable to a browser ``EventSource``.

    Items may be :class:`ServerSentEvent`, ``str`` (sent as ``data``) or any JSON-encodable
    value (sent as JSON ``data``). When nothing was sent for ``ping`` seconds a comment line
    (``: ping``) keeps proxies and the connection from timing out; ``ping=None`` turns it off.
    """

    __slots__ = ("json_encode", "ping", "ping_comment")
    media_type = "text/event-stream"

    body: bytes | None  # type: ignore[assignment]  # None: the app finalises the response

    def __init__(
        self,
        content: AsyncIterable[Any] | Iterable[Any],
        status_code: int = 200,
        headers: HeadersInput = None,
        *,
        ping: float | None = DEFAULT_PING_INTERVAL,
        ping_comment: str = "ping",
        background: AfterResponse | None = None,
    ) -> None:
        if ping is not None and not ping > 0:
            raise ValueError(f"ping must be a number of seconds > 0 or None, not {ping!r}")
        super().__init__(content, status_code, headers, None, background)
        self.body = None
        self.ping = ping
        self.ping_comment = ping_comment
        self.json_encode: Callable[[Any], bytes] = _stdlib_json
        response_headers = self.headers
        response_headers.setdefault("cache-control", "no-cache")
        response_headers.setdefault("x-accel-buffering", "no")  # nginx: do not buffer events

    def use_json(self, encode: Callable[[Any], bytes]) -> None:
        """Encode non-text event data with ``encode`` (the app passes its JSON adapter)."""
        self.json_encode = encode

    def chunks(self) -> AsyncIterator[bytes]:
        content = self.content
        items = content if isinstance(content, AsyncIterable) else _iterate_in_thread(iter(content))
        if self.ping is None:
            return self._events(items)
        return self._events_with_pings(items, self.ping)

    def _encode(self, item: Any) -> bytes:
        if isinstance(item, ServerSentEvent):
            return item.encode(self.json_encode)
        return ServerSentEvent(item).encode(self.json_encode)

    async def _events(self, items: AsyncIterable[Any]) -> AsyncIterator[bytes]:
        iterator = aiter(items)
        try:
            async for item in iterator:
                yield self._encode(item)
        finally:
            await _close(iterator)

    async def _events_with_pings(
        self, items: AsyncIterable[Any], interval: float
    ) -> AsyncIterator[bytes]:
        # The next item is awaited in a task that outlives each ping: cancelling it on a
        # timeout would end the user's generator.
        ping = ServerSentEvent(comment=self.ping_comment).encode(self.json_encode)
        iterator = aiter(items)
        pending: asyncio.Future[Any] | None = None
        try:
            while True:
                if pending is None:
                    pending = asyncio.ensure_future(anext(iterator))
                done, _ = await asyncio.wait((pending,), timeout=interval)
                if not done:
                    yield ping
                    continue
                finished, pending = pending, None
                try:
                    item = finished.result()
                except StopAsyncIteration:
                    return
                yield self._encode(item)
        finally:
            if pending is not None:
                pending.cancel()  # runs the user's generator's finally inside it
                await asyncio.wait((pending,))
                if not pending.cancelled():
                    pending.exception()  # retrieved, so asyncio does not log it as lost
            await _close(iterator)


async def _close(iterator: AsyncIterator[Any]) -> None:
    close = getattr(iterator, "aclose", None)
    if close is not None:
        await close()
