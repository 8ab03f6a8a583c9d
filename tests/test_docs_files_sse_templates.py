"""The Python blocks of docs/static-files.md, docs/sse.md and docs/templates.md run as written.

Each block is preceded by ``<!-- request: METHOD PATH STATUS -->``: the block is executed in a
directory holding the files the page mentions, and that request is made to its ``app`` on ASGI
and RSGI. A Python block without such a line fails the test, so none goes untried.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import ClientFactory
from tests.support import REPO_ROOT

PAGES = ["static-files.md", "sse.md", "templates.md"]
BLOCK = re.compile(r"(?:<!-- request: (\w+) (\S+) (\d+) -->\n)?```python\n(.*?)```", re.S)


def blocks() -> list[tuple[str, str, str, int, str]]:
    found = []
    for page in PAGES:
        text = (REPO_ROOT / "docs" / page).read_text()
        for index, match in enumerate(BLOCK.finditer(text)):
            method, path, status, code = match.groups()
            assert method, f"docs/{page} block {index} has no <!-- request: ... --> line"
            found.append((f"{page}#{index}", method, path, int(status), code))
    return found


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The files the pages mention, in the working directory the blocks run in."""
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "app.css").write_text("h1 { color: teal }")
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "index.html").write_text("<h1>docs</h1>")
    (tmp_path / "uploads").mkdir()
    (tmp_path / "uploads" / "report.txt").write_text("quarterly numbers")
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "hello.html").write_text("<h1>Hello {{ name }}</h1>")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(("where", "method", "path", "status", "code"), blocks())
def test_docs_block_runs(
    client_for: ClientFactory,
    project: Path,
    where: str,
    method: str,
    path: str,
    status: int,
    code: str,
) -> None:
    namespace: dict[str, object] = {"__name__": f"docs_block_{where}"}
    exec(compile(code, where, "exec"), namespace)
    response = client_for(namespace["app"]).request(method, path)
    assert response.status_code == status, (where, response.text)
    assert response.content, where
