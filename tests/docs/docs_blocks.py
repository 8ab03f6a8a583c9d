"""Find and run the Python code blocks of the docs: each one must work on its own.

Every fenced ```python block of every page under ``docs/`` is a unit (pages added later are
picked up by the same glob). A block runs as a fresh module, imported from a file in a temporary
folder; when it defines a VelociPy app, one request goes through the test client on ASGI and RSGI,
and any ``test_*`` function it defines without parameters is called (the testing page's examples).

A block whose fence names a file (```` ```python title="main.py" ````, which the site shows as the
block's file name) is also saved under that name next to every block of its page, so a later
block can ``from main import app`` exactly as a reader who saved the file would.

A block in another language whose fence names a relative path
(```` ```css title="static/app.css" ````) is a file the page asks the reader to create: it is
written under that path in the folder, and the page's Python blocks run with the folder as
working directory (so ``StaticFiles(directory="static")`` finds it).

A block right after a ``<!-- request: METHOD PATH STATUS -->`` line (invisible on the site) is
exercised with that request, and must answer exactly that status.
"""

from __future__ import annotations

import contextlib
import importlib.util
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from tests.support import REPO_ROOT

DOCS = REPO_ROOT / "docs"
_FENCE = re.compile(r"^```python([^\n]*)\n(.*?)^```", re.S | re.M)
_TITLE = re.compile(r'title="([A-Za-z_][A-Za-z0-9_]*\.py)"')
_DATA_FENCE = re.compile(
    r'^```(?!python)[\w-]*[^\n]*title="([\w.-]+(?:/[\w.-]+)*)"[^\n]*\n(.*?)^```', re.S | re.M
)
_REQUEST_NOTE = re.compile(r"<!-- request: (\w+) (\S+) (\d{3}) -->\n\Z")
_PATH_PARAMETER = re.compile(r"\{([^}:]+)(?::([a-z]+))?\}")
_SAMPLE_VALUES = {"int": "1", "float": "1.5", "uuid": "5b0c2c5e-7a4e-4f7d-9d0e-0a6c1c1f7b11"}


@dataclass(frozen=True)
class DocBlock:
    page: Path
    line: int  # 1-based line of the block's first code line
    source: str
    title: str | None = None  # the file name the fence gives it, e.g. "main.py"
    request: tuple[str, str, int] | None = None  # (method, path, status) the page notes for it

    @property
    def id(self) -> str:
        return f"{self.page.relative_to(DOCS).as_posix()}:{self.line}"


def doc_blocks(root: Path = DOCS) -> Iterator[DocBlock]:
    """Every ```python block of every Markdown page under ``root``, in page order."""
    for page in sorted(root.rglob("*.md")):
        text = page.read_text(encoding="utf-8")
        for match in _FENCE.finditer(text):
            line = text.count("\n", 0, match.start(2)) + 1
            title = _TITLE.search(match.group(1))
            note = _REQUEST_NOTE.search(text, 0, match.start())
            request = (note[1], note[2], int(note[3])) if note else None
            yield DocBlock(page, line, match.group(2), title.group(1) if title else None, request)


@contextlib.contextmanager
def page_files(block: DocBlock, folder: Path) -> Iterator[None]:
    """The titled blocks of ``block``'s page saved in ``folder``, importable by their names."""
    titled = [other for other in doc_blocks(block.page.parent) if other.page == block.page]
    names = []
    for other in titled:
        if other.title:
            (folder / other.title).write_text(other.source, encoding="utf-8")
            names.append(other.title.removesuffix(".py"))
    data_files = _DATA_FENCE.findall(block.page.read_text(encoding="utf-8"))
    for relative, content in data_files:
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_text(content, encoding="utf-8")
    sys.path.insert(0, str(folder))
    try:
        with contextlib.chdir(folder) if data_files else contextlib.nullcontext():
            yield
    finally:
        sys.path.remove(str(folder))
        for name in names:  # another page may save a different main.py
            sys.modules.pop(name, None)


def import_block(block: DocBlock, folder: Path) -> ModuleType:
    """Import ``block`` as a module of its own (a file in ``folder``), as a reader would run it."""
    name = "docs_block_" + re.sub(r"\W", "_", block.id)
    file = folder / f"{name}.py"
    file.write_text(block.source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, file)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and msgspec look their module up by name
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def apps_in(module: ModuleType) -> list[object]:
    from velocipy import VelociPy

    return [value for value in vars(module).values() if isinstance(value, VelociPy)]


def sample_request(app: object) -> tuple[str, str, str]:
    """(kind, method, path) of one request the app routes: HTTP "/" if it has it, else its first
    HTTP route, else its first WebSocket route; path parameters get sample values. An app
    without routes (a middleware or settings example) still answers GET / (a 404)."""
    routes = list(getattr(app, "routes", ()))
    if not routes:
        return "http", "GET", "/"
    http = [route for route in routes if route.kind == "http"]
    chosen = next((route for route in http if route.path == "/"), http[0] if http else routes[0])
    method = "GET" if "GET" in chosen.methods or not chosen.methods else chosen.methods[0]
    path = _PATH_PARAMETER.sub(
        lambda match: _SAMPLE_VALUES.get(match.group(2) or "", "sample"), chosen.path
    )
    return chosen.kind, method, path
