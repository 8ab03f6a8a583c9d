"""examples/websocket.py holds exactly the patterns docs/websockets.md shows, unchanged.

Every top-level definition of every block under "## Patterns" (handlers, the Move struct, the
connections set) must be in the example with the same code (docstrings aside), and the example's
WebSocket routes are those of the patterns plus its echo at /ws.
"""

from __future__ import annotations

import ast

from tests.docs.docs_blocks import DOCS, doc_blocks
from tests.support import REPO_ROOT

EXAMPLE = REPO_ROOT / "examples" / "websocket.py"
EXTRA_IN_EXAMPLE = {"/ws"}  # the echo of "A first socket", under the path README command 1 uses


def _pattern_blocks() -> list[str]:
    text = (DOCS / "websockets.md").read_text()
    start = text.index("\n## Patterns\n")
    end = text.index("\n## ", start + 1)
    first_line, last_line = text.count("\n", 0, start) + 1, text.count("\n", 0, end) + 1
    return [
        block.source
        for block in doc_blocks()
        if block.page.name == "websockets.md" and first_line <= block.line <= last_line
    ]


def _definitions(source: str) -> dict[str, str]:
    """Top-level definitions by name, as AST dumps without docstrings (imports and app left out)."""
    found = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            continue
        if isinstance(node, ast.ClassDef | ast.AsyncFunctionDef | ast.FunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                node.body = body[1:] or [ast.Pass()]
            found[node.name] = ast.dump(node)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            target = node.targets[0] if isinstance(node, ast.Assign) else node.target
            assert isinstance(target, ast.Name)
            if target.id != "app":
                found[target.id] = ast.dump(node)
    return found


def _websocket_paths(source: str) -> set[str]:
    paths = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.AsyncFunctionDef):
            for decorator in node.decorator_list:
                if (
                    isinstance(decorator, ast.Call)
                    and isinstance(decorator.func, ast.Attribute)
                    and decorator.func.attr == "websocket"
                ):
                    argument = decorator.args[0]
                    assert isinstance(argument, ast.Constant)
                    paths.add(str(argument.value))
    return paths


def test_every_pattern_is_in_the_example_unchanged() -> None:
    blocks = _pattern_blocks()
    assert len(blocks) >= 6
    example = _definitions(EXAMPLE.read_text())
    for source in blocks:
        for name, dump in _definitions(source).items():
            assert name in example, f"{name} of the docs is missing from {EXAMPLE.name}"
            assert example[name] == dump, f"{name} differs between the docs and {EXAMPLE.name}"


def test_the_example_holds_no_other_socket() -> None:
    documented = set().union(*(_websocket_paths(source) for source in _pattern_blocks()))
    assert _websocket_paths(EXAMPLE.read_text()) == documented | EXTRA_IN_EXAMPLE
