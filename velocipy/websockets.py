"""The neutral WebSocket: an explicit state machine over a transport the adapter provides.

States: CONNECTING (handshake pending) -> CONNECTED (accepted) -> CLOSED. Every call checks the
state and fails with a precise :class:`WebSocketStateError` when used out of order. A peer that
leaves surfaces as :class:`WebSocketDisconnect` from any receive or send. Frames of the wrong
kind (1003), invalid JSON (1007) and oversized messages (1009) close the connection with their
code and then raise ``WebSocketDisconnect`` so the handler's loop ends.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Sequence
from types import CoroutineType, coroutine
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn, TypeVar

import msgspec

from velocipy.exceptions import WebSocketDisconnect, WebSocketStateError
from velocipy.json import JSONDecodeError
from velocipy.requests import Connection

if TYPE_CHECKING:
    from velocipy.application import Application
    from velocipy.mounts import MountedASGIApp

__all__ = ["WebSocket", "WebSocketState"]

_Data = TypeVar("_Data", str, bytes)


class WebSocketState(enum.Enum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    CLOSED = "closed"


# PERF: an Enum member read through its class costs about 60 ns (a module global, 6 ns);
# receive() and send() check the state on every message.
_CONNECTING = WebSocketState.CONNECTING
_CONNECTED = WebSocketState.CONNECTED
_CLOSED = WebSocketState.CLOSED

CLOSE_NORMAL = 1000
CLOSE_UNSUPPORTED_DATA = 1003
CLOSE_INVALID_PAYLOAD = 1007
CLOSE_MESSAGE_TOO_BIG = 1009
CLOSE_INTERNAL_ERROR = 1011
CONNECTION_LOST = 1006  # never sent: what the app sees when the connection dropped
# Codes a peer may put in a close frame (RFC 6455 7.4): 1000-1003, 1007-1014, 3000-4999.
SENDABLE_CLOSE_CODES = (
    frozenset(range(1000, 1004)) | frozenset(range(1007, 1015)) | frozenset(range(3000, 5000))
)


class WebSocket(Connection):
    """A WebSocket connection; adapters subclass it and implement the ``_transport_*`` hooks."""

    __slots__ = (
        "_accepted",
        "_close_callbacks",
        "_disconnect",
        "_message_check",
        "_message_type",
        "_receiving",
        "_stepper",
        "_transport_receive",
        "_unmeasured_length",
        "connection_state",
        "subprotocol",
    )

    #: False where the server cannot send ``Sec-WebSocket-Protocol`` (RSGI).
    negotiates_subprotocols: bool = True

    def __init__(self, app: Application, path: str) -> None:
        super().__init__(app, path)
        self.connection_state = _CONNECTING
        self.subprotocol: str | None = None
        self._receiving = False
        self._accepted = False
        self._stepper: Generator[Any, Any, None] | None = None  # see _send_in_turn
        # (code, reason) of how the connection ended; never the exception itself, whose
        # traceback would keep this object (and the server's transport) alive.
        self._disconnect: tuple[int, str] | None = None
        self._close_callbacks: list[Callable[[], object]] | None = None
        # What receive_json() validates messages into: the route's ``receives=`` type, if any.
        self._message_type: Any = None
        self._unmeasured_length = app.ws_max_message_size // 4
        # A per-message check (the route's message_rate_limit=): it sets _unmeasured_length
        # to -1 so every message takes the checked path; other connections pay nothing.
        self._message_check: Callable[[WebSocket], Awaitable[None]] | None = None

    # --- what an adapter implements -------------------------------------------------------
    async def _transport_accept(self, subprotocol: str | None) -> None:
        raise NotImplementedError

    # PERF: the hooks for receiving and sending hand back the server's own awaitable (plain
    # calls), so a message passes through one coroutine of ours (receive or send), not two:
    # every level is created, suspended and resumed again for each message.

    #: What the server's awaitables raise once the connection is gone (a 1006 for the app).
    _transport_errors: ClassVar[tuple[type[Exception], ...]] = ()

    #: The server's next message, as an awaitable: set by the adapter by the time it accepted
    #: (PERF: an attribute, the server's own callable where it can be, not a method of ours).
    _transport_receive: Callable[[], Awaitable[Any]]

    def _transport_data(self, message: Any) -> str | bytes:
        """The data of a message ``_transport_receive`` gave; ``WebSocketDisconnect`` if a close."""
        raise NotImplementedError

    def _transport_send(self, data: str | bytes) -> Awaitable[None]:
        """The server's send of one frame, as an awaitable; ``WebSocketDisconnect`` (raised
        here) when the peer is already known to be gone."""
        raise NotImplementedError

    def _transport_lost(self) -> None:
        """Called when a server awaitable raised one of ``_transport_errors``."""

    async def _transport_close(self, code: int, reason: str) -> None:
        raise NotImplementedError

    async def _transport_reject(
        self, status: int, headers: Sequence[tuple[str, str]] = (), body: bytes = b""
    ) -> None:
        """Refuse the handshake with an HTTP status (headers and body where the server can)."""
        raise NotImplementedError

    async def _transport_forward(self, mount: MountedASGIApp) -> None:
        """Run the mounted ASGI app on this connection (handshake still pending)."""
        raise NotImplementedError

    def offered_subprotocols(self) -> list[str]:
        """The subprotocols the client offered in ``Sec-WebSocket-Protocol``, in order."""
        offered: list[str] = []
        for value in self.headers.get_list("sec-websocket-protocol"):
            offered.extend(item.strip() for item in value.split(",") if item.strip())
        return offered

    # --- state ----------------------------------------------------------------------------
    @property
    def accepted(self) -> bool:
        """True once the handshake was accepted (and still true after the close)."""
        return self._accepted

    @property
    def closed(self) -> bool:
        return self.connection_state is _CLOSED

    def call_on_close(self, callback: Callable[[], object]) -> None:
        """Call ``callback()`` once when this connection closes (either side, any reason).

        Helpers that outlive a ``receive()`` loop (channel memberships) use it to clean up.
        """
        if self.connection_state is _CLOSED:
            callback()
        elif self._close_callbacks is None:
            self._close_callbacks = [callback]
        else:
            self._close_callbacks.append(callback)

    def _run_close_callbacks(self) -> None:
        callbacks, self._close_callbacks = self._close_callbacks, None
        for callback in callbacks or ():
            callback()

    # --- handshake ------------------------------------------------------------------------
    async def accept(self, subprotocol: str | None = None) -> None:
        """Accept the handshake, optionally choosing one of the client's subprotocols."""
        if self.connection_state is not _CONNECTING:
            raise WebSocketStateError(
                "accept() was already called on this WebSocket"
                if self.connection_state is _CONNECTED
                else "cannot accept(): this WebSocket is closed"
            )
        if subprotocol is not None and subprotocol not in self.offered_subprotocols():
            subprotocol = None  # not offered: answering with it would fail the client's handshake
        await self._transport_accept(subprotocol)
        self.subprotocol = subprotocol if self.negotiates_subprotocols else None
        self.connection_state = _CONNECTED
        self._accepted = True

    # --- receiving ------------------------------------------------------------------------
    # PERF: receive(), receive_text() and receive_bytes() hand back the coroutine of the one
    # receiving method, _next_message(), which checks the frame's kind itself: a message passes
    # through one coroutine of ours, not two. Misuse still raises where the call is awaited.
    def receive(self) -> Awaitable[str | bytes]:
        """The next message, text as ``str`` and binary as ``bytes``."""
        return self._next_message(None)

    def receive_text(self) -> Awaitable[str]:
        """The next message, which must be a text frame (a binary one closes with 1003)."""
        return self._next_message(str)

    def receive_bytes(self) -> Awaitable[bytes]:
        """The next message, which must be a binary frame (a text one closes with 1003)."""
        return self._next_message(bytes)

    async def _next_message(
        self, kind: type[str] | type[bytes] | None, iterating: bool = False
    ) -> Any:
        """The one way a message is received, of the given kind (``None``: either).

        While ``iterating`` (``iter_text()``, ``iter_bytes()``) the end of the connection ends
        the loop: ``StopAsyncIteration`` stands in for ``WebSocketDisconnect``.
        """
        try:
            if self.connection_state is not _CONNECTED:
                self._raise_not_connected("receive")
            if self._receiving:
                raise WebSocketStateError(
                    "another task is already waiting in receive(): "
                    "read each WebSocket from one task"
                )
            self._receiving = True
            # PERF: an instance attribute read, then called: ``self.attr()`` on one is
            # never specialized by CPython 3.11 (about 110 instructions more a message)
            receive = self._transport_receive
            try:
                data = self._transport_data(await receive())
            except WebSocketDisconnect as exc:
                self._mark_disconnected(exc)
                raise
            except self._transport_errors:
                raise self._connection_lost() from None
            finally:
                self._receiving = False
                del receive  # the server's transport: a traceback must not keep it alive
            # PERF: a message of at most a quarter of the limit in characters fits in any
            # encoding, so only a longer one is measured; servers hand over exactly str or bytes.
            if len(data) > self._unmeasured_length:
                await self._check_message(data)
            if type(data) is not kind and kind is not None:
                expected, got = ("text", "binary") if kind is str else ("binary", "text")
                await self._fail(CLOSE_UNSUPPORTED_DATA, f"expected a {expected} frame, got {got}")
            return data
        except WebSocketDisconnect:
            if iterating:
                raise StopAsyncIteration from None
            raise

    async def receive_json(self, type: Any = None) -> Any:
        """A text frame decoded with the app's JSON adapter; invalid JSON closes with 1007.

        With ``type`` (or the route's ``receives=``) the message is validated into it with
        msgspec (a Struct, a dataclass, a TypedDict, ``list[int]``...); a message that does
        not fit closes the connection with 1007 and the reason says why.
        """
        text = await self.receive_text()
        try:
            data = self.app.json.decode(text)
        except JSONDecodeError as exc:
            await self._fail(CLOSE_INVALID_PAYLOAD, f"invalid JSON: {exc}"[:120])
        target = self._message_type if type is None else type
        if target is None:
            return data
        try:
            return msgspec.convert(data, target)
        except msgspec.ValidationError as exc:
            await self._fail(CLOSE_INVALID_PAYLOAD, _cut(f"invalid message: {exc}"))

    def iter_text(self) -> AsyncIterator[str]:
        """Text messages until the client leaves (then the loop just ends)."""
        return _Messages(self, str)

    def iter_bytes(self) -> AsyncIterator[bytes]:
        """Binary messages until the client leaves (then the loop just ends)."""
        return _Messages(self, bytes)

    async def iter_json(self, type: Any = None) -> AsyncIterator[Any]:
        try:
            while True:
                yield await self.receive_json(type)
        except WebSocketDisconnect:
            return

    # --- sending --------------------------------------------------------------------------
    async def send(self, data: str | bytes) -> None:
        if self.connection_state is not _CONNECTED:
            self._raise_not_connected("send")
        try:
            await self._transport_send(data)
        except Exception as exc:
            raise self._send_failure(exc) from None

    async def _send_each(self, next_frame: Callable[[], str | bytes | None]) -> None:
        """Send each frame ``next_frame()`` gives, until it gives None, as :meth:`send` sends
        one. How a channel membership empties its backlog.

        PERF: one coroutine for them all, not one per frame (about 550 instructions less per
        delivery of a burst, of 8,200 for the fan-out in process).
        """
        while (data := next_frame()) is not None:
            if self.connection_state is not _CONNECTED:
                self._raise_not_connected("send")
            try:
                await self._transport_send(data)
            except Exception as exc:
                raise self._send_failure(exc) from None

    def _send_in_turn(self, data: str | bytes) -> Awaitable[None] | None:
        """Send ``data`` in the caller's turn of the event loop, without waiting for it: None
        when the server took the frame at once, or else what finishes the send, already under
        way (await it before this socket's next send). Raises what :meth:`send` raises.

        How a fan-out sends (``velocipy.channels``): one socket whose buffer is full must not
        hold up the others. A send completes at once on uvicorn while the socket's buffer has
        room; granian's sends always wait.

        PERF: the server's send runs in this socket's stepper (see ``_stepper``), with no
        coroutine of :meth:`send` around it: about 1,700 instructions less per delivery than
        stepping send() itself, of 9,700 for the fan-out in process.
        """
        if self.connection_state is not _CONNECTED:
            self._raise_not_connected("send")
        stepper = self._stepper
        if stepper is None:
            stepper = self._stepper = _stepper()
            stepper.send(None)
        try:
            sending = self._transport_send(data)
            if type(sending) is not CoroutineType:  # a server's own awaitable: in one of ours
                sending = _awaited(sending)
            waiting_on = stepper.send(sending)
        except Exception as exc:
            self._stepper = None  # it ended with the send (or was never handed one)
            raise self._send_failure(exc) from None
        if waiting_on is _SENT:
            return None
        self._stepper = None  # it stays with the send until the send is done
        return self._finish_send(stepper, waiting_on)

    async def _finish_send(self, stepper: Generator[Any, Any, None], waiting_on: Any) -> None:
        try:
            await _resumed(stepper, waiting_on)
        except Exception as exc:
            raise self._send_failure(exc) from None

    def _send_failure(self, exc: Exception) -> Exception:
        """What a send that failed with ``exc`` raises: the peer's leaving (the server's
        ``WebSocketDisconnect``, or a transport error) closes this side, as
        ``WebSocketDisconnect``; anything else is raised as it is.

        Raised ``from None`` where it is caught, with no local name left holding it: a name
        would make a cycle (exception, traceback, frame) that keeps the server's transport
        alive until the garbage collector runs, and granian waits for it to be released.
        """
        if isinstance(exc, WebSocketDisconnect):
            self._mark_disconnected(exc)
        elif isinstance(exc, self._transport_errors):
            return self._connection_lost()
        return exc

    # PERF: the typed senders check their argument and hand back send()'s coroutine instead
    # of awaiting it in one of their own: one coroutine less a message. A wrong argument
    # still raises where the call is awaited, as from a coroutine function.
    def send_text(self, data: str) -> Awaitable[None]:
        if not isinstance(data, str):
            message = f"send_text() takes str, not {type(data).__name__}"  # type: ignore[unreachable]
            return _raise(TypeError(message))
        return self.send(data)

    def send_bytes(self, data: bytes | bytearray | memoryview) -> Awaitable[None]:
        if not isinstance(data, bytes | bytearray | memoryview):
            message = f"send_bytes() takes bytes, not {type(data).__name__}"  # type: ignore[unreachable]
            return _raise(TypeError(message))
        return self.send(bytes(data))

    def send_json(self, data: Any) -> Awaitable[None]:
        """Encode with the app's JSON adapter and send as one text frame."""
        try:
            text = self.app.json.encode(data).decode("utf-8")
        except Exception as exc:  # raised where the call is awaited, as by the other senders
            return _raise(exc)
        return self.send(text)

    # --- closing --------------------------------------------------------------------------
    async def close(self, code: int = CLOSE_NORMAL, reason: str | None = None) -> None:
        """Close with ``code`` and ``reason``; before accept this refuses the handshake (403).

        Closing a socket that is already closed does nothing, so cleanup code can always call it.
        """
        if self.connection_state is _CLOSED:
            return
        if self.connection_state is _CONNECTING:
            self.connection_state = _CLOSED
            if self._close_callbacks is not None:  # PERF: nothing to call unless a helper asked
                self._run_close_callbacks()
            await self._transport_reject(403)
            return
        if code not in SENDABLE_CLOSE_CODES:
            raise ValueError(
                f"close code {code} cannot be sent: use 1000-1003, 1007-1014 or 3000-4999"
            )
        reason = reason or ""
        if len(reason.encode("utf-8")) > 123:
            raise ValueError("a close reason must fit in 123 bytes of UTF-8")
        self.connection_state = _CLOSED
        if self._close_callbacks is not None:
            self._run_close_callbacks()
        await self._transport_close(code, reason)

    async def refuse(
        self, status_code: int = 403, headers: Sequence[tuple[str, str]] = (), body: bytes = b""
    ) -> None:
        """Refuse the handshake with an HTTP status (300-599) instead of accepting it.

        ASGI servers that offer the ``websocket.http.response`` extension (uvicorn, granian)
        send the headers and body too; RSGI can only send the status, with an empty body.
        """
        if self.connection_state is not _CONNECTING:
            raise WebSocketStateError("refuse() is only possible before accept()")
        if type(status_code) is not int or not 300 <= status_code <= 599:
            raise ValueError(f"refuse() takes an HTTP status 300-599, not {status_code}")
        self.connection_state = _CLOSED
        await self._transport_reject(status_code, headers, body)

    async def _check_message(self, data: str | bytes) -> None:
        """The checks only some messages need: the size of a long one, the route's hook."""
        if _size(data) > self.app.ws_max_message_size:
            limit = self.app.ws_max_message_size
            await self._fail(
                CLOSE_MESSAGE_TOO_BIG, f"message larger than the limit of {limit} bytes"
            )
        check = self._message_check
        if check is not None:
            await check(self)

    async def forward_to_asgi(self, mount: MountedASGIApp) -> None:
        """Hand this connection, handshake pending, to a mounted ASGI application.

        From here the mounted app owns it (accept, frames, close): this object is closed.
        """
        if self.connection_state is not _CONNECTING:
            raise WebSocketStateError(
                "only a WebSocket whose handshake is pending can be handed to a mounted app"
            )
        self.connection_state = _CLOSED
        try:
            await self._transport_forward(mount)
        finally:
            if self._close_callbacks is not None:
                self._run_close_callbacks()

    async def _fail(self, code: int, reason: str) -> NoReturn:
        """Close for a protocol-level problem and end the handler's loop."""
        await self.close(code, reason)
        self._disconnect = (code, reason)
        raise WebSocketDisconnect(code, reason)

    def _connection_lost(self) -> WebSocketDisconnect:
        self._transport_lost()
        exc = WebSocketDisconnect(CONNECTION_LOST)
        self._mark_disconnected(exc)
        return exc

    def _mark_disconnected(self, exc: WebSocketDisconnect) -> None:
        self.connection_state = _CLOSED
        self._disconnect = (exc.code, exc.reason)
        if self._close_callbacks is not None:
            self._run_close_callbacks()

    def _raise_not_connected(self, action: str) -> NoReturn:
        if self.connection_state is _CONNECTING:
            raise WebSocketStateError(f"cannot {action}() before accept(): await ws.accept() first")
        if self._disconnect is not None:
            raise WebSocketDisconnect(*self._disconnect)
        raise WebSocketStateError(f"cannot {action}(): this WebSocket is closed")

    def __repr__(self) -> str:
        return f"<WebSocket {self.path} {self.connection_state.value}>"


class _Messages(AsyncIterator[_Data]):
    """What ``iter_text()`` and ``iter_bytes()`` loop over.

    PERF: ``__anext__`` hands back the receiving coroutine itself, so each message passes
    through no generator of ours (an async generator costs about 600 instructions a message).
    """

    __slots__ = ("_kind", "_websocket")

    def __init__(self, websocket: WebSocket, kind: type[_Data]) -> None:
        self._websocket = websocket
        self._kind: type[_Data] = kind

    def __aiter__(self) -> _Messages[_Data]:
        return self

    def __anext__(self) -> Awaitable[_Data]:
        return self._websocket._next_message(self._kind, True)


async def _awaited(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


_SENT: Any = object()  # what a stepper yields once the send it was handed is done


@coroutine
def _stepper() -> Generator[Any, Any, None]:
    """Runs each send handed to it (``stepper.send(sending)``): yields ``_SENT`` once that send
    is done, or what the send waits on, and the stepper then stays with that send.

    PERF: a send that finishes at once ends inside this generator, which goes on to the next
    one: stepping the send itself from Python would raise StopIteration at its end, and an
    exception costs more than the rest of the step (about 1,300 instructions).
    """
    sending = yield _SENT
    while True:
        yield from sending
        sending = yield _SENT


@coroutine
def _resumed(stepper: Generator[Any, Any, None], waiting_on: Any) -> Generator[Any, Any, None]:
    """Go on with a stepper whose send is ``waiting_on`` something, until the send is done:
    hand what it waits on to the task running this, and pass what the task sends or throws
    back in."""
    while waiting_on is not _SENT:
        try:
            sent = yield waiting_on
        except BaseException as exc:  # cancellation, passed on to the send
            waiting_on = stepper.throw(exc)
        else:
            waiting_on = stepper.send(sent)
    stepper.close()


async def _raise(exc: Exception) -> NoReturn:
    raise exc


def _size(data: str | bytes) -> int:
    return len(data) if isinstance(data, bytes) else len(data.encode("utf-8", "surrogatepass"))


def _cut(reason: str) -> str:
    """A close reason within the 123 bytes a close frame allows (UTF-8, never mid-character)."""
    return reason.encode()[:123].decode("utf-8", "ignore")
