"""The `velocipy openapi` command: print or write the app's OpenAPI (or AsyncAPI) document.

Like `velocipy routes`, it imports the app in-process; no server is started.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from velocipy_cli.commands.routes import import_app
from velocipy_cli.console import console, fail
from velocipy_cli.help import PlainHelpCommand


def register(app: typer.Typer) -> None:
    """Attach this command to the `velocipy` Typer app."""
    app.command(
        "openapi", cls=PlainHelpCommand, short_help="Print the app's OpenAPI or AsyncAPI document."
    )(openapi)


def openapi(
    app_spec: str | None = typer.Argument(
        None,
        metavar="APP",
        help="module:attr or path/to/file.py[:attr]. (default: see above)",
        show_default=False,
    ),
    output: Path | None = typer.Option(
        None,
        "--output",
        "-o",
        metavar="FILE",
        help="Write the document to this file instead of printing it.",
    ),
    asyncapi: bool = typer.Option(
        False, "--asyncapi", help="The AsyncAPI 3.0 document of the WebSocket routes instead."
    ),
) -> None:
    """Print the app's OpenAPI 3.1 document (or, with --asyncapi, its AsyncAPI 3.0 one).

    APP is found as `velocipy run` finds it: module:attr or path/to/file.py[:attr], else the app
    setting of [tool.velocipy] in pyproject.toml, else the first of main.py, app.py, api.py
    found in the current folder, then in app/, then in the package named by [project] (PKG/ or
    src/PKG/). No server is started: the app is imported in this process.
    """
    loaded = import_app(app_spec, Path.cwd())
    kind = "asyncapi" if asyncapi else "openapi"
    build = getattr(loaded.app, kind, None)
    if not callable(build):
        fail(f"{loaded.target} is not a VelociPy app (it has no .{kind}())", 1)
    try:
        document = build()
    except Exception as exc:  # a route whose types cannot be described
        fail(f"cannot describe {loaded.target}: {type(exc).__name__}: {exc}", 1)
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror or exc}", 1)
    title = "AsyncAPI" if asyncapi else "OpenAPI"
    console.print(f"wrote the {title} document of {loaded.target} to {output}", soft_wrap=True)
