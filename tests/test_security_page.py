"""docs/security.md: its code blocks run unchanged and do what the page says."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

PAGE = Path(__file__).resolve().parent.parent / "docs" / "security.md"


def page_apps() -> list[Any]:
    blocks = re.findall(r"```python\n(.*?)```", PAGE.read_text(), re.DOTALL)
    assert len(blocks) == 2
    apps = []
    for block in blocks:
        namespace: dict[str, Any] = {}
        exec(compile(block, str(PAGE), "exec"), namespace)
        apps.append(namespace["app"])
    return apps


def test_limits_block(client_for: Any) -> None:
    limits_app, _ = page_apps()
    assert limits_app.ws_max_message_size == 64 * 1024
    client = client_for(limits_app)
    assert client.get("/").json() == {"max_body_size": 2 * 1024 * 1024}


def test_redirect_block(client_for: Any) -> None:
    _, redirect_app = page_apps()
    client = client_for(redirect_app, follow_redirects=False)
    kept = client.post("/login", params={"next": "/account"})
    assert (kept.status_code, kept.headers["location"]) == (303, "/account")
    refused = client.post("/login", params={"next": "//evil.example"})
    assert (refused.status_code, refused.headers["location"]) == (303, "/home")
