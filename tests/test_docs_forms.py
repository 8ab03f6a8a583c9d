"""The code blocks of docs/forms.md, docs/background-tasks.md (and the async-client block of
docs/testing.md) run, on ASGI and RSGI.

Each block is complete (imports included): it is executed on its own and every ``test_*``
function it defines is called, with ``TestClient`` defaulting to the protocol under test.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

import velocipy.testing

DOCS = Path(__file__).resolve().parent.parent / "docs"
PAGES = ["forms.md", "background-tasks.md"]
# The blocks of a shared page that document this lane's features.
EXTRA_BLOCKS = [("testing.md", "AsyncTestClient"), ("testing.md", "VelociPyTransport")]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def blocks() -> list[Any]:
    found = []
    for page in PAGES:
        for index, code in enumerate(BLOCK.findall((DOCS / page).read_text())):
            found.append(pytest.param(code, id=f"{page}-{index}"))
    for page, marker in EXTRA_BLOCKS:
        for index, code in enumerate(BLOCK.findall((DOCS / page).read_text())):
            if marker in code:
                found.append(pytest.param(code, id=f"{page}-{index}"))
    return found


def test_every_page_has_blocks() -> None:
    for page in PAGES:
        assert BLOCK.findall((DOCS / page).read_text()), page


@pytest.mark.parametrize("code", blocks())
def test_docs_block_runs(code: str, protocol: str, monkeypatch: pytest.MonkeyPatch) -> None:
    real = velocipy.testing.TestClient

    class ProtocolClient(real):  # type: ignore[misc, valid-type]
        def __init__(self, app: Any, interface: str = protocol, **kwargs: Any) -> None:
            super().__init__(app, interface, **kwargs)

    monkeypatch.setattr(velocipy.testing, "TestClient", ProtocolClient)
    namespace: dict[str, Any] = {"__name__": "docs_block"}
    exec(compile(code, "<docs>", "exec"), namespace)
    tests = [f for name, f in namespace.items() if name.startswith("test_") and callable(f)]
    assert tests, "each block shows its use with a test function"
    for test in tests:
        test()
