"""A lean WebSocket load client: raw frames over asyncio protocols, no library per message.

A general client (the ``websockets`` package) spends more CPU per message than a fast server,
so it would measure itself. This one writes a pre-masked frame and counts echoed frames.

    python ws_client.py echo --port 8000 --connections 16 --in-flight 8 --seconds 5
    python ws_client.py hold --port 8000 --connections 500   # idle sockets until stdin closes
    python ws_client.py hold --port 8000 --connections 10000 --path /hub --spread
        # ... from addresses spread over 127.0.0.0/8; each "broadcast" line on stdin sends one
        # message to the hub and prints how long until every socket had it

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


def handshake(port: int, path: str = "/ws") -> bytes:
    return (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


class Arrivals:
    """Which of ``total`` sockets have had a frame since ``reset()``: set when all have."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.seen: set[int] = set()
        self.all_arrived = asyncio.Event()

    def reset(self) -> None:
        self.seen.clear()
        self.all_arrived.clear()

    def arrived(self, client: object) -> None:
        self.seen.add(id(client))
        if len(self.seen) >= self.total:
            self.all_arrived.set()


class EchoClient(asyncio.Protocol):
    def __init__(
        self,
        port: int,
        in_flight: int,
        upgraded: asyncio.Future[None],
        path: str = "/ws",
        arrivals: Arrivals | None = None,
    ) -> None:
        self.port = port
        self.in_flight = in_flight
        self.upgraded = upgraded
        self.path = path
        self.arrivals = arrivals
        self.buffer = b""
        self.is_open = False
        self.sending = False
        self.received = 0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        transport.write(handshake(self.port, self.path))

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
            if self.arrivals is not None:
                self.arrivals.arrived(self)
            if self.sending and self.transport is not None:
                self.transport.write(FRAME * frames)

    def connection_lost(self, exc: Exception | None) -> None:
        self.sending = False
        if not self.upgraded.done():
            self.upgraded.set_exception(ConnectionError("closed before the upgrade"))


def spread_address(index: int) -> str:
    """A client address for connection ``index``, spread over 127.0.0.0/8 (Linux answers on
    all of it), so 10,000s of connections to one port never run out of ephemeral ports."""
    return f"127.{1 + index // 62_500}.{index // 250 % 250}.{index % 250 + 1}"


def raise_descriptor_limit(needed: int) -> int:
    """Raise this process's open-file limit towards its hard limit; the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        return wanted
    return soft


async def connect(
    port: int,
    count: int,
    in_flight: int,
    path: str = "/ws",
    spread: bool = False,
    arrivals: Arrivals | None = None,
) -> list[EchoClient]:
    loop = asyncio.get_running_loop()
    clients = []
    for index in range(count):
        upgraded: asyncio.Future[None] = loop.create_future()
        _, client = await loop.create_connection(
            lambda upgraded=upgraded: EchoClient(  # type: ignore[misc]
                port, in_flight, upgraded, path, arrivals
            ),
            "127.0.0.1",
            port,
            local_addr=(spread_address(index), 0) if spread else None,
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


async def hold(port: int, connections: int, path: str = "/ws", spread: bool = False) -> None:
    raise_descriptor_limit(connections + 64)
    arrivals = Arrivals(connections)
    clients = await connect(port, connections, 0, path, spread, arrivals)
    print(json.dumps({"open": len(clients)}), flush=True)
    loop = asyncio.get_running_loop()
    while (await loop.run_in_executor(None, sys.stdin.readline)).strip() == "broadcast":
        arrivals.reset()
        started = time.perf_counter()
        assert clients[0].transport is not None
        clients[0].transport.write(FRAME)  # the hub sends it to every socket, this one too
        await asyncio.wait_for(arrivals.all_arrived.wait(), 120)
        elapsed = time.perf_counter() - started
        print(json.dumps({"broadcast_ms": round(elapsed * 1000, 3)}), flush=True)
    close(clients)
    await asyncio.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("mode", choices=("echo", "hold"))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--in-flight", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--path", default="/ws", help="hold: the WebSocket route")
    parser.add_argument(
        "--spread", action="store_true", help="hold: client addresses over 127.0.0.0/8"
    )
    args = parser.parse_args()
    if args.mode == "echo":
        result = _run(echo(args.port, args.connections, args.in_flight, args.seconds))
        print(json.dumps(result), flush=True)
    else:
        _run(hold(args.port, args.connections, args.path, args.spread))


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


if __name__ == "__main__":
    main()
