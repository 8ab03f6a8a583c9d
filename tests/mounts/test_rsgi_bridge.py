"""The RSGI bridge against mounted apps that misbehave: granian's worker must survive.

The in-process RSGI server raises ``WorkerCrash`` for every call that kills a real granian
worker (a status outside 100-999, accept twice, a close code before accept), so each test
here fails if the bridge passes such a call through.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tests.conftest import ClientFactory
from velocipy import VelociPy
from velocipy.testing import TestClient, WebSocketDenied


def mounted(asgi_app: Any) -> VelociPy:
    app = VelociPy()
    app.mount("/sub", asgi_app)
    return app


async def skip_lifespan(scope: dict[str, Any]) -> None:
    if scope["type"] == "lifespan":
        raise RuntimeError("no lifespan")


def rsgi_client(app: VelociPy) -> TestClient:
    return TestClient(app, interface="rsgi", raise_server_exceptions=False)


@pytest.mark.parametrize("status", [99, 100, 1000, "200"])
def test_a_status_granian_cannot_send_is_a_500(
    status: Any, caplog: pytest.LogCaptureFixture
) -> None:
    async def bad_status(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await skip_lifespan(scope)
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b"never"})

    with rsgi_client(mounted(bad_status)) as client:
        response = client.get("/sub/x")
        assert response.status_code == 500
        assert response.content == b""
        assert client.get("/sub/x").status_code == 500  # still serving
    assert f"ASGI status {status!r} is not a final HTTP status" in caplog.text


def test_no_answer_is_a_500() -> None:
    async def silent(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await skip_lifespan(scope)

    with rsgi_client(mounted(silent)) as client:
        assert client.get("/sub").status_code == 500


def test_a_body_in_parts_streams_and_a_second_start_is_refused(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def parts(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await skip_lifespan(scope)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for part in (b"one ", b"two ", b"three"):
            await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        await send({"type": "http.response.start", "status": 200, "headers": []})

    with rsgi_client(mounted(parts)) as client:
        response = client.get("/sub/stream")
        assert response.status_code == 200
        assert response.text == "one two three"
    assert "after the response was complete" in caplog.text


def test_a_websocket_accepted_twice_does_not_kill_the_worker(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def twice(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await skip_lifespan(scope)
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": "accepted"})
        await send({"type": "websocket.accept"})

    with rsgi_client(mounted(twice)) as client, client.websocket_connect("/sub") as ws:
        assert ws.receive_text() == "accepted"
    assert "websocket.accept on a WebSocket that is accepted" in caplog.text


@pytest.mark.parametrize("code", [1000, 1008, 4001])
def test_a_close_code_before_accept_is_a_403(code: int) -> None:
    async def refuse(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await skip_lifespan(scope)
        await receive()
        await send({"type": "websocket.close", "code": code})

    with rsgi_client(mounted(refuse)) as client:
        with pytest.raises(WebSocketDenied) as denied:
            with client.websocket_connect("/sub"):
                pass
        assert denied.value.status_code == 403


def test_client_frames_and_close_reach_the_app_as_asgi_messages() -> None:
    seen: list[dict[str, Any]] = []

    async def record(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await skip_lifespan(scope)
        seen.append(await receive())
        await send({"type": "websocket.accept"})
        while True:
            message = await receive()
            seen.append(message)
            if message["type"] == "websocket.disconnect":
                return
            await send({"type": "websocket.send", "bytes": b"got"})

    with rsgi_client(mounted(record)) as client:
        with client.websocket_connect("/sub") as ws:
            ws.send_text("text")
            assert ws.receive_bytes() == b"got"
            ws.send_bytes(b"\x00bin")
            assert ws.receive_bytes() == b"got"
            ws.close(4001)
    assert seen == [
        {"type": "websocket.connect"},
        {"type": "websocket.receive", "text": "text"},
        {"type": "websocket.receive", "bytes": b"\x00bin"},
        {"type": "websocket.disconnect", "code": 1005},  # RSGI does not carry the code
    ]


def test_the_subprotocol_is_echoed_on_asgi_and_dropped_with_a_warning_on_rsgi(
    make_client: ClientFactory, protocol: str, caplog: pytest.LogCaptureFixture
) -> None:
    async def chooses(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await skip_lifespan(scope)
        await receive()
        assert scope["subprotocols"] == ["graphql-transport-ws", "other"]
        await send({"type": "websocket.accept", "subprotocol": "graphql-transport-ws"})
        await send({"type": "websocket.send", "text": "hi"})

    caplog.set_level(logging.WARNING, "velocipy")
    with make_client(mounted(chooses)) as client:
        offered = ["graphql-transport-ws", "other"]
        with client.websocket_connect("/sub", subprotocols=offered) as ws:
            assert ws.receive_text() == "hi"
            expected = None if protocol == "rsgi" else "graphql-transport-ws"
            assert ws.subprotocol == expected
    if protocol == "rsgi":
        assert "RSGI cannot send Sec-WebSocket-Protocol" in caplog.text
