"""Layering: the protocol-neutral core never imports an adapter, the CLI or a server package.

Imports are read with ``ast`` (not by importing), so a forbidden import hidden in a function body
or behind ``TYPE_CHECKING`` is found too.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "velocipy"

# Not core: the composition root that joins core and adapters, the adapters, the test client.
NOT_CORE = {"app.py", "asgi", "rsgi", "testing"}
FORBIDDEN_IN_CORE = (
    "velocipy.asgi",
    "velocipy.rsgi",
    "velocipy.testing",
    "velocipy.app",
    "velocipy_cli",
    "typer",
    "rich",
    "uvicorn",
    "granian",
    "websockets",
    "watchfiles",
)
# Everything under velocipy/ (adapters and test client included) may use only these.
ALLOWED_THIRD_PARTY = {"msgspec", "orjson", "python_multipart"}
# Optional packages, each allowed only in the module that uses it (and imported only there):
# redis for the Redis channels backend, httpx for velocipy.testing.transport's opt-in transports.
EXTRA_IMPORTS = {
    "velocipy.channels.backends.redis": {"redis"},
    "velocipy.stores.redis": {"redis"},  # velocipy[redis], imported only when used
    "velocipy.testing.transport": {"httpx"},
    "velocipy.templating": {"jinja2", "markupsafe"},  # velocipy[templates]
    "velocipy.contrib.sqlalchemy": {"sqlalchemy"},  # velocipy[sqlalchemy]
    "velocipy.security.tokens": {"jwt"},  # velocipy[jwt]
    "velocipy.testing.client": {"httpx"},  # redirects, cookies and decoding are httpx's
    "velocipy.testing.pytest_plugin": {"pytest"},  # loaded by pytest only
    "velocipy.contrib.strawberry": {"strawberry"},  # velocipy[graphql]
    "velocipy.observability.otel": {"opentelemetry"},  # velocipy[otel]
    "velocipy.observability.prometheus": {"prometheus_client"},  # velocipy[prometheus]
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path, source: str | None = None) -> set[str]:
    """Absolute names of every module ``path`` imports (relative imports resolved)."""
    text = path.read_text(encoding="utf-8") if source is None else source
    tree = ast.parse(text, filename=str(path))
    package = module_name(path)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                prefix = ".".join(base)
                target = f"{prefix}.{node.module}" if node.module else prefix
                names = [target] if node.module else [f"{target}.{a.name}" for a in node.names]
                found.update(names)
            else:
                assert node.module is not None
                found.add(node.module)
                found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "import_module":
            found.update(
                arg.value
                for arg in node.args
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str)
            )
    return found


def all_modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def is_core(path: Path) -> bool:
    return path.relative_to(PACKAGE).parts[0] not in NOT_CORE


def core_modules() -> list[Path]:
    return [p for p in all_modules() if is_core(p)]


def test_the_core_is_what_we_think() -> None:
    names = {module_name(p) for p in core_modules()}
    for expected in (
        "velocipy.application",
        "velocipy.routing",
        "velocipy.params",
        "velocipy.requests",
        "velocipy.responses",
        "velocipy.datastructures",
        "velocipy.json",
        "velocipy.lifespan",
        "velocipy.routers",
    ):
        assert expected in names
    adapters = ("velocipy.asgi", "velocipy.rsgi", "velocipy.testing")
    assert not any(n.startswith(adapters) for n in names)
    assert "velocipy.app" not in names


def _violations(path: Path, forbidden: tuple[str, ...]) -> list[str]:
    return sorted(
        name
        for name in imported_modules(path)
        if any(name == bad or name.startswith(bad + ".") for bad in forbidden)
    )


@pytest.mark.parametrize("path", core_modules(), ids=lambda p: module_name(p))
def test_core_module_imports_no_adapter_cli_or_server(path: Path) -> None:
    forbidden = FORBIDDEN_IN_CORE
    if path == PACKAGE / "__init__.py":  # the public facade re-exports VelociPy from app.py
        forbidden = tuple(name for name in forbidden if name != "velocipy.app")
    assert _violations(path, forbidden) == []


def test_package_root_reaches_adapters_only_through_the_composition_root() -> None:
    """``velocipy/__init__`` may expose ``VelociPy`` (from velocipy.app) but nothing else joins."""
    init = PACKAGE / "__init__.py"
    adapters = _violations(init, ("velocipy.asgi", "velocipy.rsgi", "velocipy.testing"))
    assert adapters == []


@pytest.mark.parametrize("path", all_modules(), ids=lambda p: module_name(p))
def test_velocipy_imports_only_stdlib_msgspec_and_orjson(path: Path) -> None:
    outside = set()
    for name in imported_modules(path):
        top = name.split(".")[0]
        if top == "velocipy" or top in sys.stdlib_module_names or top == "__future__":
            continue
        if top not in ALLOWED_THIRD_PARTY | EXTRA_IMPORTS.get(module_name(path), set()):
            outside.add(name)
    assert outside == set()


def test_the_checker_sees_hidden_and_relative_imports() -> None:
    """The parser itself: imports in functions, TYPE_CHECKING blocks and relative forms count."""
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from velocipy.asgi import ASGIEntrypoint\n"
        "def later():\n    import granian\n    from . import rsgi\n"
        "    from .testing.client import TestClient\n"
        "    importlib.import_module('uvicorn')\n"
    )
    names = imported_modules(PACKAGE / "probe_module.py", source)
    for expected in ("velocipy.asgi", "granian", "velocipy.rsgi", "velocipy.testing.client"):
        assert expected in names
    assert "uvicorn" in names
    nested = imported_modules(PACKAGE / "json" / "probe.py", "from .. import app\n")
    assert "velocipy.app" in nested


# Loaded only by the feature that needs them, so `import velocipy` stays below
# `import starlette.applications` (bench/scale.py measures it; docs/benchmarks.md has the figure).
LOADED_ON_FIRST_USE = (
    "email.utils",  # file responses and conditional requests
    "mimetypes",  # FileResponse without a media type
    "http.cookies",  # responses that set a cookie
    "tempfile",  # uploads
    "json",  # the stdlib adapter and the SSE fallback encoder
    "velocipy.json.stdlib_adapter",
    "velocipy.middleware.cors",
    "velocipy.middleware.gzip",
    "velocipy.middleware.compression",
    "brotli",  # the compression extra: only CompressionMiddleware offering Brotli loads it
    "backports.zstd",
    "velocipy.middleware.sessions",
    "velocipy.security.oauth2",  # Security and SecurityScopes from the package root
    "velocipy.middleware.proxyheaders",
)


def test_import_velocipy_leaves_feature_modules_unloaded() -> None:
    probe = "import sys, velocipy; print(' '.join(sorted(sys.modules)))"
    loaded = set(
        subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, check=True
        ).stdout.split()
    )
    assert [name for name in LOADED_ON_FIRST_USE if name in loaded] == []


def test_lazily_loaded_names_still_import() -> None:
    """What the package's lazy ``__getattr__`` hands out is the real class, named or starred."""
    code = (
        "from velocipy.middleware import *\n"
        "from velocipy.middleware import SessionMiddleware\n"
        "from velocipy.middleware.sessions import SessionMiddleware as Real\n"
        "from velocipy.json import StdlibAdapter, get_adapter\n"
        "assert SessionMiddleware is Real and CORSMiddleware.__name__ == 'CORSMiddleware'\n"
        "assert isinstance(get_adapter('stdlib'), StdlibAdapter)\n"
        "from velocipy import Security, SecurityScopes\n"
        "from velocipy.security import Security as RealSecurity, SecurityScopes as RealScopes\n"
        "assert Security is RealSecurity and SecurityScopes is RealScopes\n"
        "import velocipy.middleware as m\n"
        "try:\n    m.NoSuchMiddleware\nexcept AttributeError as exc:\n    print(exc)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "has no attribute 'NoSuchMiddleware'" in result.stdout
