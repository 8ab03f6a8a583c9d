"""CORS and the WebSocket origin guard as headless Chromium enforces them.

A page served from one origin (``python -m http.server`` on one port) calls the API of
``tests/interop/apps/middleware_app.py`` on another port, served by real uvicorn, granian RSGI
and granian ASGI. A second page server on a third port is a foreign origin.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    REPO_ROOT,
    SERVERS,
    ServerProcess,
    free_port,
    running,
    server_argv,
)

pytestmark = [pytest.mark.browser, pytest.mark.interop, pytest.mark.slow]

WAIT_MS = 10_000
PAGE = "<!doctype html><title>cors page</title><p>calls another origin</p>"

# Each returns a small description of what the page could see; failures are the browser's.
FETCH = """async ([url, init]) => {
  try {
    const response = await fetch(url, init);
    return {ok: true, status: response.status, text: await response.text(),
            count: response.headers.get("x-request-count"),
            hidden: response.headers.get("x-hidden")};
  } catch (error) {
    return {ok: false, error: String(error)};
  }
}"""
OPEN_SOCKET = """(url) => new Promise((resolve) => {
  const socket = new WebSocket(url);
  const timer = setTimeout(() => resolve({opened: false, why: "timeout"}), 8000);
  socket.onmessage = (event) => { clearTimeout(timer); socket.close();
                                  resolve({opened: true, first: event.data}); };
  socket.onerror = () => { clearTimeout(timer); resolve({opened: false, why: "error"}); };
})"""


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


@contextlib.contextmanager
def page_server(directory: Path) -> Iterator[ServerProcess]:
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "http.server",
        str(port),
        "--bind",
        "127.0.0.1",
        "--directory",
        str(directory),
    ]
    with running(argv, port=port, cwd=directory) as server:
        yield server


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(allowed page origin, foreign page origin), each a real static server."""
    directory = tmp_path_factory.mktemp("pages")
    (directory / "page.html").write_text(PAGE)
    with page_server(directory) as allowed, page_server(directory) as foreign:
        yield allowed.url, foreign.url


def open_page(browser: Browser, origin: str) -> Page:
    page = browser.new_context().new_page()
    page.goto(origin + "/page.html", timeout=WAIT_MS)
    return page


def fetch(page: Page, url: str, **init: Any) -> dict[str, Any]:
    result: dict[str, Any] = page.evaluate(FETCH, [url, init])
    return result


@pytest.mark.parametrize("kind", SERVERS)
def test_browser_enforces_cors_and_the_origin_guard(
    kind: str, browser: Browser, pages: tuple[str, str]
) -> None:
    allowed_origin, foreign_origin = pages
    port = free_port()
    argv = server_argv(kind, "tests.interop.apps.middleware_app:app", port)
    env = {"MIDDLEWARE_PAGE_ORIGIN": allowed_origin}
    with running(argv, port=port, cwd=REPO_ROOT, env=env) as api:
        page = open_page(browser, allowed_origin)
        try:
            # A simple GET: readable, with only the exposed header visible.
            plain = fetch(page, api.url + "/api/data")
            assert plain["ok"], plain
            assert plain["text"] == "data visit 1"
            assert (plain["count"], plain["hidden"]) == ("1", None)

            # Credentials: the session cookie set by one call is sent with the next.
            login = fetch(page, api.url + "/login/ada", method="POST", credentials="include")
            assert login["ok"], login
            me = fetch(page, api.url + "/me", credentials="include")
            assert me["text"] == '{"user":"ada"}', me
            without = fetch(page, api.url + "/me")  # no credentials: no cookie sent
            assert without["text"] == "{}", without

            # A custom header needs a preflight; an allowed one passes, another is blocked.
            put = fetch(page, api.url + "/api/data", method="PUT", headers={"x-api-key": "k1"})
            assert put["text"] == '{"key":"k1"}', put
            blocked = fetch(
                page, api.url + "/api/data", method="PUT", headers={"x-not-allowed": "1"}
            )
            assert not blocked["ok"], blocked
            assert "Failed to fetch" in blocked["error"], blocked

            # The WebSocket from the allowed page is accepted (and carries the session).
            opened = page.evaluate(OPEN_SOCKET, api.ws_url + "/ws")
            assert opened["opened"], opened
            assert '"user":"ada"' in opened["first"]
        finally:
            page.context.close()

        foreign = open_page(browser, foreign_origin)
        try:
            refused = fetch(foreign, api.url + "/api/data")
            assert not refused["ok"], refused
            assert "Failed to fetch" in refused["error"], refused
            socket = foreign.evaluate(OPEN_SOCKET, api.ws_url + "/ws")
            assert socket == {"opened": False, "why": "error"}
        finally:
            foreign.context.close()
        assert "Traceback" not in api.output(), api.output()
