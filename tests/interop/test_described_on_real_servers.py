"""Dependencies, security, typed WebSocket messages and both documents on real servers.

The app (``apps/described.py``) is served by uvicorn, granian RSGI and granian ASGI; clients
are httpx and `websockets`. RSGI cannot carry close codes: there a rejected message ends the
connection with 1005 where ASGI servers send 1007.
"""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.support import REPO_ROOT, ServerProcess, wait_until

pytestmark = pytest.mark.interop
TIMEOUT = 10.0


@pytest.fixture
def server(serve: Any, server_kind: str) -> Iterator[ServerProcess]:
    with serve("tests.interop.apps.described:app", server_kind, REPO_ROOT) as process:
        yield process


def test_yield_teardown_after_the_response_and_on_error(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.url, timeout=TIMEOUT) as client:
        assert client.get("/work", params={"label": "a"}).json() == {"session": "a"}
        failed = client.get("/work", params={"label": "b", "fail": "true"})
        assert (failed.status_code, failed.json()) == (409, {"detail": "conflict"})
        assert client.get("/events").json() == [
            "open a",
            "close a",
            "open b",
            "rollback b after 409",
        ]


def test_bearer_guard(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.url, timeout=TIMEOUT) as client:
        refused = client.get("/private")
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == "Bearer"
        assert client.get("/private", headers={"authorization": "Bearer t"}).text == "secret"
    assert "Traceback" not in server.output()


def test_documents_are_served(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.url, timeout=TIMEOUT) as client:
        openapi = client.get("/openapi.json").json()
        validate(openapi)
        assert openapi["components"]["securitySchemes"] == {
            "HTTPBearer": {"type": "http", "scheme": "bearer"}
        }
        asyncapi = client.get("/asyncapi.json").json()
        assert asyncapi["channels"]["moves"]["address"] == "/moves/{game}"
        assert asyncapi["operations"]["moves_receive"]["action"] == "receive"
        assert client.get("/docs/swagger-ui-bundle.js").status_code == 200


def test_typed_messages_and_websocket_teardown(server: ServerProcess, server_kind: str) -> None:
    with connect(server.ws_url + "/moves/1?label=ws", open_timeout=TIMEOUT) as ws:
        ws.send('{"x": 1, "y": 2}')
        assert ws.recv(timeout=TIMEOUT) == "ws:1,2"
        ws.send('{"x": 1, "y": 9}')
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=TIMEOUT)
    assert closed.value.rcvd is not None
    if server_kind == "granian-rsgi":
        assert closed.value.rcvd.code == 1005
    else:
        assert closed.value.rcvd.code == 1007
        assert closed.value.rcvd.reason.startswith("invalid message: ")
    with httpx.Client(base_url=server.url, timeout=TIMEOUT) as client:
        # the teardown runs when the handler ends, just after the close frame went out
        def torn_down() -> bool:
            return bool(client.get("/events").json()[-2:] == ["open ws", "close ws"])

        assert wait_until(torn_down, timeout=TIMEOUT)
    assert "Traceback" not in server.output()
