"""Every Python block in docs/ runs on its own: it imports, builds its app, and answers a request.

A block that fails here is incomplete (a missing import, a name defined in another block) or
wrong. New pages are covered automatically: the blocks are collected from docs/**/*.md.

Each request has ONE exact expected answer: the status of the block's
``<!-- request: METHOD PATH STATUS -->`` note when the page gives one; otherwise the status
``ANSWERS`` lists for the page's sample request, and 200 (an accepted handshake for a
WebSocket-only app) when it lists none. A block that starts answering 404 or 422 fails.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from tests.docs.docs_blocks import (
    DOCS,
    DocBlock,
    apps_in,
    doc_blocks,
    import_block,
    page_files,
    sample_request,
)
from velocipy.testing import TestClient, WebSocketDenied

BLOCKS = list(doc_blocks())

#: "page METHOD path" of a sample request -> its answer, where it is not 200 (an accepted
#: handshake for WebSockets). The sample request has no body, no credentials and sample path
#: values, so these are the refusals the page's own code gives such a request.
ANSWERS = {
    # credentials the request does not carry
    "authentication.md GET /me": 401,
    "authentication.md GET /reports": 401,
    "endpoints.md GET /items": 401,
    "authentication.md POST /ticket": 401,
    "dependencies.md GET /me": 401,
    # a guard that refuses the anonymous caller
    "authentication.md GET /admin/stats": 403,
    "dependencies.md GET /admin/stats": 403,
    "problem-details.md POST /purchases": 403,
    "testing.md WS /rooms/1": 403,
    # a required form, body or query parameter missing, or "sample" where an int is declared
    "authentication.md POST /token": 422,
    "forms.md POST /login": 422,
    "forms.md POST /signup": 422,
    "forms.md POST /avatar": 422,
    "forms.md POST /videos": 422,
    "mistakes.md POST /items": 422,
    "observability.md GET /items/sample": 422,
    "observability.md GET /users/sample": 422,
    "requests-and-responses.md GET /search": 422,
    "requests-and-responses.md POST /items": 422,
    "routing.md GET /users/sample": 422,
    "scaling.md POST /announce": 422,
    "scaling.md POST /events": 422,
    "testing.md POST /upload": 422,
    # apps without routes (a settings or handler example), and an unknown item by design
    "json.md GET /": 404,
    "openapi.md GET /": 404,
    "requests-and-responses.md GET /": 404,
    "requests-and-responses.md GET /stock/sample": 404,
    # what the route itself answers
    "requests-and-responses.md GET /created": 201,
    "security.md POST /login": 303,
}


def test_the_docs_have_python_blocks() -> None:
    assert len(BLOCKS) >= 30
    assert {block.page.name for block in BLOCKS} >= {"index.md", "websockets.md", "testing.md"}


@pytest.mark.parametrize("block", BLOCKS, ids=lambda block: block.id)
def test_the_block_runs_on_its_own(block: DocBlock, tmp_path: Path, protocol: str) -> None:
    with page_files(block, tmp_path):
        module = import_block(block, tmp_path)
        exercise(module, block, protocol)


def expected_request(block: DocBlock, app: object) -> tuple[str, str, str, int]:
    """(kind, method, path, status) of the request ``block``'s app gets, and its one answer."""
    if block.request is not None:
        method, path, status = block.request
        return "http", method, path, status
    kind, method, path = sample_request(app)
    key = f"{block.page.relative_to(DOCS).as_posix()} {method if kind == 'http' else 'WS'} {path}"
    return kind, method, path, ANSWERS.get(key, 200)


def exercise(module: object, block: DocBlock, protocol: str) -> None:
    for app in apps_in(module):
        with TestClient(app, interface=protocol) as client:
            kind, method, path, status = expected_request(block, app)
            if kind == "http":
                response = client.request(method, path, follow_redirects=False)  # its own
                assert response.status_code == status, (block.id, method, path, response.text)
            else:  # a WebSocket-only app: open its first socket and close it again
                try:
                    with client.websocket_connect(path):
                        answer = 200
                except WebSocketDenied as denied:
                    answer = denied.status_code
                assert answer == status, (block.id, path)
    for name, function in vars(module).items():
        if name.startswith("test_") and callable(function):
            if not inspect.signature(function).parameters:
                function()
