"""A WebSocket server none of us wrote: the `websockets` library's own asyncio ``serve``.

Run as ``python echo_server.py PORT [CERTFILE KEYFILE]`` (with a certificate: wss://).
Paths choose the behaviour the probe tests need:

- ``/echo``: echo every text and binary message back unchanged.
- ``/inspect``: send one JSON text with the request path, headers and chosen subprotocol,
  then echo (the server picks ``chat.v2`` when the client offers it).
- ``/burst/N``: send N text messages ``message i`` right after the handshake, then wait.
- ``/close/CODE/REASON``: close with that code and reason after the first message.
- ``/drop``: cut the TCP connection without a close frame after the first message.
- ``/later``: echo; after the first message, also send ``late message`` a second later.
- ``/reject``: refuse the handshake with HTTP 403 and a text body.
- ``/silent``: accept and never send anything.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import sys
from http import HTTPStatus

from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol


def choose_subprotocol(
    connection: ServerConnection, offered: list[Subprotocol]
) -> Subprotocol | None:
    return Subprotocol("chat.v2") if "chat.v2" in offered else None


def refuse(connection: ServerConnection, request: Request) -> Response | None:
    if request.path == "/reject":
        return connection.respond(HTTPStatus.FORBIDDEN, "no entry: token missing\n")
    return None


async def echo(connection: ServerConnection) -> None:
    async for message in connection:
        await connection.send(message)


async def handler(connection: ServerConnection) -> None:
    assert connection.request is not None
    path = connection.request.path
    parts = path.strip("/").split("/")
    if parts[0] == "inspect":
        headers = {name.lower(): value for name, value in connection.request.headers.raw_items()}
        report = {"path": path, "headers": headers, "subprotocol": connection.subprotocol}
        await connection.send(json.dumps(report))
        await echo(connection)
    elif parts[0] == "burst":
        for index in range(int(parts[1])):
            await connection.send(f"message {index}")
        await connection.wait_closed()
    elif parts[0] == "close":
        await connection.recv()
        await connection.close(int(parts[1]), parts[2] if len(parts) > 2 else "")
    elif parts[0] == "drop":
        await connection.recv()
        connection.transport.abort()
    elif parts[0] == "later":
        first = await connection.recv()
        await connection.send(first)
        await asyncio.sleep(1.0)
        await connection.send("late message")
        await echo(connection)
    elif parts[0] == "silent":
        await connection.wait_closed()
    else:
        await echo(connection)


async def main(port: int, tls: ssl.SSLContext | None) -> None:
    async with serve(
        handler,
        "127.0.0.1",
        port,
        select_subprotocol=choose_subprotocol,
        process_request=refuse,
        ssl=tls,
    ) as server:
        await server.serve_forever()


if __name__ == "__main__":
    context = None
    if len(sys.argv) == 4:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(sys.argv[2], sys.argv[3])
    asyncio.run(main(int(sys.argv[1]), context))
