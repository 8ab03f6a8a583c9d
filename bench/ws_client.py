"""A lean WebSocket load client: raw frames over asyncio protocols, no library per message.

A general client (the ``websockets`` package) spends more CPU per message than a fast server,
so it would measure itself. This one writes a pre-masked frame and counts echoed frames.

    python ws_client.py echo --port 8000 --connections 16 --in-flight 8 --seconds 5
    python ws_client.py hold --port 8000 --connections 500   # idle sockets until stdin closes

It prints one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

PAYLOAD = b"Hello, WebSocket!"
_MASK = b"\x37\xfa\x21\x3d"
FRAME = (
    bytes([0x81, 0x80 | len(PAYLOAD)])
    + _MASK
    + bytes(b ^ _MASK[i % 4] for i, b in enumerate(PAYLOAD))
)


def handshake(port: int) -> bytes:
    return (
        f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


class EchoClient(asyncio.Protocol):
    def __init__(self, port: int, in_flight: int, upgraded: asyncio.Future[None]) -> None:
        self.port = port
        self.in_flight = in_flight
        self.upgraded = upgraded
        self.buffer = b""
        self.is_open = False
        self.sending = False
        self.received = 0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        transport.write(handshake(self.port))

    def start(self) -> None:
        assert self.transport is not None
        self.sending = True
        self.transport.write(FRAME * self.in_flight)

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer + data
        if not self.is_open:
            head, sep, rest = buffer.partition(b"\r\n\r\n")
            if not sep:
                self.buffer = buffer
                return
            if not head.startswith(b"HTTP/1.1 101"):
                self.upgraded.set_exception(RuntimeError(head.split(b"\r\n", 1)[0].decode()))
                return
            self.is_open = True
            self.upgraded.set_result(None)
            buffer = rest
        frames = 0
        while len(buffer) >= 2:
            length = buffer[1] & 0x7F
            start = 2
            if length == 126:
                if len(buffer) < 4:
                    break
                length, start = int.from_bytes(buffer[2:4], "big"), 4
            if len(buffer) < start + length:
                break
            opcode = buffer[0] & 0x0F
            buffer = buffer[start + length :]
            if opcode in (1, 2):
                frames += 1
        self.buffer = buffer
        if frames:
            self.received += frames
            if self.sending and self.transport is not None:
                self.transport.write(FRAME * frames)

    def connection_lost(self, exc: Exception | None) -> None:
        self.sending = False
        if not self.upgraded.done():
            self.upgraded.set_exception(ConnectionError("closed before the upgrade"))


async def connect(port: int, count: int, in_flight: int) -> list[EchoClient]:
    loop = asyncio.get_running_loop()
    clients = []
    for _ in range(count):
        upgraded: asyncio.Future[None] = loop.create_future()
        _, client = await loop.create_connection(
            lambda upgraded=upgraded: EchoClient(port, in_flight, upgraded),  # type: ignore[misc]
            "127.0.0.1",
            port,
        )
        await asyncio.wait_for(upgraded, 10)
        clients.append(client)
    return clients


def close(clients: list[EchoClient]) -> None:
    for client in clients:
        if client.transport is not None:
            client.transport.write(b"\x88\x82" + _MASK + bytes([0x03 ^ 0x37, 0xE8 ^ 0xFA]))
            client.transport.close()


async def echo(port: int, connections: int, in_flight: int, seconds: float) -> dict[str, Any]:
    clients = await connect(port, connections, in_flight)
    for client in clients:
        client.start()
    await asyncio.sleep(min(0.3, seconds / 4))  # warm up
    before = sum(c.received for c in clients)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    await asyncio.sleep(seconds)
    elapsed = time.perf_counter() - started
    received = sum(c.received for c in clients) - before
    after = resource.getrusage(resource.RUSAGE_SELF)
    for client in clients:
        client.sending = False
    close(clients)
    await asyncio.sleep(0.05)
    cpu = (after.ru_utime + after.ru_stime) - (usage.ru_utime + usage.ru_stime)
    return {"messages": received, "seconds": elapsed, "client_cpu_seconds": cpu}


async def hold(port: int, connections: int) -> None:
    clients = await connect(port, connections, 0)
    print(json.dumps({"open": len(clients)}), flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)
    close(clients)
    await asyncio.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("mode", choices=("echo", "hold"))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--in-flight", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    if args.mode == "echo":
        result = _run(echo(args.port, args.connections, args.in_flight, args.seconds))
        print(json.dumps(result), flush=True)
    else:
        _run(hold(args.port, args.connections))


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


if __name__ == "__main__":
    main()
