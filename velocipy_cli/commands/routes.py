"""The `velocipy routes` command: a table of every HTTP and WebSocket route of the app.

Unlike `velocipy run`, this imports the app in-process (it has to read ``app.routes``).
"""

from __future__ import annotations

import inspect
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from velocipy_cli.console import console, fail, raw_line
from velocipy_cli.dev.reports import AppFailure
from velocipy_cli.discovery import DiscoveryError, LoadedApp, discover_app, load_app
from velocipy_cli.help import PlainHelpCommand
from velocipy_cli.settings import SettingsError, load_project_settings, setting_source


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
    app.command("routes", cls=PlainHelpCommand, short_help="List the HTTP and WebSocket routes.")(
        routes
    )


def routes(
    app_spec: str | None = typer.Argument(
        None,
        metavar="APP",
        help="module:attr or path/to/file.py[:attr]. (default: see above)",
        show_default=False,
    ),
) -> None:
    """List every HTTP and WebSocket route: methods, path, handler, name, summary.

    APP is found as `velocipy run` finds it: module:attr or path/to/file.py[:attr], else the app
    setting of [tool.velocipy] in pyproject.toml, else the first of main.py, app.py, api.py
    found in the current folder, then in app/, then in the package named by [project] (PKG/ or
    src/PKG/). In a pipe, one route a line, tab-separated: methods, path, handler, name, summary.
    """
    loaded = import_app(app_spec, Path.cwd())
    listed = getattr(loaded.app, "routes", None)
    if listed is None:
        fail(f"{loaded.target} is not a VelociPy app (it has no .routes)", 1)
    rows = route_rows(listed)
    if not console.is_terminal:
        for line in route_lines(rows):
            raw_line(line)
        return
    console.print(f"[bold]Routes of {escape(loaded.target)}[/]", soft_wrap=True)
    table = route_table(rows)
    if natural_width(table) <= console.width:
        console.print(table)
    else:  # too narrow for one row per route: each route on two lines, never cut mid-name
        for row in rows:
            console.print(f"[bold]{escape(row.methods)}[/]  {escape(row.path)}", soft_wrap=True)
            console.print(f"    {escape(row.handler)}", style="dim", soft_wrap=True)
            if row.name:
                console.print(f"    name: {escape(row.name)}", style="dim", soft_wrap=True)
            if row.summary:
                console.print(f"    {escape(row.summary)}", style="dim", soft_wrap=True)
    console.print(f"{len(rows)} route{'' if len(rows) == 1 else 's'}", style="dim")


def route_table(rows: list[RouteRow]) -> Table:
    """One row per route; no column wraps (the caller checks that it fits)."""
    table = Table(box=box.SIMPLE_HEAD, expand=False, pad_edge=False)
    for column in ("Kind", "Methods", "Path", "Handler", "Name", "Summary"):
        table.add_column(column, no_wrap=True)
    for row in rows:
        table.add_row(row.kind, row.methods, row.path, row.handler, row.name, row.summary)
    return table


def natural_width(table: Table) -> int:
    """The width ``table`` takes when nothing limits it."""
    wide = Console(width=100_000, file=io.StringIO(), color_system=None)
    with wide.capture() as captured:
        wide.print(table)
    return max((len(line.rstrip()) for line in captured.get().splitlines()), default=0)


def route_lines(rows: list[RouteRow]) -> list[str]:
    """For pipes: one route a line, its fields separated by tabs (``-`` for an empty one):
    methods, path, handler, name, summary. ``cut -f2`` and ``awk -F'\t'`` read them as is.
    """
    return [
        "\t".join(
            [
                row.methods.replace(", ", ","),
                row.path,
                row.handler,
                row.name or "-",
                row.summary or "-",
            ]
        )
        for row in rows
    ]


def import_app(app_spec: str | None, cwd: Path) -> LoadedApp:
    """Discover and import the app (as `velocipy run` would); every failure is one line, exit 1."""
    given_by = "the APP argument"
    if not app_spec:
        try:
            configured = load_project_settings(cwd)["app"]
        except SettingsError as exc:
            fail(str(exc), 2)
        if isinstance(configured, str):
            app_spec, given_by = configured, setting_source("app", cwd) or given_by
    try:
        location = discover_app(app_spec, cwd, given_by)
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
    return plain_text(doc.partition("\n")[0].strip())


_ROLE = re.compile(r":[\w:.-]+:`~?([^`]*)`")  # :class:`Item`, :func:`~pkg.f`
_LITERAL = re.compile(r"``([^`]*)``|`([^`]*)`")  # ``code``, `code`
_EMPHASIS = re.compile(r"\*\*([^*]+)\*\*|\*([^*]+)\*")


def plain_text(line: str) -> str:
    """A docstring line without reStructuredText / Markdown markup (roles, literals, stars)."""
    line = _ROLE.sub(
        lambda m: m.group(1).rpartition(".")[2] if "~" in m.group(0) else m.group(1), line
    )
    line = _LITERAL.sub(lambda m: m.group(1) if m.group(1) is not None else m.group(2), line)
    return _EMPHASIS.sub(lambda m: m.group(1) or m.group(2), line)


def _qualified_name(endpoint: object) -> str:
    if endpoint is None:
        return "?"
    module = getattr(endpoint, "__module__", None)
    name = getattr(endpoint, "__qualname__", None) or getattr(endpoint, "__name__", None)
    if name is None:
        return type(endpoint).__qualname__
    return f"{module}.{name}" if module else str(name)
