"""`ws-probe --clients N`: many connections sending at a rate, and what came back.

A general WebSocket client (the ``websockets`` package) spends more CPU per message than a fast
server does, so a load tool built on it would measure itself. Each connection here is an asyncio
protocol that writes one pre-masked frame per message and reads the server's frames by hand:
the handshake is checked as RFC 6455 says (status 101, ``Sec-WebSocket-Accept``), pings are
answered, a close is recorded and answered. Each connection keeps one message in flight: it
sends, waits for the next message from the server (the reply), then sends again when its share
of ``--rate`` allows (at once with no rate).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import math
import os
import time
import urllib.parse
from collections import Counter
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

from velocipy_cli.probe.connection import explain_connect_error, tls_context, user_agent
from velocipy_cli.probe.options import ProbeOptions

T = TypeVar("T")

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
DRAIN_SECONDS = 2.0  # after --duration, how long replies still in flight may take


def _frame(opcode: int, payload: bytes, mask: bytes) -> bytes:
    """One client frame (FIN set), masked with ``mask``."""
    length = len(payload)
    if length < 126:
        head = bytes([0x80 | opcode, 0x80 | length])
    elif length < 1 << 16:
        head = bytes([0x80 | opcode, 0x80 | 126]) + length.to_bytes(2, "big")
    else:
        head = bytes([0x80 | opcode, 0x80 | 127]) + length.to_bytes(8, "big")
    masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
    return head + mask + masked


def handshake_request(url: urllib.parse.SplitResult, key: str, options: ProbeOptions) -> bytes:
    target = (url.path or "/") + (f"?{url.query}" if url.query else "")
    lines = [
        f"GET {target} HTTP/1.1",
        f"Host: {url.netloc}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
        f"User-Agent: {user_agent()}",
    ]
    if options.origin:
        lines.append(f"Origin: {options.origin}")
    if options.subprotocols:
        lines.append(f"Sec-WebSocket-Protocol: {', '.join(options.subprotocols)}")
    lines += [f"{name}: {value}" for name, value in options.headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class HandshakeRefused(Exception):
    """The server answered the upgrade with something else than a valid 101."""


class LoadConnection(asyncio.Protocol):
    """One connection of the load: handshake, then send, wait for a reply, repeat."""

    def __init__(self, request: bytes, key: str, frame: bytes, stats: LoadStats) -> None:
        self.request = request
        self.accept = base64.b64encode(hashlib.sha1(key.encode() + _GUID).digest()).decode()
        self.frame = frame
        self.stats = stats
        self.buffer = b""
        self.open: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.reply: asyncio.Future[float] | None = None
        self.sent_at = 0.0
        self.transport: asyncio.Transport | None = None
        self.closed = False

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer + data
        if not self.open.done():
            head, found, buffer = buffer.partition(b"\r\n\r\n")
            if not found:
                self.buffer = head
                return
            self._check_handshake(head)
            if not self.open.done() or self.open.exception() is not None:
                return
        self.buffer = self._frames(buffer)

    def _check_handshake(self, head: bytes) -> None:
        status_line, _, rest = head.partition(b"\r\n")
        parts = status_line.split(b" ", 2)
        status = parts[1].decode("latin-1") if len(parts) > 1 else "?"
        if status != "101":
            self.open.set_exception(HandshakeRefused(f"handshake refused: HTTP {status}"))
            return
        headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(b":") for line in rest.split(b"\r\n"))
        }
        if headers.get(b"sec-websocket-accept", b"").decode("latin-1") != self.accept:
            self.open.set_exception(HandshakeRefused("handshake answer has a wrong accept key"))
            return
        self.open.set_result(None)

    def _frames(self, buffer: bytes) -> bytes:
        """Consume every whole server frame in ``buffer``; return what is left."""
        while len(buffer) >= 2:
            length, start = buffer[1] & 0x7F, 2
            if length == 126:
                if len(buffer) < 4:
                    break
                length, start = int.from_bytes(buffer[2:4], "big"), 4
            elif length == 127:
                if len(buffer) < 10:
                    break
                length, start = int.from_bytes(buffer[2:10], "big"), 10
            if len(buffer) < start + length:
                break
            fin, opcode = buffer[0] & 0x80, buffer[0] & 0x0F
            payload = buffer[start : start + length]
            buffer = buffer[start + length :]
            if opcode == 0x8:
                code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
                self._closed_by_server(code)
                break
            if opcode == 0x9 and self.transport is not None:  # ping: pong with its payload
                self.transport.write(_frame(0xA, payload, os.urandom(4)))
            elif opcode in (0x0, 0x1, 0x2) and fin:
                self.stats.received += 1
                if self.reply is not None and not self.reply.done():
                    self.reply.set_result(time.perf_counter() - self.sent_at)
        return buffer

    def _closed_by_server(self, code: int) -> None:
        self.stats.close_codes[code] += 1
        self.closed = True
        if self.transport is not None:
            self.transport.write(_frame(0x8, code.to_bytes(2, "big"), os.urandom(4)))
            self.transport.close()
        if self.reply is not None and not self.reply.done():
            self.reply.set_exception(ConnectionError(f"closed by the server ({code})"))

    def send(self) -> asyncio.Future[float]:
        """Send the message; the future is the reply's latency in seconds."""
        assert self.transport is not None
        self.reply = asyncio.get_running_loop().create_future()
        self.sent_at = time.perf_counter()
        self.transport.write(self.frame)
        self.stats.sent += 1
        return self.reply

    def close(self) -> None:
        if self.closed or self.transport is None:
            return
        self.closed = True
        self.stats.close_codes[1000] += 1
        self.transport.write(_frame(0x8, (1000).to_bytes(2, "big"), os.urandom(4)))
        self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.open.done():
            self.open.set_exception(HandshakeRefused("the server closed before the handshake"))
        if self.open.exception() is not None:
            return  # never opened: counted as an error, not as a close
        if not self.closed:
            self.closed = True
            self.stats.close_codes[1006] += 1
        if self.reply is not None and not self.reply.done():
            self.reply.set_exception(ConnectionError("the connection dropped"))


@dataclass
class LoadStats:
    """What a load run counted; :meth:`summary` is what ``--json`` prints."""

    url: str
    clients: int
    duration: float
    opened: int = 0
    sent: int = 0
    received: int = 0
    latencies: list[float] = field(default_factory=list)
    close_codes: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    elapsed: float = 0.0

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.latencies)

        def percentile(p: float) -> float | None:
            if not ordered:
                return None
            rank = min(len(ordered) - 1, math.ceil(p * len(ordered)) - 1)  # nearest rank
            return round(ordered[rank] * 1000, 3)

        return {
            "url": self.url,
            "clients": self.clients,
            "opened": self.opened,
            "seconds": round(self.elapsed, 3),
            "sent": self.sent,
            "received": self.received,
            "replies": len(ordered),
            "messages_per_second": round(len(ordered) / self.elapsed, 1) if self.elapsed else 0.0,
            "latency_ms": {
                "p50": percentile(0.50),
                "p90": percentile(0.90),
                "p99": percentile(0.99),
                "max": percentile(1.0),
            },
            "close_codes": {str(code): count for code, count in sorted(self.close_codes.items())},
            "errors": dict(self.errors),
        }

    @property
    def clean(self) -> bool:
        """Every connection opened, answered to the end and closed by us with 1000."""
        return self.opened == self.clients and not self.errors and set(self.close_codes) <= {1000}


async def _open(
    options: ProbeOptions, payload: bytes, opcode: int, stats: LoadStats
) -> LoadConnection | None:
    url = urllib.parse.urlsplit(options.url)
    secure = url.scheme == "wss"
    context = tls_context(options)
    key = base64.b64encode(os.urandom(16)).decode()
    frame = _frame(opcode, payload, os.urandom(4))  # PERF: masked once, sent as it is
    loop = asyncio.get_running_loop()
    connection = LoadConnection(handshake_request(url, key, options), key, frame, stats)
    try:
        await asyncio.wait_for(
            loop.create_connection(
                lambda: connection,
                url.hostname or "127.0.0.1",
                url.port or (443 if secure else 80),
                ssl=context,
            ),
            options.connect_timeout,
        )
        await asyncio.wait_for(connection.open, options.connect_timeout)
    except HandshakeRefused as exc:  # (TimeoutError and OSError are explained below)
        stats.errors[str(exc)] += 1
        if connection.transport is not None:
            connection.transport.close()
        return None
    except Exception as exc:  # explained in the user's words, counted, never raised
        stats.errors[explain_connect_error(exc, options.url, options.connect_timeout).message] += 1
        return None
    stats.opened += 1
    return connection


async def _drive(connection: LoadConnection, interval: float, deadline: float) -> None:
    """Send, await the reply, repeat until ``deadline``; a reply that never comes is failed by
    :func:`run_load`'s drain timer (PERF: no ``wait_for`` task per message)."""
    stats = connection.stats
    next_send = time.perf_counter()
    while not connection.closed and time.perf_counter() < deadline:
        try:
            latency = await connection.send()
        except ConnectionError:
            return
        stats.latencies.append(latency)
        if interval:
            next_send += interval
            delay = next_send - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)


def _fail_waiting(connections: list[LoadConnection]) -> None:
    for connection in connections:
        reply = connection.reply
        if reply is not None and not reply.done():
            connection.stats.errors["no reply before the run ended"] += 1
            reply.set_exception(ConnectionError("no reply"))


async def run_load(
    options: ProbeOptions, *, clients: int, rate: float, duration: float, payload: str | bytes
) -> LoadStats:
    """Open ``clients`` connections, send ``payload`` at ``rate`` messages/s in all (0: as fast
    as replies come) for ``duration`` seconds, and count what happened."""
    stats = LoadStats(url=options.url, clients=clients, duration=duration)
    data, opcode = (payload, 0x2) if isinstance(payload, bytes) else (payload.encode(), 0x1)
    opened = await asyncio.gather(*(_open(options, data, opcode, stats) for _ in range(clients)))
    connections = [c for c in opened if c is not None]
    interval = clients / rate if rate else 0.0
    started = time.perf_counter()
    deadline = started + duration
    loop = asyncio.get_running_loop()
    drain = loop.call_later(duration + DRAIN_SECONDS, _fail_waiting, connections)
    await asyncio.gather(*(_drive(c, interval, deadline) for c in connections))
    drain.cancel()
    stats.elapsed = min(time.perf_counter(), deadline) - started
    for connection in connections:
        connection.close()
    await asyncio.sleep(0)  # let the close frames go out before the loop ends
    return stats


def run_loop(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` on uvloop when it is installed (uvicorn[standard] brings it), else asyncio:
    the client's own CPU per message is what limits how hard one core can push a server."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)
