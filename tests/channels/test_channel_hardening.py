"""Channels against hostile ids, foreign publishers, bursts and idle rooms (issue 24, 7-9).

Redis cases run against a real redis-server (tests/channels/redis_server.py). After every
refusal the state is asserted: subscriber counts, the backend's channels, Redis' own
subscriptions, the hub's sender tokens.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from tests.channels.redis_server import RedisServer
from velocipy import Request, VelociPy, WebSocket
from velocipy.channels import (
    Channels,
    MemoryBackend,
    Message,
    SlowSubscriberError,
    Subscription,
    subscribers,
)
from velocipy.channels.backends.base import InvalidMessageId, id_key
from velocipy.testing import TestClient
from velocipy.testing.errors import WebSocketClosed

MALFORMED_IDS = [
    "1_0",
    " 1",
    "1 ",
    "+1",
    "-1",
    "1-",
    "-",
    "",
    "1-2-3",
    "abc",
    "(1",
    "١",  # an Arabic-Indic digit: int() takes it, Redis does not
    "99999999999999999999-0",
    "18446744073709551616",
    "0-18446744073709551616",
]


@pytest.mark.parametrize("message_id", MALFORMED_IDS)
def test_a_malformed_id_is_refused_with_a_one_line_reason(message_id: str) -> None:
    with pytest.raises(InvalidMessageId) as refused:
        id_key(message_id)
    assert refused.value.code == 1008
    assert refused.value.reason == (
        f"{message_id!r} is not a message id: send the id of the last message"
    )
    assert isinstance(refused.value, ValueError)


@pytest.mark.parametrize(
    ("message_id", "key"),
    [
        ("0", (0,)),
        ("17", (17,)),
        ("1700000000000-3", (1700000000000, 3)),
        ("18446744073709551615", (2**64 - 1,)),
        ("18446744073709551615-18446744073709551615", (2**64 - 1, 2**64 - 1)),
    ],
)
def test_ids_at_and_below_the_limit_are_taken(message_id: str, key: tuple[int, ...]) -> None:
    assert id_key(message_id) == key


def assert_nothing_left(channels: Channels, *rooms: str) -> None:
    for room in rooms:
        assert channels.subscriber_count(room) == 0
    assert channels._subscribers == {}
    assert channels._tokens == {}
    assert channels._memberships == set()


async def settle(channels: Channels) -> None:
    """Let the spawned unsubscribe calls finish."""
    for _ in range(100):
        if not channels._background:
            return
        await asyncio.sleep(0.01)


def redis_subscribers(redis_server: RedisServer, room: str) -> int:
    reply = redis_server.command("PUBSUB", "NUMSUB", room)
    return int(reply.split(b"\r\n")[-2].lstrip(b":"))


# --- 7: catch-up ids --------------------------------------------------------------------------
@pytest.mark.interop
def test_refused_ids_leave_no_subscriber_on_redis(redis_server: RedisServer) -> None:
    async def scenario() -> None:
        async with Channels(redis_server.url, history=10) as channels:
            for message_id in MALFORMED_IDS * 20:  # 300 refused joins
                with pytest.raises(InvalidMessageId):
                    async with channels.subscribe("room", last_id=message_id):
                        pass
            await settle(channels)
            assert_nothing_left(channels, "room")
            assert channels.backend._channels == set()  # type: ignore[attr-defined]
            assert redis_subscribers(redis_server, "room") == 0
            # the highest id Redis has: nothing can come after it, and that is not an error
            last = "18446744073709551615-18446744073709551615"
            async with channels.subscribe("room", last_id=last) as live:
                assert channels.subscriber_count("room") == 1
                await channels.publish("room", "live")
                assert (await asyncio.wait_for(live.get(), 10)).data == "live"

    asyncio.run(scenario())


@pytest.mark.interop
def test_a_catch_up_redis_refuses_unregisters_the_subscriber(redis_server: RedisServer) -> None:
    """The history key holds something else (WRONGTYPE): the error surfaces, nothing stays."""

    async def scenario() -> None:
        async with Channels(redis_server.url, history=10) as channels:
            redis_server.command("SET", "velocipy:history:room", "not a stream")
            for _ in range(50):
                with pytest.raises(Exception, match="WRONGTYPE"):
                    async with channels.subscribe("room", last_id="1-0"):
                        pass
            await settle(channels)
            assert_nothing_left(channels, "room")
            assert redis_subscribers(redis_server, "room") == 0

    asyncio.run(scenario())


def relay_with_history(backend: str) -> tuple[VelociPy, Channels]:
    app = VelociPy()
    channels = Channels(backend, app=app, history=10)

    @app.websocket("/events")
    async def events(ws: WebSocket) -> None:
        await ws.accept()
        await channels.join(ws, "events", last_id=ws.query_params.get("after"))
        await ws.send_text("ready")
        async for _ in ws.iter_text():
            pass

    return app, channels


@pytest.mark.parametrize("after", ["abc", "(1", "1_0", "99999999999999999999-0"])
@pytest.mark.parametrize("interface", ["asgi", "rsgi"])
def test_a_malformed_after_closes_with_1008_and_no_traceback(
    after: str, interface: str, caplog: pytest.LogCaptureFixture
) -> None:
    app, channels = relay_with_history("memory")
    with caplog.at_level(logging.DEBUG), TestClient(app, interface=interface) as client:  # type: ignore[arg-type]
        with pytest.raises(WebSocketClosed) as closed:
            with client.websocket_connect(f"/events?after={after}") as ws:
                ws.receive_text()
        reason = f"{after!r} is not a message id: send the id of the last message"
        # RSGI cannot carry a close code or reason: the client sees 1005 (docs/websockets.md)
        expected = (1008, reason) if interface == "asgi" else (1005, "")
        assert (closed.value.code, closed.value.reason) == expected
        assert_nothing_left(channels, "events")
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    # the RSGI adapter says once per process that close codes cannot travel (a server limit)
    assert [w for w in warnings if not w.startswith("RSGI cannot send WebSocket close")] == []
    assert all(r.exc_info is None for r in caplog.records)


@pytest.mark.parametrize("interface", ["asgi", "rsgi"])
def test_a_malformed_last_event_id_in_an_http_handler_is_400(
    interface: str, caplog: pytest.LogCaptureFixture
) -> None:
    app = VelociPy()
    channels = Channels("memory", app=app, history=10)

    @app.get("/feed")
    async def feed(request: Request) -> str:
        async with channels.subscribe("feed", last_id=request.headers.get("last-event-id")):
            return "subscribed"

    with caplog.at_level(logging.DEBUG), TestClient(app, interface=interface) as client:  # type: ignore[arg-type]
        assert client.get("/feed", headers={"last-event-id": "3"}).text == "subscribed"
        refused = client.get("/feed", headers={"last-event-id": "3 OR 1=1"})
        assert (refused.status_code, refused.json()) == (
            400,
            {"detail": "'3 OR 1=1' is not a message id: send the id of the last message"},
        )
        assert_nothing_left(channels, "feed")
    assert all(r.levelno < logging.WARNING and r.exc_info is None for r in caplog.records)


# --- 8: foreign messages and the reader's supervision ----------------------------------------
@pytest.mark.interop
@pytest.mark.parametrize("history", [0, 10])
def test_a_foreign_message_is_skipped_and_logged_once(
    redis_server: RedisServer, history: int, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        async with Channels(redis_server.url, history=history) as channels:
            async with channels.subscribe("room") as subscription:
                for foreign in ["foo t\nbar", "garbage", "", "1-1 \xff\n"]:
                    redis_server.command("PUBLISH", "room", foreign)
                # tagged as text, with a body that is not UTF-8
                id_first = b"1-2 " if history else b""
                redis_server.command("PUBLISH", "room", id_first + b"t\n\xff\xfe")
                assert await channels.publish("room", "still here")
                message = await asyncio.wait_for(subscription.get(), 10)
                assert message.data == "still here"
                assert channels.backend.foreign_messages == 5  # type: ignore[attr-defined]
                assert channels.backend.reader_restarts == 0  # type: ignore[attr-defined]
                assert channels.subscriber_count("room") == 1

    with caplog.at_level(logging.DEBUG, logger="velocipy.channels"):
        asyncio.run(scenario())
    skipped = [r for r in caplog.records if "did not publish" in r.getMessage()]
    assert [r.levelno for r in skipped] == [logging.WARNING] + [logging.DEBUG] * 4
    assert skipped[0].getMessage() == (
        "channels: skipped a message on 'room' that VelociPy did not publish "
        "(1 so far; later ones are logged at DEBUG)"
    )


@pytest.mark.interop
def test_a_failing_reader_is_restarted_and_logged(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        async with Channels(redis_server.url, history=10) as channels:
            backend: Any = channels.backend
            backend.min_backoff = 0.01
            real_accept = backend._accept
            failures = iter([False, True])

            def accept_failing_once(message: Any) -> Any:
                if next(failures, False):
                    raise RuntimeError("a bug in the reader")
                return real_accept(message)

            backend._accept = accept_failing_once
            async with channels.subscribe("room") as subscription:
                await channels.publish("room", "first")
                assert (await asyncio.wait_for(subscription.get(), 10)).data == "first"
                await channels.publish("room", "lost to the bug, then replayed")
                message = await asyncio.wait_for(subscription.get(), 10)
                await channels.publish("room", "after the restart")
                later = await asyncio.wait_for(subscription.get(), 10)
            assert backend.reader_restarts == 1
            return message.data, later.data  # type: ignore[return-value]

    with caplog.at_level(logging.WARNING, logger="velocipy.channels"):
        result: Any = asyncio.run(scenario())
    assert result == ("lost to the bug, then replayed", "after the restart")
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert errors[0].getMessage().startswith("channels: the Redis reader failed; restarting it")
    assert "a bug in the reader" in str(errors[0].exc_info[1])  # type: ignore[index]


# --- 9: bursts ---------------------------------------------------------------------------------
@pytest.mark.parametrize("extra", [-1, 0, 1, 2000])
def test_a_burst_past_the_backlog_does_not_drop_a_waiting_reader(extra: int) -> None:
    """A reader waiting in get() is healthy, whatever a publisher does before it can run."""

    async def scenario() -> None:
        async with Channels("memory", backlog=1000) as channels:
            async with channels.subscribe("room") as subscription:
                received: list[Any] = []

                async def read(count: int) -> None:
                    for _ in range(count):
                        received.append((await subscription.get()).data)

                total = 1000 + extra
                reader = asyncio.ensure_future(read(total))
                await asyncio.sleep(0)  # the reader waits in get()
                for n in range(total):  # no await that suspends between the publishes
                    assert await channels.publish("room", n)
                await asyncio.wait_for(reader, 10)
                assert received == list(range(total))
                assert channels.subscriber_count("room") == 1
                assert len(subscription._subscriber._backlog) == 0

    asyncio.run(scenario())


async def read_into(got: list[Any], subscription: Subscription) -> None:
    while True:
        got.append((await subscription.get()).data)


def test_a_subscriber_that_never_reads_is_dropped_after_its_grace_and_stays_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(subscribers, "GRACE_SECONDS", 0.05)

    async def scenario() -> None:
        async with Channels("memory", backlog=10, linger=0) as channels:  # each step at once
            async with channels.subscribe("room") as stuck:
                async with channels.subscribe("room") as healthy:
                    got: list[Any] = []
                    reader = asyncio.ensure_future(read_into(got, healthy))
                    await asyncio.sleep(0)
                    for n in range(10):  # at the limit: no wait, nobody dropped
                        await channels.publish("room", n)
                    assert channels.subscriber_count("room") == 2
                    assert stuck._subscriber._grace_ends is None
                    await channels.publish("room", 10)  # above: the grace, then the wait ends
                    assert channels.subscriber_count("room") == 2
                    assert len(stuck._subscriber._backlog) == 11
                    await channels.publish("room", "one more")
                    assert channels.subscriber_count("room") == 1  # slow: dropped
                    for n in range(100):
                        await channels.publish("room", n)
                    await asyncio.sleep(0)
                    assert got == [*range(11), "one more", *range(100)]
                    reader.cancel()
                with pytest.raises(SlowSubscriberError):
                    await stuck.get()

    asyncio.run(scenario())


def test_a_held_stream_drops_a_subscriber_that_never_reads_and_keeps_it_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same stream, published faster than the linger: the release stops at the full
    backlog, so it never holds more than the limit and the message that started the grace."""
    monkeypatch.setattr(subscribers, "GRACE_SECONDS", 0.05)

    async def scenario() -> None:
        async with Channels("memory", backlog=10, linger=0.01) as channels:
            async with channels.subscribe("room") as stuck:
                async with channels.subscribe("room") as healthy:
                    got: list[Any] = []
                    reader = asyncio.ensure_future(read_into(got, healthy))
                    sent = [*range(11), "one more", *range(100)]
                    backlog = stuck._subscriber._backlog
                    largest = 0
                    for value in sent:
                        await channels.publish("room", value)
                        largest = max(largest, len(backlog))
                    async with asyncio.timeout(5):
                        while len(got) < len(sent):
                            largest = max(largest, len(backlog))
                            await asyncio.sleep(0.001)
                    assert got == sent
                    assert largest == 11
                    assert channels.subscriber_count("room") == 1  # the stuck one: dropped
                    assert channels._held is None
                    assert not channels._blocked
                    reader.cancel()
                with pytest.raises(SlowSubscriberError):
                    await stuck.get()

    asyncio.run(scenario())


@pytest.mark.interop
def test_a_redis_burst_reaches_a_waiting_reader_whole(redis_server: RedisServer) -> None:
    async def scenario() -> None:
        async with (
            Channels(redis_server.url, backlog=100) as publisher,
            Channels(redis_server.url, backlog=100) as subscriber,
        ):
            async with subscriber.subscribe("room") as subscription:
                got: list[Any] = []

                async def read() -> None:
                    while len(got) < 3000:
                        got.append((await subscription.get()).data)

                reader = asyncio.ensure_future(read())
                await asyncio.sleep(0)  # the reader waits in get()
                # pipelined: the burst reaches the reader's socket at once, and redis-py hands
                # buffered messages over without suspending, faster than a backlog of 100 drains
                async with publisher.backend._client.pipeline(transaction=False) as pipe:  # type: ignore[attr-defined]
                    for n in range(3000):
                        pipe.publish("room", publisher_wire(publisher, n))
                    await pipe.execute()
                await asyncio.wait_for(reader, 20)
                assert got == list(range(3000))
                assert subscriber.subscriber_count("room") == 1

    asyncio.run(scenario())


def publisher_wire(channels: Channels, value: Any) -> bytes:
    return Message.from_value("room", value, channels.json, None).to_wire()


# --- 9: the history of rooms nobody is in -------------------------------------------------------
@pytest.mark.parametrize(("rooms", "kept"), [(9, 9), (10, 10), (11, 10), (3000, 10)])
def test_idle_room_history_is_bounded(rooms: int, kept: int) -> None:
    async def scenario() -> None:
        backend = MemoryBackend(history=100, idle_channels=10)
        async with Channels(backend, backlog=5000) as channels:
            async with channels.subscribe("busy") as busy:
                for n in range(rooms):
                    await channels.publish(f"room-{n}", "x" * 1000)
                    await channels.publish("busy", n)
                assert backend.kept_channels() == kept + 1  # "busy" is never forgotten
                assert len(await backend.history_after("busy", "0")) == min(rooms, 100)
                assert (await busy.get()).data == 0
            last = rooms - 1
            assert [m.data for m in await backend.history_after(f"room-{last}", "0")] == [
                "x" * 1000
            ]
            if rooms > kept:  # the least recently published idle room was forgotten
                assert await backend.history_after("room-0", "0") == []
            # "busy" became idle when its subscriber left: it counts against the bound now
            assert backend.kept_channels() == min(kept + 1, 10)
            # ids never restart, so a forgotten room cannot hand out an id a client already has
            await channels.publish("room-0", "again")
            assert int((await backend.history_after("room-0", "0"))[-1].id or 0) == 2 * rooms + 1

    asyncio.run(scenario())


@pytest.mark.interop
@pytest.mark.parametrize("ttl", [0, 1, 3600])
def test_redis_history_of_a_quiet_room_expires(redis_server: RedisServer, ttl: int) -> None:
    """Each publish sets the stream's expiry: a room nobody publishes to lets its history go."""
    from velocipy.channels.backends.redis import RedisBackend

    async def scenario() -> None:
        backend = RedisBackend(redis_server.url, history=10, history_ttl=ttl)
        async with Channels(backend):
            assert await backend.publish(Message.from_value("quiet", "x", backend._json, None))
            reply = redis_server.command("TTL", "velocipy:history:quiet")
            seconds = int(reply.strip().lstrip(b":"))
            if ttl == 0:
                assert seconds == -1  # kept until trimmed by MAXLEN, as before
            else:
                assert 0 <= seconds <= ttl
                assert seconds >= ttl - 1
            if ttl == 1:
                deadline = asyncio.get_running_loop().time() + 10
                while redis_server.command("EXISTS", "velocipy:history:quiet") != b":0\r\n":
                    assert asyncio.get_running_loop().time() < deadline
                    await asyncio.sleep(0.1)
                assert await backend.history_after("quiet", "0") == []

    asyncio.run(scenario())


def test_history_ttl_must_not_be_negative() -> None:
    from velocipy.channels.backends.redis import RedisBackend

    with pytest.raises(ValueError, match="history_ttl must be 0"):
        RedisBackend("redis://127.0.0.1:1", history=10, history_ttl=-1)
