"""The Python blocks of docs/dependencies.md and docs/openapi.md run as written.

Each block is a complete program: it builds an app and asserts on requests made with the
TestClient, so executing it is the test.
"""

import re
import sys
import types
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
PAGES = ["dependencies.md", "openapi.md"]
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _blocks() -> list[tuple[str, int, str]]:
    found = []
    for page in PAGES:
        for number, match in enumerate(_BLOCK.finditer((DOCS / page).read_text()), 1):
            found.append((page, number, match.group(1)))
    return found


@pytest.mark.parametrize(("page", "number", "code"), _blocks(), ids=lambda v: str(v)[:20])
def test_docs_block_runs(page: str, number: int, code: str) -> None:
    module = types.ModuleType(f"docs_block_{number}")
    sys.modules[module.__name__] = module
    try:
        exec(compile(code, f"{page}#block{number}", "exec"), module.__dict__)
    finally:
        del sys.modules[module.__name__]
    assert "app" in module.__dict__
