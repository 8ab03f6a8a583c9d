"""Bursts and hostile catch-up ids on real uvicorn, granian RSGI and granian ASGI processes.

A handler publishes 3,000 messages in one loop while a WebSocket reader waits: the reader is
healthy and must get all of them (on granian ASGI each send completes in a later turn of the
event loop, so a backlog of 1,000 used to fill before the reader's task could drain it). A
malformed ``?after=`` closes the socket with 1008 and leaves no member behind.
"""

from __future__ import annotations

import asyncio
import json

import pytest
import redis.asyncio
import websockets

from tests.channels.redis_server import RedisServer
from tests.channels.test_scale_out import members, no_tracebacks, relay_server
from tests.support import http_request
from velocipy.channels import Message
from velocipy.json import get_adapter

JSON = get_adapter("msgspec")

pytestmark = pytest.mark.interop

BURST = 3000


@pytest.mark.parametrize("backend", ["memory", "redis"])
def test_a_burst_reaches_a_healthy_reader_whole(
    server_kind: str, backend: str, redis_server: RedisServer
) -> None:
    url = "memory" if backend == "memory" else redis_server.url
    env = {"VELOCIPY_TEST_CHANNELS": url, "VELOCIPY_TEST_BACKLOG": "1000"}
    with relay_server(server_kind, env) as server:

        async def scenario() -> None:
            async with websockets.connect(
                f"{server.ws_url}/rooms/r", compression=None, open_timeout=20
            ) as reader:
                assert await asyncio.wait_for(reader.recv(), 20) == "ready"
                if backend == "memory":  # one handler publishes in a loop
                    answer = await asyncio.to_thread(
                        http_request, f"{server.url}/burst/r/{BURST}", method="POST", timeout=60
                    )
                    assert json.loads(answer.body) == {"published": BURST}
                else:  # pipelined into Redis: the burst reaches the server's reader at once
                    await pipelined_burst(redis_server.url)
                got = [await asyncio.wait_for(reader.recv(), 20) for _ in range(BURST)]
                assert got == [str(n) for n in range(BURST)]
                assert members(server, "r") == 1

        asyncio.run(scenario())
        assert "closed with 1013" not in server.output()
        no_tracebacks(server)


async def pipelined_burst(url: str) -> None:
    client = redis.asyncio.Redis.from_url(url)
    try:
        async with client.pipeline(transaction=False) as pipe:
            for n in range(BURST):
                pipe.publish("r", Message.from_value("r", str(n), JSON, None).to_wire())
            await pipe.execute()
    finally:
        await client.aclose()


@pytest.mark.parametrize("after", ["abc", "(1", "1_0", "99999999999999999999-0"])
def test_a_malformed_after_closes_cleanly(
    server_kind: str, after: str, redis_server: RedisServer
) -> None:
    env = {"VELOCIPY_TEST_CHANNELS": redis_server.url, "VELOCIPY_TEST_HISTORY": "10"}
    with relay_server(server_kind, env) as server:

        async def scenario() -> None:
            for _ in range(20):
                async with websockets.connect(
                    f"{server.ws_url}/catch-up/r?after={after}", open_timeout=20
                ) as ws:
                    with pytest.raises(websockets.ConnectionClosed) as closed:
                        await asyncio.wait_for(ws.recv(), 20)
                    reason = f"{after!r} is not a message id: send the id of the last message"
                    received = closed.value.rcvd
                    assert received is not None
                    # RSGI carries no close code: a close frame without one reads as 1005
                    expected = (1005, "") if server_kind == "granian-rsgi" else (1008, reason)
                    assert (received.code, received.reason) == expected
            assert members(server, "r") == 0
            assert redis_server.command("PUBSUB", "NUMSUB", "r").endswith(b":0\r\n")

        asyncio.run(scenario())
        output = server.output()
        no_tracebacks(server)
        assert "ERROR" not in output
