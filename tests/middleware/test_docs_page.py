"""Every Python block of docs/middleware.md runs as written, on both protocols."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from tests.support import REPO_ROOT
from velocipy import VelociPy
from velocipy.testing import TestClient, WebSocketDenied

ClientFactory = Callable[..., TestClient]
PAGE = REPO_ROOT / "docs" / "middleware.md"
BLOCKS = re.findall(r"```python\n(.*?)```", PAGE.read_text(), re.DOTALL)


def test_the_page_has_blocks() -> None:
    assert len(BLOCKS) >= 10


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_block_runs_and_answers(index: int, client_for: ClientFactory) -> None:
    namespace: dict[str, object] = {"__name__": f"docs_middleware_{index}"}
    exec(compile(BLOCKS[index], f"{PAGE}:block{index}", "exec"), namespace)
    app = namespace["app"]
    assert isinstance(app, VelociPy)
    assert app._middleware, "every block on this page adds middleware"
    client = client_for(app, follow_redirects=False)
    if not any(route.kind == "http" for route in app.routes):  # the origin guard's block
        with client.websocket_connect("/live", headers={"origin": "https://app.example.com"}):
            pass
        with pytest.raises(WebSocketDenied) as denied:
            client.websocket_connect("/live", headers={"origin": "https://evil.example"})
        assert denied.value.status_code == 403
        return
    response = client.get("/", headers={"origin": "https://app.example.com"})
    assert response.status_code in (200, 308, 400), response.text


def test_examples_behave_as_the_page_says(client_for: ClientFactory) -> None:
    namespace: dict[str, object] = {}
    exec(BLOCKS[1], namespace)  # Timing + TicketRequired
    client = client_for(namespace["app"])
    assert "x-elapsed-ms" in client.get("/").headers
    with client.websocket_connect("/live?ticket=let-me-in") as session:
        assert session.receive_text() == "you are in"
