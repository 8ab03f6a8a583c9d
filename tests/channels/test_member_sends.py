"""How a joined WebSocket is sent its messages: in the publisher's turn when the server takes
the frame at once, else by the membership's task from the backlog; and what a send that fails
on either path leaves behind. The sockets are real WebSockets over a stand-in server side
(``_transport_send``), so send(), the state and the error mapping are the real ones."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from tests.channels.test_channels import LINGER, RecordingSocket, StalledSocket, turns
from velocipy.channels import Channels
from velocipy.channels.messages import Message
from velocipy.exceptions import WebSocketDisconnect
from velocipy.json import get_adapter
from velocipy.websockets import WebSocketState


class GoneSocket(StalledSocket):
    """A member whose peer leaves: from its ``fails_from``-th send on (counted from 0) the
    server's send raises ``OSError``, as uvicorn's does, after ``turns_first`` turns of the
    loop (0: at once, in the caller's turn); the sends before it finish at once."""

    _transport_errors = (OSError,)

    def __init__(self, turns_first: int, fails_from: int) -> None:
        super().__init__("/gone")
        self.turns_first = turns_first
        self.fails_from = fails_from
        self.attempts = 0

    async def _transport_send(self, data: str | bytes) -> None:
        self.attempts += 1
        if self.attempts > self.fails_from:
            await turns(self.turns_first)
            raise OSError("Broken pipe")


class FutureSocket(StalledSocket):
    """A member whose server hands back its own awaitable (a future, not a coroutine), as
    granian does; ``done`` says whether it is already finished when handed over."""

    def __init__(self, done: bool) -> None:
        super().__init__("/future")
        self.done = done
        self.sent: list[str | bytes] = []

    def _transport_send(self, data: str | bytes) -> asyncio.Future[None]:
        future = asyncio.get_running_loop().create_future()
        if self.done:
            self.sent.append(data)
            future.set_result(None)
        else:
            asyncio.get_running_loop().call_soon(self._finish, future, data)
        return future

    def _finish(self, future: asyncio.Future[None], data: str | bytes) -> None:
        self.sent.append(data)
        future.set_result(None)


@pytest.mark.parametrize(
    ("turns_first", "fails_from"),
    [(0, 0), (3, 0), (0, 1), (3, 1)],
    ids=[
        "in-the-publishers-turn",
        "after-waiting",
        "from-the-backlog",
        "from-the-backlog-after-waiting",
    ],
)
def test_a_member_whose_peer_left_is_let_go_quietly(
    turns_first: int, fails_from: int, caplog: pytest.LogCaptureFixture
) -> None:
    """The send raises OSError: the socket is closed as 1006 (connection lost), its membership
    ends, the other member still gets every message, and nothing is logged. Three messages
    come as a stream: the first is sent in the publisher's turn, the others are held, then
    sent from the backlog by each member's task."""

    async def scenario() -> None:
        async with Channels("memory", linger=LINGER) as channels:
            gone, other = GoneSocket(turns_first, fails_from), RecordingSocket()
            await channels.join(gone, "news")
            await channels.join(other, "news")
            for n in range(3):
                await channels.publish("news", f"m{n}")
            await asyncio.sleep(LINGER * 3)
            assert gone.attempts == fails_from + 1  # nothing was tried after the failure
            assert gone.connection_state is WebSocketState.CLOSED
            assert gone._disconnect == (1006, "")
            assert channels.subscriber_count("news") == 1
            assert all(m.websocket is not gone for m in channels._memberships)
            assert id(gone) not in channels._tokens
            await asyncio.sleep(LINGER * 2)
            await channels.publish("news", "after")
            assert other.sent == ["m0", "m1", "m2", "after"]
            assert gone.attempts == fails_from + 1

    with caplog.at_level(logging.DEBUG, logger="velocipy"):
        asyncio.run(scenario())
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


@pytest.mark.parametrize("done", [True, False], ids=["finished-at-once", "finishes-later"])
def test_a_server_awaitable_that_is_not_a_coroutine_is_sent_in_order(done: bool) -> None:
    async def scenario() -> None:
        async with Channels("memory", linger=0) as channels:
            socket = FutureSocket(done)
            await channels.join(socket, "news")
            for n in range(4):
                await channels.publish("news", f"m{n}")
            if done:  # each went in the publisher's turn
                assert socket.sent == ["m0", "m1", "m2", "m3"]
            await turns(10)
            assert socket.sent == ["m0", "m1", "m2", "m3"]

    asyncio.run(scenario())


def test_send_in_turn_says_whether_the_frame_went_at_once() -> None:
    async def scenario() -> None:
        socket = RecordingSocket(waits=frozenset({1}))
        assert socket._send_in_turn("first") is None
        assert socket.sent == ["first"]
        rest = socket._send_in_turn("second")  # its send waits ten turns of the loop
        assert rest is not None
        assert socket.started == ["first", "second"]
        assert socket.sent == ["first"]
        await rest
        assert socket.sent == ["first", "second"]
        assert socket._send_in_turn("third") is None  # the send that waited kept its stepper
        assert socket.sent == ["first", "second", "third"]

    asyncio.run(scenario())


def test_a_send_in_turn_that_waits_can_be_cancelled() -> None:
    async def scenario() -> None:
        socket = RecordingSocket(waits=frozenset({0}))
        rest = socket._send_in_turn("first")
        assert rest is not None
        finishing = asyncio.ensure_future(rest)
        await turns(3)
        finishing.cancel()
        with pytest.raises(asyncio.CancelledError):
            await finishing
        assert socket.started == ["first"]
        assert socket.sent == []  # the cancellation reached the server's send
        assert socket._send_in_turn("second") is None
        assert socket.sent == ["second"]

    asyncio.run(scenario())


class DepartedSocket(StalledSocket):
    """A member whose server already knows the peer left: its send raises at once, before
    handing back anything to await (as the ASGI adapter does when a read-ahead heard it)."""

    def _transport_send(self, data: str | bytes) -> Any:
        raise WebSocketDisconnect(1001, "going away")


def test_a_send_refused_before_it_starts_closes_the_socket_and_ends_the_membership() -> None:
    async def scenario() -> None:
        async with Channels("memory", linger=0) as channels:
            socket = DepartedSocket()
            await channels.join(socket, "news")
            await channels.publish("news", "m0")
            assert socket.connection_state is WebSocketState.CLOSED
            assert socket._disconnect == (1001, "going away")
            assert channels.subscriber_count("news") == 0
            with pytest.raises(WebSocketDisconnect):
                socket._send_in_turn("again")

    asyncio.run(scenario())


def test_send_in_turn_and_send_each_refuse_a_closed_socket_as_send_does() -> None:
    async def scenario() -> None:
        socket = RecordingSocket()
        await socket.close(1000)
        for send in (socket.send("x"), socket._send_each(iter(["x", None]).__next__)):
            with pytest.raises(Exception) as refused:
                await send
            assert "closed" in str(refused.value)
        with pytest.raises(Exception, match="closed"):
            socket._send_in_turn("x")
        assert socket.started == []

    asyncio.run(scenario())


def test_send_each_sends_until_none_and_stops_at_a_close() -> None:
    async def scenario() -> None:
        socket = RecordingSocket()
        await socket._send_each(iter(["a", b"b", "c", None, "never"]).__next__)
        assert socket.sent == ["a", b"b", "c"]

        frames = iter(["d", "e"])

        def next_frame() -> str | None:
            frame = next(frames, None)
            if frame == "e":
                socket.connection_state = WebSocketState.CLOSED  # closed by another task
            return frame

        with pytest.raises(Exception, match="closed"):
            await socket._send_each(next_frame)
        assert socket.sent == ["a", b"b", "c", "d"]

    asyncio.run(scenario())


# --- the message a member is sent ------------------------------------------------------------
def test_a_message_has_its_frame_and_data_for_each_kind() -> None:
    json = get_adapter("stdlib")
    text = Message.from_value("c", "héllo \ud800", json)  # a lone surrogate survives the trip
    assert (text.frame, text.data, text.body) == (
        "héllo \ud800",
        "héllo \ud800",
        "héllo \ud800".encode("utf-8", "surrogatepass"),
    )
    binary = Message.from_value("c", bytearray(b"\x00\xff"), json)
    assert (binary.frame, binary.data) == (b"\x00\xff", b"\x00\xff")
    value = Message.from_value("c", {"n": [1, 2]}, json)
    assert value.frame == '{"n":[1,2]}'
    assert value.data == {"n": [1, 2]}
    for message in (text, binary, value):
        back = Message.from_wire("c", message.to_wire(), json, id="1-0")
        assert (back.kind, back.frame, back.data, back.id) == (
            message.kind,
            message.frame,
            message.data,
            "1-0",
        )


@pytest.mark.parametrize("kind", [b"t", b"j"])
def test_a_text_or_json_message_that_is_not_utf8_is_refused_when_read(kind: bytes) -> None:
    """A backend skips what raises ValueError here, so no socket is ever sent it."""
    with pytest.raises(ValueError):
        Message.from_wire("c", kind + b"\n\xff\xfe", get_adapter("stdlib"))
