"""The websocket template's app refuses handshakes from pages on other origins (both protocols)."""

from __future__ import annotations

import importlib
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import REPO_ROOT
from velocipy.testing import TestClient, WebSocketDenied

ClientFactory = Callable[..., TestClient]
PACKAGE_TEMPLATE = REPO_ROOT / "templates" / "websocket" / "{{package}}"


@pytest.fixture
def create_app(tmp_path: Path) -> Iterator[Callable[[], Any]]:
    """The template's package copied as ``guarded_chat`` (its Python files are not templated)."""
    shutil.copytree(PACKAGE_TEMPLATE, tmp_path / "guarded_chat")
    (tmp_path / "guarded_chat" / "static" / "index.html").write_text("<!doctype html>")
    (tmp_path / "guarded_chat" / "__init__.py").write_text("")
    sys.path.insert(0, str(tmp_path))
    try:
        yield importlib.import_module("guarded_chat.main").create_app
    finally:
        sys.path.remove(str(tmp_path))
        for name in [n for n in sys.modules if n.startswith("guarded_chat")]:
            del sys.modules[name]


def test_own_origin_is_accepted_and_foreign_refused(
    create_app: Callable[[], Any], make_client: ClientFactory
) -> None:
    client = make_client(create_app())

    def ticket(name: str) -> str:
        return str(client.post("/ticket", json={"name": name}).json()["ticket"])

    own = {"origin": "http://testserver"}
    with client.websocket_connect(f"/ws?ticket={ticket('Ada')}", headers=own) as ada:
        assert ada.receive_json()["type"] == "welcome"
    with pytest.raises(WebSocketDenied) as denied:
        client.websocket_connect(
            f"/ws?ticket={ticket('Eve')}", headers={"origin": "https://evil.example"}
        )
    assert denied.value.status_code == 403
