"""Headless Chromium against the three real servers: a page styled and scripted from the
static mount, and an ``EventSource`` that receives events and reconnects with Last-Event-ID.

Needs Debian's ``chromium`` (``.ci/provision``) and Playwright for Python.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from tests.interop.files_tree import build_tree, serve_files
from tests.support import CHROMIUM, CHROMIUM_ARGS, SERVERS, ServerProcess

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


@pytest.fixture(scope="module", params=SERVERS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    root = build_tree(tmp_path_factory.mktemp(f"browser-{request.param}"))
    with serve_files(str(request.param), root) as process:
        yield process


def test_page_loads_its_css_and_js_from_the_mount(browser: Browser, server: ServerProcess) -> None:
    page = browser.new_page()
    try:
        loaded: list[str] = []
        page.on("response", lambda response: loaded.append(f"{response.status} {response.url}"))
        page.goto(server.url + "/site/", timeout=WAIT_MS)
        expect(page).to_have_title("mounted page", timeout=WAIT_MS)
        expect(page.locator("#scripted")).to_have_text("script ran from the mount", timeout=WAIT_MS)
        expect(page.locator("#styled")).to_have_css("color", "rgb(200, 10, 20)", timeout=WAIT_MS)
        assert f"200 {server.url}/static/app.css" in loaded
        assert f"200 {server.url}/static/app.js" in loaded
    finally:
        page.close()


def test_event_source_receives_and_resumes_with_last_event_id(
    browser: Browser, server: ServerProcess
) -> None:
    page = browser.new_page()
    try:
        page.goto(server.url + "/static/sse.html", timeout=WAIT_MS)
        expect(page.locator("#done")).to_have_text("done", timeout=WAIT_MS)
        lines = page.locator("#log").inner_text().split()
        # The server ends each stream after three events; the browser reconnects (retry: 200)
        # sending Last-Event-ID: 3 and the server resumes from 4.
        assert lines[:6] == ["1:1:null", "2:2:null", "3:3:null", "4:4:3", "5:5:3", "6:6:3"]
    finally:
        page.close()
