"""``/asyncapi`` renders in headless Chromium with every request outside the app's origin
blocked, served by uvicorn, granian RSGI and granian ASGI."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Route, sync_playwright

from tests.support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    REPO_ROOT,
    SERVERS,
    free_port,
    running,
    server_argv,
)

pytestmark = [pytest.mark.browser, pytest.mark.interop, pytest.mark.slow]

WAIT_MS = 10_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert shutil.which(CHROMIUM) or Path(CHROMIUM).exists(), "apt-get install -y chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=WAIT_MS * 3
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.mark.parametrize("server_kind", SERVERS)
def test_asyncapi_page_renders_offline(browser: Browser, server_kind: str) -> None:
    port = free_port()
    argv = server_argv(server_kind, "tests.interop.apps.asyncapi_game:app", port)
    origin = f"http://127.0.0.1:{port}"
    with running(argv, port=port, cwd=REPO_ROOT):
        page = browser.new_page()
        requested: list[str] = []
        blocked: list[str] = []

        def only_the_app(route: Route) -> None:
            url = route.request.url
            requested.append(url)
            if url.startswith(origin + "/"):
                route.continue_()
            else:
                blocked.append(url)
                route.abort()

        page.route("**/*", only_the_app)
        errors: list[str] = []
        page.on(
            "console",
            lambda message: errors.append(message.text) if message.type == "error" else None,
        )
        try:
            response = page.goto(f"{origin}/asyncapi", timeout=WAIT_MS)
            assert response is not None
            assert response.status == 200
            assert "default-src 'self'" in response.headers["content-security-policy"]
            text = page.inner_text("body")
            channel = page.inner_text("section.channel")
        finally:
            page.close()
    assert requested == [f"{origin}/asyncapi"]  # the page needs nothing else
    assert blocked == []
    assert errors == []
    assert "Games 2.1" in text
    assert "/games/{game_id}" in channel
    assert "Play a game: send moves, receive every move played." in channel
    assert "player\tquery" in channel  # the query parameter it reads
    send_part, _, receive_part = channel.partition("Clients receive")
    assert "Clients send" in send_part
    assert "Move - A move on the 3x3 board." in send_part
    assert '"x": 0' in send_part  # the example
    assert "Played - A move someone played." in receive_part
    assert '"player": ""' in receive_part
    assert '"maximum": 2' in text  # the schemas section
