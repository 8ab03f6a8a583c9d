"""The websocket template's page in headless Chromium: two tabs chat through a real server.

Needs Debian's `chromium` (README command 2 installs it through .ci/provision) and Playwright for
Python; the page is served by real uvicorn (ASGI) and granian (RSGI) processes from the generated
project, and by `velocipy run` (all three servers) for the reload test.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.cli.new.venvs import GeneratedProject, Virtualenv, venv_server_argv
from tests.support import CHROMIUM, CHROMIUM_ARGS, free_port, running, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.interop]

WAIT_MS = 10_000  # any single step in the page may take this long


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert shutil.which(CHROMIUM) or Path(CHROMIUM).exists(), (
        "Chromium is needed: apt-get install -y chromium"
    )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=WAIT_MS * 3
        )
        try:
            yield browser
        finally:
            browser.close()


def join(page: Page, url: str, name: str) -> None:
    page.goto(url, timeout=WAIT_MS)
    expect(page).to_have_title("websocket-demo", timeout=WAIT_MS)
    page.fill("#name", name)
    page.click("#join")
    expect(page.locator("#status")).to_contain_text(f"Connected as {name}", timeout=WAIT_MS)
    expect(page.locator("#message")).to_be_enabled(timeout=WAIT_MS)


@pytest.mark.parametrize("kind", ["uvicorn", "granian-rsgi"])
def test_two_tabs_chat_through_the_server(
    kind: str,
    browser: Browser,
    generated_project: Callable[[str], GeneratedProject],
    wheel_venv: Virtualenv,
) -> None:
    project = generated_project("websocket")
    port = free_port()
    argv = venv_server_argv(wheel_venv, kind, project.app_target, port)
    with running(argv, port=port, cwd=project.path, env=wheel_venv.env()) as server:
        context = browser.new_context()
        try:
            ada, bob = context.new_page(), context.new_page()
            join(ada, server.url + "/", "Ada")
            join(bob, server.url + "/", "Bob")
            expect(bob.locator("#status")).to_contain_text("2 online", timeout=WAIT_MS)
            expect(ada.locator("#log")).to_contain_text("Bob joined.", timeout=WAIT_MS)

            ada.fill("#message", "hello from the first tab")
            ada.press("#message", "Enter")

            bobs_line = bob.locator("#log li.message").last
            expect(bobs_line).to_have_text("Adahello from the first tab", timeout=WAIT_MS)
            expect(bobs_line.locator(".name")).to_have_text("Ada")
            expect(ada.locator("#log li.message").last).to_contain_text(
                "hello from the first tab", timeout=WAIT_MS
            )
            expect(ada.locator("#message")).to_have_value("")

            bob.close()
            expect(ada.locator("#log")).to_contain_text("Bob left.", timeout=WAIT_MS)
            expect(ada.locator("#status")).to_contain_text("1 online", timeout=WAIT_MS)
        finally:
            context.close()
        assert server.alive(), server.output()


RUN_SERVERS = {
    "uvicorn": ["--asgi"],
    "granian-rsgi": ["--rsgi"],
    "granian-asgi": ["--server", "granian", "--interface", "asgi"],
}


@pytest.mark.parametrize("kind", list(RUN_SERVERS))
def test_both_tabs_reconnect_by_themselves_when_velocipy_run_reloads(
    kind: str,
    browser: Browser,
    generated_project: Callable[[str], GeneratedProject],
    wheel_venv: Virtualenv,
) -> None:
    project = generated_project("websocket")
    port = free_port()
    argv = [wheel_venv.script("velocipy"), "run", *RUN_SERVERS[kind], "--port", str(port)]
    with running(argv, port=port, cwd=project.path, env=wheel_venv.env()) as server:
        context = browser.new_context()
        asked_for: list[str] = []
        context.on("request", lambda request: asked_for.append(request.url))
        try:
            ada, bob = context.new_page(), context.new_page()
            join(ada, server.url + "/", "Ada")
            join(bob, server.url + "/", "Bob")
            expect(ada.locator("#status")).to_contain_text("2 online", timeout=WAIT_MS)
            for page in (ada, bob):
                page.evaluate("window.sameDocument = true")  # gone if the page were reloaded

            main = project.path / project.package / "main.py"
            main.write_text(main.read_text() + "\n# a save during the test\n")
            assert wait_until(lambda: "reloaded in" in server.output(), timeout=20), server.output()

            for page, name in ((ada, "Ada"), (bob, "Bob")):
                log = page.locator("#log")
                # The dev proxy resumes the socket, but the new code refuses the single-use
                # ticket in its URL: the proxy closes it as a restart does (1012), and the page
                # reconnects with a fresh ticket.
                expect(log).to_contain_text(
                    "Disconnected (the server restarted); reconnecting", timeout=WAIT_MS
                )
                expect(log).to_contain_text(f"Reconnected as {name}.", timeout=WAIT_MS * 2)
                expect(page.locator("#status")).to_contain_text(
                    f"Connected as {name}", timeout=WAIT_MS
                )
                expect(page.locator("#message")).to_be_enabled(timeout=WAIT_MS)
                assert page.evaluate("window.sameDocument") is True
            expect(ada.locator("#status")).to_contain_text("2 online", timeout=WAIT_MS)

            ada.fill("#message", "still here after the reload")
            ada.press("#message", "Enter")
            expect(bob.locator("#log li.message").last).to_have_text(
                "Adastill here after the reload", timeout=WAIT_MS
            )
        finally:
            context.close()
        assert server.alive(), server.output()
    assert not [url for url in asked_for if url.endswith("/favicon.ico")]
