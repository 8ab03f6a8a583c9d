"""The Redis backend against a real redis-server: crossing processes' channels, outages, history.

Two ``Channels`` objects on one loop stand for two workers: each has its own connections.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from tests.channels.redis_server import RedisServer
from velocipy.channels import Channels, Message, Subscription

pytestmark = pytest.mark.interop


async def eventually(check: Callable[[], Awaitable[bool]], bound: float = 20.0) -> bool:
    """Poll ``check`` until it holds; False after ``bound`` seconds (a bound, not a measurement)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + bound
    while loop.time() < deadline:
        if await check():
            return True
        await asyncio.sleep(0.05)
    return False


async def next_message(subscription: Subscription) -> Message:
    return await asyncio.wait_for(subscription.get(), 20)


def test_messages_cross_between_two_channels_objects_in_order(redis_server: RedisServer) -> None:
    async def scenario() -> None:
        async with Channels(redis_server.url) as one, Channels(redis_server.url) as two:
            async with two.subscribe("room") as subscription:
                for n in range(500):
                    assert await one.publish("room", {"n": n})
                await one.publish("room", b"\x00binary")
                await one.publish("room", "text")
                got = [(await next_message(subscription)).data for _ in range(502)]
        assert got == [{"n": n} for n in range(500)] + [b"\x00binary", "text"]

    asyncio.run(scenario())


def test_redis_killed_and_restarted_subscriptions_recover_and_the_gap_is_lost(
    redis_server: RedisServer,
) -> None:
    async def scenario() -> None:
        async with Channels(redis_server.url) as one, Channels(redis_server.url) as two:
            async with two.subscribe("room") as subscription:
                assert await one.publish("room", "before")
                assert (await next_message(subscription)).data == "before"

                redis_server.kill()
                # publishing during the outage does not raise: it says the message was lost
                assert await eventually(lambda: _false(one.publish("room", "during")))
                assert await eventually(lambda: _disconnected(two))  # its reader noticed too

                redis_server.start()
                assert await eventually(lambda: _connected(one, two))
                assert two.backend.reconnects >= 1  # type: ignore[attr-defined]

                async def delivered_after_restart() -> bool:
                    await one.publish("room", "after")
                    try:
                        message = await asyncio.wait_for(subscription.get(), 0.2)
                    except TimeoutError:
                        return False
                    # at-most-once: the messages sent while Redis was down are gone
                    assert message.data == "after"
                    return True

                assert await eventually(delivered_after_restart)

    asyncio.run(scenario())


def test_with_history_a_reconnecting_subscriber_gets_what_it_missed(
    redis_server: RedisServer,
) -> None:
    """Redis stays up but drops the subscriber's connection: the gap is replayed from the stream."""

    async def scenario() -> None:
        async with (
            Channels(redis_server.url, history=1000) as one,
            Channels(redis_server.url, history=1000) as two,
        ):
            async with two.subscribe("room") as subscription:
                for n in range(50):
                    assert await one.publish("room", n)
                assert [(await next_message(subscription)).data for _ in range(50)] == list(
                    range(50)
                )
                killed = redis_server.command("CLIENT", "KILL", "TYPE", "pubsub")
                assert killed.startswith(b":"), killed
                assert int(killed[1:]) >= 1, killed
                for n in range(50, 100):  # published while `two` reconnects
                    assert await one.publish("room", n)
                got = [(await next_message(subscription)).data for _ in range(50)]
                assert got == list(range(50, 100))  # none lost, none twice, in order
                assert await eventually(lambda: _reconnected(two))

    asyncio.run(scenario())


def test_a_client_catches_up_from_its_last_id(redis_server: RedisServer) -> None:
    async def scenario() -> None:
        async with Channels(redis_server.url, history=5) as channels:
            async with channels.subscribe("log") as live:
                for n in range(8):
                    await channels.publish("log", n)
                seen = [await next_message(live) for _ in range(8)]
            async with channels.subscribe("log", last_id=seen[5].id) as again:
                await channels.publish("log", 8)
                assert [(await next_message(again)).data for _ in range(3)] == [6, 7, 8]
            async with channels.subscribe("log", last_id=seen[0].id) as late:
                assert (await next_message(late)).data == 4  # only the last 5 are kept

    asyncio.run(scenario())


async def _false(result: Awaitable[bool]) -> bool:
    return not await result


async def _disconnected(hub: Channels) -> bool:
    return not hub.connected


async def _connected(*hubs: Channels) -> bool:
    return all(hub.connected for hub in hubs)


async def _reconnected(hub: Channels) -> bool:
    return bool(hub.backend.reconnects >= 1)  # type: ignore[attr-defined]
