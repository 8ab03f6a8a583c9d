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
# (status of the block's "<!-- request: GET / STATUS -->" note, or "" for 200, source)
NOTED_BLOCKS = re.findall(
    r"(?:<!-- request: GET / (\d{3}) -->\n)?```python\n(.*?)```", PAGE.read_text(), re.DOTALL
)
BLOCKS = [source for _, source in NOTED_BLOCKS]


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
    expected = int(NOTED_BLOCKS[index][0] or 200)  # 400: the test client's Host is not allowed
    assert response.status_code == expected, response.text
    if expected == 400:
        assert response.text == "Invalid host header"
        allowed = client.get("http://example.com/", headers={"origin": "https://app.example.com"})
        assert allowed.status_code == 200, allowed.text
    elif expected == 308:
        assert response.headers["location"] == "https://testserver/"


def test_examples_behave_as_the_page_says(client_for: ClientFactory) -> None:
    namespace: dict[str, object] = {}
    exec(BLOCKS[1], namespace)  # Timing + TicketRequired
    client = client_for(namespace["app"])
    assert "x-elapsed-ms" in client.get("/").headers
    with client.websocket_connect("/live?ticket=let-me-in") as session:
        assert session.receive_text() == "you are in"
