"""A finished WebSocket must not hold the server's connection open (regression, granian RSGI).

granian completes a WebSocket connection only when its transport object is released. VelociPy
used to keep it reachable from the stored disconnect exception (and from any set of sockets
the app keeps), so after a client's close frame the TCP connection stayed open until the
client gave up waiting. The client here waits far longer than the test allows, so a server
that never finishes the close shows up as a timeout, not as a slow pass.
"""

from __future__ import annotations

import asyncio

import pytest
import websockets

from tests.support import REPO_ROOT

pytestmark = pytest.mark.interop


def test_client_close_completes_while_the_app_keeps_the_socket(serve, server_kind: str) -> None:
    async def talk(url: str) -> int | None:
        client = await websockets.connect(url, close_timeout=60)
        await client.send("ping")
        assert await client.recv() == "ping"
        await asyncio.wait_for(client.close(), timeout=8)
        return client.close_code

    with serve("tests.interop.apps.release:app", server_kind, REPO_ROOT) as server:
        for _ in range(2):
            # Every server answers a client's close frame by echoing its code.
            assert asyncio.run(talk(f"{server.ws_url}/ws")) == 1000
        assert server.alive()
