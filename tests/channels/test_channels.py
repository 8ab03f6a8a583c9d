"""Channels on the memory backend: publish/subscribe, join, delivery rules, errors.

The WebSocket tests run in process on ASGI and RSGI (the ``protocol`` fixture).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest

from velocipy import VelociPy, WebSocket
from velocipy.channels import Channels, SlowSubscriberError, subscribers
from velocipy.testing import TestClient
from velocipy.websockets import WebSocketState


class SpacedJSON:
    """An app JSON adapter with a recognisable spelling."""

    name = "spaced"

    def encode(self, obj: Any) -> bytes:
        return json.dumps(obj, separators=(" , ", " : ")).encode()

    def decode(self, data: bytes | str) -> Any:
        return json.loads(data)


def room_app(**options: Any) -> tuple[VelociPy, Channels]:
    app = VelociPy(json_adapter=SpacedJSON())
    channels = Channels("memory", app=app, **options)

    @app.websocket("/rooms/{room}")
    async def room(ws: WebSocket) -> None:
        await ws.accept()
        own = ws.query_params.get("own") == "yes"
        await channels.join(ws, ws.path_params["room"], receive_own=own)
        await ws.send_text("ready")
        async for text in ws.iter_text():
            if text.startswith("json "):
                await channels.publish(ws.path_params["room"], {"said": text[5:]}, sender=ws)
            elif text.startswith("bytes "):
                await channels.publish(ws.path_params["room"], text[6:].encode(), sender=ws)
            else:
                await channels.publish(ws.path_params["room"], text, sender=ws)

    @app.get("/rooms/{room}/members")
    async def members(room: str) -> dict[str, int]:
        return {"members": channels.subscriber_count(room)}

    return app, channels


def test_join_relays_in_order_and_skips_own_messages(make_client: Any) -> None:
    app, _ = room_app()
    with make_client(app) as client:
        with (
            client.websocket_connect("/rooms/a") as alice,
            client.websocket_connect("/rooms/a") as bob,
            client.websocket_connect("/rooms/b") as elsewhere,
        ):
            for ws in (alice, bob, elsewhere):
                assert ws.receive_text() == "ready"
            for n in range(200):
                alice.send_text(f"m{n}")
            assert [bob.receive_text() for _ in range(200)] == [f"m{n}" for n in range(200)]
            bob.send_text("hello alice")
            # alice joined with receive_own=False: the next thing she gets is bob's message
            assert alice.receive_text() == "hello alice"
            elsewhere.send_text("other room")
            bob.send_text("second")
            assert alice.receive_text() == "second"


def test_receive_own_true_echoes_to_the_sender(make_client: Any) -> None:
    app, _ = room_app()
    with make_client(app) as client, client.websocket_connect("/rooms/a?own=yes") as ws:
        assert ws.receive_text() == "ready"
        ws.send_text("me")
        assert ws.receive_text() == "me"


def test_json_goes_through_the_app_adapter_and_bytes_stay_binary(make_client: Any) -> None:
    app, _ = room_app()
    with make_client(app) as client:
        with (
            client.websocket_connect("/rooms/a") as alice,
            client.websocket_connect("/rooms/a") as bob,
        ):
            alice.receive_text(), bob.receive_text()
            alice.send_text("json hé")
            assert bob.receive_text() == '{"said" : "h\\u00e9"}'  # the app adapter's spelling
            alice.send_text("bytes raw")
            assert bob.receive_bytes() == b"raw"


def test_a_socket_leaves_its_rooms_when_it_disconnects(make_client: Any) -> None:
    app, channels = room_app()
    with make_client(app) as client:
        with client.websocket_connect("/rooms/a") as ws:
            assert ws.receive_text() == "ready"
            assert client.get("/rooms/a/members").json() == {"members": 1}
        assert client.get("/rooms/a/members").json() == {"members": 0}
        assert channels._memberships == set()
        assert channels._tokens == {}


class StalledSocket(WebSocket):
    """A member whose client stopped reading, as Channels sees it: an accepted WebSocket whose
    sends never finish. Only the server's side is stood in for: send(), close() and the state
    are the real WebSocket's."""

    def __init__(self, path: str = "/stalled") -> None:
        super().__init__(VelociPy(), path)
        self.connection_state = WebSocketState.CONNECTED
        self._accepted = True
        self.close_code: int | None = None

    async def _transport_send(self, data: str | bytes) -> None:
        await asyncio.Event().wait()

    async def _transport_close(self, code: int, reason: str) -> None:
        self.close_code = code


def test_a_member_that_stops_reading_is_closed_with_1013_and_the_others_get_everything(
    protocol: str,
) -> None:
    app, channels = room_app(backlog=20)
    stalled = StalledSocket()

    @app.get("/stall")
    async def stall() -> dict[str, bool]:
        await channels.join(stalled, "a")
        return {"joined": True}

    with TestClient(app, interface=protocol) as client:  # type: ignore[arg-type]
        with (
            client.websocket_connect("/rooms/a") as reader,
            client.websocket_connect("/rooms/a") as writer,
        ):
            reader.receive_text(), writer.receive_text()
            assert client.get("/stall").json() == {"joined": True}
            assert client.get("/rooms/a/members").json() == {"members": 3}
            received = []
            for batch in range(10):  # bursts below the backlog: the reader keeps up, the stalled
                for n in range(batch * 10, batch * 10 + 10):  # member falls behind
                    writer.send_text(f"m{n}")
                received += [reader.receive_text() for _ in range(10)]
            assert received == [f"m{n}" for n in range(100)]
            assert client.get("/rooms/a/members").json() == {"members": 2}
            assert stalled.close_code == 1013


class RecordingSocket(StalledSocket):
    """A member whose sends finish at once, except those numbered in ``waits`` (counted from
    0), which wait ten turns of the loop first, as a send into a full buffer does."""

    def __init__(self, waits: frozenset[int] = frozenset()) -> None:
        super().__init__("/recording")
        self.waits = waits
        self.started: list[str | bytes] = []
        self.sent: list[str | bytes] = []

    async def _transport_send(self, data: str | bytes) -> None:
        self.started.append(data)
        if len(self.started) - 1 in self.waits:
            for _ in range(10):
                await asyncio.sleep(0)
        self.sent.append(data)


async def turns(count: int) -> None:
    for _ in range(count):
        await asyncio.sleep(0)


LINGER = 0.02  # the tests' linger: long enough that a loaded machine keeps the order of events


@contextlib.asynccontextmanager
async def joined_member(
    waits: frozenset[int] = frozenset(), linger: float = LINGER
) -> AsyncIterator[tuple[Channels, RecordingSocket]]:
    """Started memory Channels, and a RecordingSocket joined to its channel "news"."""
    async with Channels("memory", linger=linger) as channels:
        member = RecordingSocket(waits)
        await channels.join(member, "news")
        yield channels, member


def test_a_send_that_does_not_wait_happens_in_the_publishers_turn() -> None:
    async def scenario() -> None:
        async with joined_member() as (channels, socket):
            for n in range(3):
                await channels.publish("news", f"m{n}")
                assert socket.sent == [f"m{k}" for k in range(n + 1)]  # no turn of the loop
                await asyncio.sleep(LINGER * 2)  # paced: a pause longer than the linger

    asyncio.run(scenario())


def test_after_a_send_that_waits_the_next_messages_queue_behind_it_in_order() -> None:
    async def scenario() -> None:
        async with joined_member(waits=frozenset({1}), linger=0) as (channels, socket):
            for n in range(5):
                await channels.publish("news", f"m{n}")
                await turns(1)
            assert socket.sent == ["m0"]  # m1 still waits; m2 to m4 are queued behind it
            assert socket.started == ["m0", "m1"]
            await turns(30)
            assert socket.sent == socket.started == [f"m{n}" for n in range(5)]

    asyncio.run(scenario())


def test_a_stream_waits_out_the_linger_then_goes_out_together_in_order() -> None:
    async def scenario() -> None:
        async with joined_member() as (channels, socket):
            await channels.publish("news", "m0")
            for n in range(1, 4):  # each comes soon after the last, a turn of the loop apart
                await turns(1)
                await channels.publish("news", f"m{n}")
            assert socket.sent == ["m0"]  # the first went at once, the stream waits
            await asyncio.sleep(LINGER / 4)
            await channels.publish("news", "m4")  # joins the held ones, behind them
            assert socket.sent == ["m0"]
            await asyncio.sleep(LINGER * 2)
            assert socket.sent == [f"m{n}" for n in range(5)]
            await asyncio.sleep(LINGER * 2)  # the stream ended: a pause, then one at once
            await channels.publish("news", "after")
            assert socket.sent[-1] == "after"

    asyncio.run(scenario())


def test_a_burst_in_one_turn_is_held_like_any_stream() -> None:
    async def scenario() -> None:
        async with joined_member() as (channels, socket):
            for n in range(5):
                await channels.publish("news", f"m{n}")  # no turn of the loop in between
            assert socket.sent == ["m0"]
            await asyncio.sleep(LINGER * 2)
            assert socket.sent == [f"m{n}" for n in range(5)]

    asyncio.run(scenario())


def test_linger_zero_sends_every_message_at_once() -> None:
    async def scenario() -> None:
        async with joined_member(linger=0) as (channels, socket):
            for n in range(5):
                await channels.publish("news", f"m{n}")
                assert socket.sent == [f"m{k}" for k in range(n + 1)]

    asyncio.run(scenario())


def test_a_plain_subscriber_gets_a_held_stream_in_order() -> None:
    async def scenario() -> None:
        async with Channels("memory", linger=LINGER) as channels:
            async with channels.subscribe("news") as subscription:
                for n in range(4):
                    await channels.publish("news", n)
                got = [(await asyncio.wait_for(subscription.get(), 1)).data for _ in range(4)]
                assert got == [0, 1, 2, 3]

    asyncio.run(scenario())


def test_stopping_with_a_held_stream_drops_it_quietly() -> None:
    async def scenario() -> None:
        channels = Channels("memory", linger=LINGER)
        await channels.start()
        socket = RecordingSocket()
        await channels.join(socket, "news")
        await channels.publish("news", "m0")
        await channels.publish("news", "m1")  # held
        await channels.stop()
        await asyncio.sleep(LINGER * 2)  # the release timer was cancelled with the channels
        assert socket.sent == ["m0"]
        assert channels._held is None

    asyncio.run(scenario())


@pytest.mark.usefixtures("short_grace")
def test_a_release_stopped_by_a_full_queue_holds_back_other_channels_until_the_grace_ends() -> None:
    async def scenario() -> None:
        async with Channels("memory", backlog=1, linger=LINGER) as channels:
            async with channels.subscribe("a") as stalled, channels.subscribe("b") as other:
                await channels.publish("a", "a0")  # at once: the stalled queue is now full
                await channels.publish("a", "a1")  # held: over the limit, starts the grace
                await channels.publish("a", "a2")  # held behind a1
                await channels.publish("b", "b0")  # held behind both, on another channel
                await asyncio.sleep(LINGER * 2)  # released up to a1, which filled the queue
                assert channels._held is not None
                assert [m.data for m in channels._held] == ["a2", "b0"]
                assert other._subscriber.empty
                assert (await asyncio.wait_for(other.get(), 5)).data == "b0"  # after the grace
                assert channels.subscriber_count("a") == 0  # the stalled one was dropped
                with pytest.raises(SlowSubscriberError):
                    await stalled.get()

    asyncio.run(scenario())


def test_linger_must_not_be_negative() -> None:
    with pytest.raises(ValueError, match="linger must be 0"):
        Channels("memory", linger=-0.001)


@pytest.fixture
def short_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    """A full backlog waits this long for its subscriber to take a message (default 1 s)."""
    monkeypatch.setattr(subscribers, "GRACE_SECONDS", 0.05)


@pytest.mark.usefixtures("short_grace")
@pytest.mark.usefixtures("short_grace")
@pytest.mark.parametrize("linger", [0, LINGER], ids=["sent-at-once", "held"])
def test_drop_oldest_keeps_the_newest_and_counts_the_lost(linger: float) -> None:
    """Nobody reads: once its grace ran out the subscriber loses its oldest messages; its
    backlog never holds more than the limit and the one message that started the grace,
    also when the messages came as a held stream."""

    async def scenario() -> None:
        channels = Channels("memory", backlog=3, on_overflow="drop_oldest", linger=linger)
        async with channels:
            async with channels.subscribe("news") as subscription:
                backlog = subscription._subscriber._backlog
                largest = 0
                for n in range(10):
                    await channels.publish("news", n)  # this task reads only afterwards
                    largest = max(largest, len(backlog))
                while channels._held is not None:
                    largest = max(largest, len(backlog))
                    await asyncio.sleep(0.001)
                assert len(backlog) == largest == 4
                assert [(await subscription.get()).data for _ in range(4)] == [6, 7, 8, 9]
                assert subscription.lost == 6

    asyncio.run(scenario())


@pytest.mark.usefixtures("short_grace")
@pytest.mark.parametrize("linger", [0, LINGER], ids=["sent-at-once", "held"])
def test_close_policy_drops_a_plain_subscriber_without_blocking_the_publisher(
    linger: float,
) -> None:
    async def scenario() -> None:
        async with Channels("memory", backlog=3, linger=linger) as channels:
            async with channels.subscribe("news") as slow, channels.subscribe("news") as fast:
                for n in range(4):  # 3 fill the backlog, the 4th waits out the grace
                    await channels.publish("news", n)
                    assert (await fast.get()).data == n
                assert channels.subscriber_count("news") == 2
                await channels.publish("news", "one too many")
                with pytest.raises(SlowSubscriberError, match="fell 3 messages behind"):
                    await slow.get()
                assert channels.subscriber_count("news") == 1

    asyncio.run(scenario())


def test_subscribe_to_several_channels_and_iterate() -> None:
    async def scenario() -> list[tuple[str, Any]]:
        got = []
        async with Channels("memory") as channels:
            async with channels.subscribe("a", "b") as subscription:
                await channels.publish("a", "one")
                await channels.publish("c", "never")
                await channels.publish("b", b"two")
                async for message in subscription:
                    got.append((message.channel, message.data))
                    if len(got) == 2:
                        break
            assert channels.subscriber_count("a") == 0
        return got

    assert asyncio.run(scenario()) == [("a", "one"), ("b", b"two")]


def test_history_lets_a_client_catch_up_from_its_last_id() -> None:
    async def scenario() -> None:
        async with Channels("memory", history=5) as channels:
            async with channels.subscribe("log") as live:
                for n in range(8):
                    await channels.publish("log", n)
                seen = [await live.get() for _ in range(8)]
            assert [m.id for m in seen] == [str(n) for n in range(1, 9)]
            async with channels.subscribe("log", last_id=seen[5].id) as again:
                await channels.publish("log", 8)
                assert [(await again.get()).data for _ in range(3)] == [6, 7, 8]
            # older than the kept history: what is kept is replayed, oldest first
            async with channels.subscribe("log", last_id="1") as late:
                assert (await late.get()).data == 4

    asyncio.run(scenario())


def test_clear_errors_for_misuse() -> None:
    channels = Channels("memory")
    with pytest.raises(RuntimeError, match=r"not started.*app=app"):
        asyncio.run(channels.publish("a", "x"))
    with pytest.raises(ValueError, match="use 'memory' or a redis:// URL"):
        Channels("rabbit://somewhere")
    with pytest.raises(ValueError, match="on_overflow"):
        Channels(on_overflow="block")  # type: ignore[arg-type]

    async def scenario() -> None:
        async with Channels("memory") as plain:
            with pytest.raises(ValueError, match=r"last_id needs history.*history=N"):
                plain.subscribe("a", last_id="1")
        async with Channels("memory", history=3) as kept:
            with pytest.raises(ValueError, match="not a message id"):
                kept.subscribe("a", last_id="yesterday")

    asyncio.run(scenario())


def test_channels_start_and_stop_with_the_app_lifespan(make_client: Any) -> None:
    app, channels = room_app()
    assert not channels.started
    with make_client(app):
        assert channels.started
    assert not channels.started


def test_the_redis_backend_names_the_extra_when_redis_py_is_missing() -> None:
    code = (
        "import sys; sys.modules['redis'] = None\n"
        "from velocipy.channels import Channels\n"
        "try:\n    Channels('redis://127.0.0.1:1/0')\n"
        "except ImportError as exc:\n    print(exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert "pip install -e '.[redis]' in a clone of VelociPy" in result.stdout
    assert "velocipy[" not in result.stdout  # never the unrelated project on PyPI


def test_importing_velocipy_imports_neither_channels_nor_redis() -> None:
    code = (
        "import sys, velocipy, velocipy.channels\n"
        "print('redis' in sys.modules, 'velocipy.channels.backends.redis' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.split() == ["False", "False"]
