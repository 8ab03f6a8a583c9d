"""The test side of a WebSocket: a synchronous session talking to the app through a channel."""

from __future__ import annotations

import asyncio
import concurrent.futures
import queue
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import Any, Literal

import msgspec

from .errors import ASGIProtocolViolation, WebSocketClosed, WebSocketDenied, WorkerCrash
from .messages import (
    Accepted,
    ClientClose,
    ClientEvent,
    ClientMessage,
    Closed,
    Denied,
    Finished,
    Headers,
    Message,
    ServerEvent,
)


class WebSocketChannel:
    """Two queues between the session (test thread) and the driver running the app (loop thread)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._to_app: asyncio.Queue[ClientEvent] = asyncio.Queue()
        self._to_client: queue.Queue[ServerEvent] = queue.Queue()
        self.client_closed = False  # the client's close has reached the server

    # server side, called on the loop thread

    def emit(self, event: ServerEvent) -> None:
        self._to_client.put(event)

    async def next_from_client(self) -> ClientEvent:
        return await self._to_app.get()

    def echo_close(self, close: ClientClose) -> None:
        """The client answers a server close with its own close frame (the closing handshake)."""
        self._to_app.put_nowait(close)

    # client side, called on the test thread

    def send_from_client(self, event: ClientEvent) -> None:
        self._loop.call_soon_threadsafe(self._deliver, event)

    def _deliver(self, event: ClientEvent) -> None:
        if isinstance(event, ClientClose):
            self.client_closed = True
        self._to_app.put_nowait(event)

    def next_from_server(self, timeout: float, waiting_for: str) -> ServerEvent:
        try:
            return self._to_client.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(
                f"the app sent nothing within {timeout:g} s while waiting for {waiting_for}"
            ) from None


async def serve_websocket(
    run: Callable[[], Coroutine[Any, Any, Finished]], channel: WebSocketChannel
) -> None:
    """Run a driver's WebSocket coroutine and always report how it ended."""
    try:
        outcome = await run()
    except asyncio.CancelledError:
        channel.emit(Finished(error=TimeoutError("the WebSocket handler was cancelled")))
        raise
    except BaseException as exc:  # WorkerCrash, or a bug in the driver
        outcome = Finished(error=exc)
    channel.emit(outcome)


class WebSocketTestSession:
    """A connected WebSocket, used from synchronous tests (``client.websocket_connect``)."""

    def __init__(
        self,
        channel: WebSocketChannel,
        future: concurrent.futures.Future[None],
        *,
        offered_subprotocols: list[str],
        timeout: float,
        raise_server_exceptions: bool,
        on_finish: Callable[[], None],
    ) -> None:
        self._channel = channel
        self._future = future
        self._timeout = timeout
        self._raise = raise_server_exceptions
        self._on_finish = on_finish
        self._finished: Finished | None = None
        self._client_closed = False
        self.subprotocol: str | None = None
        self.headers = Headers()
        self.close_code: int | None = None
        self.close_reason: str | None = None
        self._handshake(offered_subprotocols)

    # lifecycle

    def _handshake(self, offered: list[str]) -> None:
        try:
            event = self._channel.next_from_server(self._timeout, "the handshake")
            if isinstance(event, Accepted):
                if event.subprotocol is not None and event.subprotocol not in offered:
                    raise ASGIProtocolViolation(
                        f"the app accepted with subprotocol {event.subprotocol!r}, "
                        f"which the client did not offer ({offered})"
                    )
                self.subprotocol = event.subprotocol
                self.headers = Headers(event.headers)
                return
            if isinstance(event, Denied):
                self._wait_finished()
                self._raise_app_error()
                raise WebSocketDenied(event.status, event.headers)
            assert isinstance(event, Finished)
            self._finish(event)
            self._raise_app_error()
            denied = event.denied or Denied(500)
            raise WebSocketDenied(denied.status, denied.headers)
        except BaseException:
            self._shutdown()
            raise

    def __enter__(self) -> WebSocketTestSession:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self, code: int = 1000, reason: str | None = None) -> None:
        """Close from the client side (unless already closed) and wait for the app to finish."""
        try:
            if not self._client_closed and self.close_code is None and self._finished is None:
                self._channel.send_from_client(ClientClose(code, reason or ""))
            self._client_closed = True
            self._wait_finished()
            self._raise_app_error()
        finally:
            self._shutdown()

    def _wait_finished(self) -> None:
        while self._finished is None:
            event = self._channel.next_from_server(self._timeout, "the handler to return")
            if isinstance(event, Closed):
                self._record_close(event)
            elif isinstance(event, Finished):
                self._finish(event)

    def _finish(self, event: Finished) -> None:
        self._finished = event
        if event.close is not None and self.close_code is None and not self._client_closed:
            self._record_close(event.close)

    def _record_close(self, event: Closed) -> None:
        if self.close_code is None:
            self.close_code, self.close_reason = event.code, event.reason

    def _raise_app_error(self) -> None:
        error = self._finished.error if self._finished is not None else None
        if error is not None and (self._raise or isinstance(error, WorkerCrash)):
            self._finished = Finished(close=self._finished.close if self._finished else None)
            raise error

    def _shutdown(self) -> None:
        if not self._future.done():
            self._future.cancel()
        self._on_finish()

    # sending

    def send_text(self, data: str) -> None:
        self._send(ClientMessage(data))

    def send_bytes(self, data: bytes) -> None:
        self._send(ClientMessage(bytes(data)))

    def send_json(self, data: Any, mode: Literal["text", "binary"] = "text") -> None:
        encoded = msgspec.json.encode(data)
        self._send(ClientMessage(encoded.decode() if mode == "text" else encoded))

    def _send(self, event: ClientMessage) -> None:
        if self._client_closed:
            raise RuntimeError("this WebSocket session is closed; open a new one to send")
        self._check_open()
        self._channel.send_from_client(event)

    def _check_open(self) -> None:
        if self.close_code is not None:
            raise WebSocketClosed(self.close_code, self.close_reason or "")
        if self._finished is not None:
            self._raise_app_error()
            raise WebSocketClosed(1006, "")

    # receiving

    def receive(self, timeout: float | None = None) -> str | bytes:
        """The next message from the app; WebSocketClosed once the app has closed."""
        if self._client_closed:
            raise RuntimeError("this WebSocket session is closed")
        self._check_open()
        while True:
            event = self._channel.next_from_server(
                self._timeout if timeout is None else timeout, "a message"
            )
            if isinstance(event, Message):
                return event.data
            if isinstance(event, Closed):
                self._record_close(event)
            elif isinstance(event, Finished):
                self._finish(event)
            self._check_open()

    def receive_text(self, timeout: float | None = None) -> str:
        data = self.receive(timeout)
        if not isinstance(data, str):
            raise TypeError(f"expected a text message, the app sent binary: {data[:60]!r}")
        return data

    def receive_bytes(self, timeout: float | None = None) -> bytes:
        data = self.receive(timeout)
        if not isinstance(data, bytes):
            raise TypeError(f"expected a binary message, the app sent text: {data[:60]!r}")
        return data

    def receive_json(self, timeout: float | None = None) -> Any:
        return msgspec.json.decode(self.receive(timeout))


class AsyncWebSocketTestSession:
    """A connected WebSocket for ``async def`` tests: ``AsyncTestClient.websocket_connect``.

    Every call runs the synchronous session's in a worker thread, so the test's own event
    loop keeps running while it waits (a handler that needs another task of the test's, a
    second client, to make progress does not deadlock).
    """

    def __init__(self, session: WebSocketTestSession) -> None:
        self.sync = session

    @property
    def subprotocol(self) -> str | None:
        return self.sync.subprotocol

    @property
    def headers(self) -> Headers:
        return self.sync.headers

    @property
    def close_code(self) -> int | None:
        return self.sync.close_code

    @property
    def close_reason(self) -> str | None:
        return self.sync.close_reason

    async def __aenter__(self) -> AsyncWebSocketTestSession:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        await asyncio.to_thread(self.sync.close, code, reason)

    async def send_text(self, data: str) -> None:
        await asyncio.to_thread(self.sync.send_text, data)

    async def send_bytes(self, data: bytes) -> None:
        await asyncio.to_thread(self.sync.send_bytes, data)

    async def send_json(self, data: Any, mode: Literal["text", "binary"] = "text") -> None:
        await asyncio.to_thread(self.sync.send_json, data, mode)

    async def receive(self, timeout: float | None = None) -> str | bytes:
        return await asyncio.to_thread(self.sync.receive, timeout)

    async def receive_text(self, timeout: float | None = None) -> str:
        return await asyncio.to_thread(self.sync.receive_text, timeout)

    async def receive_bytes(self, timeout: float | None = None) -> bytes:
        return await asyncio.to_thread(self.sync.receive_bytes, timeout)

    async def receive_json(self, timeout: float | None = None) -> Any:
        return await asyncio.to_thread(self.sync.receive_json, timeout)
