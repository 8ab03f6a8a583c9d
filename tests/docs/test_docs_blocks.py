"""Every Python block in docs/ runs on its own: it imports, builds its app, and answers a request.

A block that fails here is incomplete (a missing import, a name defined in another block) or
wrong. New pages are covered automatically: the blocks are collected from docs/**/*.md.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from tests.docs.docs_blocks import (
    DocBlock,
    apps_in,
    doc_blocks,
    import_block,
    page_files,
    sample_request,
)
from velocipy.testing import TestClient, WebSocketDenied

BLOCKS = list(doc_blocks())


def test_the_docs_have_python_blocks() -> None:
    assert len(BLOCKS) >= 30
    assert {block.page.name for block in BLOCKS} >= {"index.md", "websockets.md", "testing.md"}


@pytest.mark.parametrize("block", BLOCKS, ids=lambda block: block.id)
def test_the_block_runs_on_its_own(block: DocBlock, tmp_path: Path, protocol: str) -> None:
    with page_files(block, tmp_path):
        module = import_block(block, tmp_path)
        exercise(module, block, protocol)


def exercise(module: object, block: DocBlock, protocol: str) -> None:
    for app in apps_in(module):
        with TestClient(app, interface=protocol) as client:
            kind, method, path = sample_request(app)
            if kind == "http":
                response = client.request(method, path)
                assert response.status_code < 500, (block.id, method, path, response.text)
            else:  # a WebSocket-only app: open its first socket and close it again
                try:
                    with client.websocket_connect(path):
                        pass
                except WebSocketDenied:  # a refused handshake is an answer too (403)
                    pass
    for name, function in vars(module).items():
        if name.startswith("test_") and callable(function):
            if not inspect.signature(function).parameters:
                function()
