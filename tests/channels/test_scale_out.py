"""Channels across real server processes: uvicorn and granian RSGI sharing a real redis-server,
and the slow-consumer rule on every server."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import websockets

from tests.channels.redis_server import RedisServer
from tests.support import ServerProcess, free_port, http_request, running, server_argv

pytestmark = pytest.mark.interop

ROOT = Path(__file__).resolve().parents[2]
RELAY = "tests.channels.apps.relay:app"


@contextlib.contextmanager
def relay_server(kind: str, env: dict[str, str]) -> Iterator[ServerProcess]:
    port = free_port()
    with running(server_argv(kind, RELAY, port), port=port, cwd=ROOT, env=env) as server:
        yield server


def members(server: ServerProcess, room: str) -> int:
    return int(json.loads(http_request(f"{server.url}/rooms/{room}/members").body)["members"])


async def connect(url: str) -> websockets.ClientConnection:
    ws = await websockets.connect(url, compression=None, max_size=None, open_timeout=20)
    assert await asyncio.wait_for(ws.recv(), 20) == "ready"
    return ws


def no_tracebacks(*servers: ServerProcess) -> None:
    for server in servers:
        assert "Traceback" not in server.output(), server.output()


def test_two_servers_relay_1000_messages_in_order(redis_server: RedisServer) -> None:
    env = {"VELOCIPY_TEST_CHANNELS": redis_server.url}
    with relay_server("uvicorn", env) as asgi, relay_server("granian-rsgi", env) as rsgi:

        async def scenario() -> None:
            receiver = await connect(f"{rsgi.ws_url}/rooms/lobby")
            sender = await connect(f"{asgi.ws_url}/rooms/lobby")
            for n in range(1000):
                await sender.send(f"message {n}")
            got = [await asyncio.wait_for(receiver.recv(), 20) for _ in range(1000)]
            assert got == [f"message {n}" for n in range(1000)]
            await receiver.send("and back")  # the other way round, RSGI -> ASGI
            assert await asyncio.wait_for(sender.recv(), 20) == "and back"
            await sender.close()
            await receiver.close()

        asyncio.run(scenario())
        no_tracebacks(asgi, rsgi)


def test_redis_killed_mid_stream_the_servers_recover_and_report_the_loss(
    redis_server: RedisServer,
) -> None:
    env = {"VELOCIPY_TEST_CHANNELS": redis_server.url}
    with relay_server("uvicorn", env) as asgi, relay_server("granian-rsgi", env) as rsgi:

        async def scenario() -> None:
            receiver = await connect(f"{rsgi.ws_url}/rooms/lobby")
            sender = await connect(f"{asgi.ws_url}/rooms/lobby")
            received: list[int] = []
            lost: list[int] = []

            async def read_receiver() -> None:
                async for text in receiver:
                    received.append(int(str(text).split()[1]))

            async def read_sender() -> None:
                async for text in sender:
                    if str(text).startswith("lost "):
                        lost.append(int(str(text).split()[2]))

            readers = [asyncio.create_task(read_receiver()), asyncio.create_task(read_sender())]
            n = 0

            async def send_until(condition: object, bound: float = 30.0) -> None:
                nonlocal n
                loop = asyncio.get_running_loop()
                deadline = loop.time() + bound
                while not condition() and loop.time() < deadline:  # type: ignore[operator]
                    await sender.send(f"message {n}")
                    n += 1
                    await asyncio.sleep(0.01)
                assert condition(), (n, received[-5:], lost[-5:])  # type: ignore[operator]

            await send_until(lambda: len(received) >= 100)
            redis_server.kill()
            await send_until(lambda: len(lost) >= 10)  # the handler was told, not crashed
            redis_server.start()
            restarted_at = n
            await send_until(lambda: bool(received) and received[-1] >= restarted_at)
            sent_after = n
            await send_until(lambda: received[-1] >= sent_after + 20)

            assert received == sorted(set(received)), "in order, none twice"
            assert not set(lost) & set(received)
            assert sender.close_code is None
            assert receiver.close_code is None
            await sender.close()
            await receiver.close()
            for task in readers:
                await asyncio.wait_for(task, 20)

        asyncio.run(scenario())
        no_tracebacks(asgi, rsgi)
        assert "reconnected to Redis" in rsgi.output() + asgi.output()


def stalled_client(port: int, path: str) -> socket.socket:
    """A WebSocket client that completes the handshake and then never reads again."""
    conn = socket.socket()
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    conn.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    conn.sendall(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += conn.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return conn


def test_a_client_that_stops_reading_is_dropped_and_99_others_get_everything(
    server_kind: str,
) -> None:
    env = {"VELOCIPY_TEST_CHANNELS": "memory", "VELOCIPY_TEST_BACKLOG": "50"}
    with relay_server(server_kind, env) as server:

        async def scenario() -> None:
            readers = [await connect(f"{server.ws_url}/rooms/r") for _ in range(99)]
            stalled = stalled_client(server.port, "/rooms/r")
            assert members(server, "r") == 100
            publisher = await websockets.connect(
                f"{server.ws_url}/publish/r", compression=None, open_timeout=20
            )
            payload = "x" * 16_000
            sent = 0
            while members(server, "r") == 100:
                assert sent < 20_000, "the stalled client was never dropped"
                for _ in range(25):
                    await publisher.send(f"{sent} {payload}")
                    sent += 1
                await publisher.send("sync")
                assert await asyncio.wait_for(publisher.recv(), 20) == "ok"
                for reader in readers:  # every reader has every message so far, in order
                    for expected in range(sent - 25, sent):
                        text = await asyncio.wait_for(reader.recv(), 20)
                        assert str(text).split(" ", 1)[0] == str(expected)
            assert members(server, "r") == 99
            # after the drop the others keep receiving
            for _ in range(25):
                await publisher.send(f"{sent} {payload}")
                sent += 1
            for reader in readers:
                for expected in range(sent - 25, sent):
                    text = await asyncio.wait_for(reader.recv(), 20)
                    assert str(text).split(" ", 1)[0] == str(expected)
            stalled.close()
            for reader in [*readers, publisher]:
                await reader.close()

        asyncio.run(scenario())
        assert "closed with 1013" in server.output()
        no_tracebacks(server)
