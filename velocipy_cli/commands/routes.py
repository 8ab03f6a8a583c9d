"""The `velocipy routes` command: a table of every HTTP and WebSocket route of the app.

Unlike `velocipy run`, this imports the app in-process (it has to read ``app.routes``).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import typer
from rich.table import Table

from velocipy_cli.console import console, fail
from velocipy_cli.dev.reports import AppFailure
from velocipy_cli.discovery import DiscoveryError, LoadedApp, discover_app, load_app


@dataclass(frozen=True)
class RouteRow:
    """One line of the table, already as text."""

    kind: str  # "HTTP" | "WebSocket"
    methods: str
    path: str
    handler: str
    name: str
    summary: str = ""


def register(app: typer.Typer) -> None:
    """Attach this command to the `velocipy` Typer app."""
    app.command("routes")(routes)


def routes(
    app_spec: str | None = typer.Argument(
        None,
        metavar="APP",
        help="module:attr, path/to/file.py[:attr], or nothing to find main.py, app.py or api.py.",
        show_default=False,
    ),
) -> None:
    """List every HTTP and WebSocket route: methods, path, handler, name, summary."""
    loaded = import_app(app_spec, Path.cwd())
    listed = getattr(loaded.app, "routes", None)
    if listed is None:
        fail(f"{loaded.target} is not a VelociPy app (it has no .routes)", 1)
    rows = route_rows(listed)
    table = Table(title=f"Routes of {loaded.target}", title_justify="left", expand=False)
    for column in ("Kind", "Methods", "Path"):
        table.add_column(column, no_wrap=True)
    for column in ("Handler", "Name", "Summary"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(row.kind, row.methods, row.path, row.handler, row.name, row.summary)
    console.print(table)
    console.print(f"{len(rows)} route{'' if len(rows) == 1 else 's'}", style="dim")


def import_app(app_spec: str | None, cwd: Path) -> LoadedApp:
    """Discover and import the app; every failure is one line and exit code 1."""
    try:
        location = discover_app(app_spec, cwd)
        return load_app(location)
    except DiscoveryError as exc:
        fail(str(exc), 1)
    except Exception as exc:  # the user's module may raise anything while importing
        failure = AppFailure.from_exception(exc, "import", cwd.resolve())
        fail(f"{failure.title}: {failure.summary}", 1)


def route_rows(listed: Iterable[object]) -> list[RouteRow]:
    """``app.routes`` entries (RouteInfo) as table rows, in registration order."""
    rows = []
    for route in listed:
        kind = str(getattr(route, "kind", "http"))
        methods = tuple(getattr(route, "methods", ()) or ())
        rows.append(
            RouteRow(
                kind="WebSocket" if kind == "websocket" else "HTTP",
                methods=", ".join(methods) if kind != "websocket" else "WS",
                path=str(getattr(route, "path", "?")),
                handler=_qualified_name(getattr(route, "endpoint", None)),
                name=str(getattr(route, "name", "") or ""),
                summary=route_summary(route),
            )
        )
    return rows


def route_summary(route: object) -> str:
    """``summary=`` of the route, else the first line of its handler's docstring."""
    options = getattr(route, "options", None) or {}
    summary = options.get("summary") if isinstance(options, dict) else None
    if summary:
        return str(summary)
    doc = inspect.getdoc(getattr(route, "endpoint", None)) or ""
    return doc.partition("\n")[0].strip()


def _qualified_name(endpoint: object) -> str:
    if endpoint is None:
        return "?"
    module = getattr(endpoint, "__module__", None)
    name = getattr(endpoint, "__qualname__", None) or getattr(endpoint, "__name__", None)
    if name is None:
        return type(endpoint).__qualname__
    return f"{module}.{name}" if module else str(name)
