"""The Python blocks of docs/scaling.md run as written (in process, on ASGI and RSGI)."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path
from typing import Any

import pytest

from tests.channels.redis_server import RedisServer

PAGE = Path(__file__).resolve().parents[2] / "docs" / "scaling.md"
BLOCKS = re.findall(r"```python\n(.*?)```", PAGE.read_text(), re.S)


def run_block(index: int) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": f"scaling_block_{index}"}
    exec(compile(BLOCKS[index], f"docs/scaling.md block {index}", "exec"), namespace)
    return namespace


def test_the_page_has_the_blocks_these_tests_expect() -> None:
    assert len(BLOCKS) == 5


def test_linger_block_sends_every_message_at_once() -> None:
    import asyncio

    from tests.channels.test_channels import RecordingSocket

    channels = run_block(4)["channels"]

    async def scenario() -> None:
        async with channels:
            socket = RecordingSocket()
            await channels.join(socket, "news")
            for n in range(3):  # a stream, and still no message is held back
                await channels.publish("news", f"m{n}")
                assert socket.sent == [f"m{k}" for k in range(n + 1)]

    assert channels.linger == 0
    asyncio.run(scenario())


def test_rooms_block(make_client: Any) -> None:
    app = run_block(0)["app"]
    with make_client(app) as client:
        with (
            client.websocket_connect("/rooms/a") as ada,
            client.websocket_connect("/rooms/a") as bob,
        ):
            ada.send_text("hi bob")
            assert bob.receive_text() == "hi bob"
            bob.send_text("hi ada")
            assert ada.receive_text() == "hi ada"  # ada's own message never came back


def test_redis_block(make_client: Any, redis_server: RedisServer, monkeypatch: Any) -> None:
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    app = run_block(1)["app"]
    with make_client(app) as client, client.websocket_connect("/news") as reader:
        assert client.post("/announce?text=hello").json() == {"published": True}
        assert reader.receive_json() == {"announcement": "hello"}


def test_subscribe_block() -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        run_block(2)
    assert out.getvalue().splitlines() == ["orders {'id': 1}", "refunds order 1"]


def test_history_block(make_client: Any) -> None:
    app = run_block(3)["app"]
    with make_client(app) as client:
        with client.websocket_connect("/events") as first:
            for text in ("a", "b", "c"):
                assert client.post(f"/events?text={text}").json() == {"published": True}
            seen = [first.receive_json() for _ in range(3)]
        assert [event["text"] for event in seen] == ["a", "b", "c"]
        client.post("/events?text=d")
        with client.websocket_connect(f"/events?after={seen[1]['id']}") as back:
            assert [back.receive_json()["text"] for _ in range(2)] == ["c", "d"]


@pytest.mark.parametrize("block", range(4))
def test_blocks_import_only_what_they_use(block: int) -> None:
    assert "import" in BLOCKS[block].split("\n", 1)[0]  # complete: each starts with its imports
