"""The api template's description, checked against real servers.

The template is rendered as `velocipy new --template api` would, then served by real uvicorn
(ASGI) and real granian (RSGI): its /openapi.json validates with openapi-spec-validator,
Schemathesis' property-based tests find no server error and no response that breaks the
schema, and headless Chromium renders /docs with every request outside the app's origin
refused (the viewer's files come from the installed package, not from a CDN).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate

from tests.support import CHROMIUM, CHROMIUM_ARGS, ServerProcess, executable
from velocipy_cli.scaffold import ProjectSpec, find_template, render_template

pytestmark = [pytest.mark.interop, pytest.mark.slow]

REAL_SERVERS = ["uvicorn", "granian-rsgi"]
MAX_EXAMPLES = 15  # per operation and phase: bounded so the suite stays fast
WAIT_MS = 15_000


@pytest.fixture(scope="module")
def api_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("api-project")
    template = find_template("api")
    spec = ProjectSpec("api-demo", "api_demo", template, target)
    render_template(template, target, spec.context())
    return target


@pytest.fixture(params=REAL_SERVERS)
def api_server(request: pytest.FixtureRequest, serve: Any, api_project: Path) -> Iterator[Any]:
    with serve("api_demo.main:app", request.param, api_project) as server:
        yield server


def _get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.status, response.read()


def test_the_served_document_is_valid_openapi(api_server: ServerProcess) -> None:
    status, body = _get(api_server.url + "/openapi.json")
    assert status == 200
    document = json.loads(body)
    validate(document)
    assert set(document["paths"]) == {
        "/api/items",
        "/api/items/{item_id}",
        "/api/items/{item_id}/image",
        "/health",
        "/me",
        "/token",
    }
    writes = document["paths"]["/api/items"]["post"]
    assert writes["security"] == [{"OAuth2PasswordBearer": ["items:write"]}]
    upload = document["paths"]["/api/items/{item_id}/image"]["put"]["requestBody"]
    assert upload["content"]["multipart/form-data"]["schema"]["properties"]["image"] == {
        "type": "string",
        "format": "binary",
    }


def test_schemathesis_finds_no_server_error_and_no_schema_violation(
    api_server: ServerProcess, tmp_path: Path
) -> None:
    argv = [
        executable("schemathesis"),
        "run",
        api_server.url + "/openapi.json",
        "--checks",
        "not_a_server_error,status_code_conformance,content_type_conformance,"
        "response_schema_conformance",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        "14",
        "--no-color",
    ]
    result = subprocess.run(
        argv, capture_output=True, text=True, timeout=300, cwd=tmp_path, check=False
    )
    report = result.stdout + result.stderr
    assert result.returncode == 0, report + "\n--- server log ---\n" + api_server.output()
    # Every generated case passed; warnings about test data (ids that do not exist yet, uploads
    # that are not images) may remain: they say where cases were refused, not that one failed.
    counts = re.search(r"(\d+) generated, (\d+) passed", report)
    assert counts is not None, report
    assert counts.group(1) == counts.group(2), report
    assert "failed" not in report.split("Test cases:")[-1], report
    assert "Traceback" not in api_server.output()


def test_chromium_renders_docs_offline(api_server: ServerProcess, tmp_path: Path) -> None:
    from playwright.sync_api import Route, expect, sync_playwright

    assert shutil.which(CHROMIUM) or Path(CHROMIUM).exists(), "apt-get install -y chromium"
    origin = api_server.url
    refused: list[str] = []

    def only_the_app(route: Route) -> None:
        url = route.request.url
        if url.startswith((origin + "/", "data:")):
            route.continue_()
        else:
            refused.append(url)
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=WAIT_MS * 2
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1100})
            page.route("**/*", only_the_app)
            page.goto(origin + "/docs", timeout=WAIT_MS)
            operations = page.locator(".opblock")
            expect(operations).to_have_count(10, timeout=WAIT_MS)
            expect(page.locator(".opblock-summary-path").first).to_be_visible(timeout=WAIT_MS)
            expect(page.locator(".info .title")).to_contain_text("Items API", timeout=WAIT_MS)
            summaries = page.locator(".opblock-summary-description").all_inner_texts()
            assert "Create an item from the JSON body; answers 201 with the stored item." in (
                summaries
            )
            screenshot = tmp_path / f"docs-{api_server.port}.png"
            page.screenshot(path=str(screenshot), full_page=True)
            assert screenshot.stat().st_size > 10_000

            page.goto(origin + "/redoc", timeout=WAIT_MS)
            expect(page.locator("h1").first).to_contain_text("Items API", timeout=WAIT_MS)
        finally:
            browser.close()
    assert refused == [], f"the page asked for files from another origin: {refused}"
