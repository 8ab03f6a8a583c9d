"""A browser's WebSocket survives reloads: headless Chromium against `velocipy run` (dev proxy)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.cli.run.devserver import DevProject
from tests.support import CHROMIUM, CHROMIUM_ARGS

pytestmark = [pytest.mark.browser, pytest.mark.interop, pytest.mark.slow]

WAIT_MS = 20_000
SAVES = 5

PAGE_APP = """\
from velocipy import VelociPy, WebSocket
from velocipy.responses import HTMLResponse

VERSION = "v__VERSION__"
app = VelociPy()

PAGE = '''<!doctype html><title>chat</title><script>
window.closes = []; window.replies = []; window.sent = 0;
const socket = new WebSocket(`ws://${location.host}/ws`);
socket.onclose = (event) => window.closes.push(event.code + " " + event.reason);
socket.onmessage = (event) => window.replies.push(event.data);
socket.onopen = () => setInterval(() => socket.send(String(window.sent++)), 50);
</script>'''


@app.get("/")
async def index() -> str:
    return VERSION


@app.get("/page")
async def page() -> HTMLResponse:
    return HTMLResponse(PAGE)


@app.websocket("/ws")
async def echo(ws: WebSocket) -> None:
    await ws.accept()
    async for text in ws.iter_text():
        await ws.send_text(f"{VERSION}|{text}")
"""


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


def write_version(project: DevProject, version: int) -> None:
    (project.root / "main.py").write_text(PAGE_APP.replace("__VERSION__", str(version)))


@pytest.mark.parametrize("interface", ["--asgi", "--rsgi"])
def test_page_websocket_sees_no_close_across_five_reloads(
    tmp_path: Path, interface: str, browser: Browser
) -> None:
    project = DevProject.create(tmp_path, interface)
    write_version(project, 0)
    with project.running():
        project.wait_for(200, "v0")
        page = browser.new_page()
        try:
            page.goto(f"http://127.0.0.1:{project.port}/page")
            for version in range(SAVES + 1):
                if version:
                    write_version(project, version)
                page.wait_for_function(
                    f"window.replies.some((reply) => reply.startsWith('v{version}|'))",
                    timeout=WAIT_MS,
                )
            sent = page.evaluate("window.sent")
            page.wait_for_function(f"window.replies.length >= {sent}", timeout=WAIT_MS)
            replies = page.evaluate("window.replies")
            closes = page.evaluate("window.closes")
        finally:
            page.close()
    assert closes == []
    # Every message answered, in order, by versions that only go up.
    assert [reply.split("|")[1] for reply in replies] == [str(n) for n in range(len(replies))]
    versions = [int(reply.split("|")[0][1:]) for reply in replies]
    assert versions == sorted(versions)
    assert set(versions) == set(range(SAVES + 1))
