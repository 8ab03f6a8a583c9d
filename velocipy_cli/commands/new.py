"""The ``velocipy new`` command: parse options, ask for a template if needed, show the result.

The work itself (names, templates, rendering, git) is in :mod:`velocipy_cli.scaffold`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.markup import escape
from rich.text import Text

from velocipy_cli import scaffold
from velocipy_cli.console import configure, console, fail, warning
from velocipy_cli.help import PlainHelpCommand
from velocipy_cli.origin import velocipy_origin

NEW_HELP = "\n\n".join(
    (
        "Create a project that runs and passes its tests on ASGI and RSGI.",
        "NAME is the project's name (letters, digits, '-', '_', '.') and its folder, unless"
        " --path. Without NAME or --template, asks in a terminal; otherwise NAME is required"
        " and the template is minimal.",
    )
)


def register(app: typer.Typer) -> None:
    """Attach this command to the `velocipy` Typer app."""
    app.command(
        "new",
        help=NEW_HELP,
        short_help="Create a project from a template.",
        no_args_is_help=False,
        cls=PlainHelpCommand,
    )(new)


def new(
    name: str | None = typer.Argument(
        None,
        metavar="NAME",
        help="The project's name, and its folder unless --path.",
        show_default=False,
    ),
    template: str | None = typer.Option(
        None,
        "--template",
        "-t",
        metavar="NAME",
        help="Template to use, see --list. (default: asked in a terminal, else minimal)",
        show_default=False,
    ),
    path: Path | None = typer.Option(
        None,
        "--path",
        "-p",
        metavar="DIR",
        help="Folder to create the project in. (default: ./NAME)",
        show_default=False,
    ),
    force: bool = typer.Option(
        False,
        "--force",
        help="Allow a non-empty folder: add the project's files, keep every file already there.",
    ),
    git: bool | None = typer.Option(
        None,
        "--git/--no-git",
        help="Make a git repository with a first commit (skipped inside an existing one). "
        "(default: --git when git is on PATH)",
        show_default=False,
    ),
    server: str = typer.Option(
        "asgi",
        "--server",
        metavar="asgi|rsgi",
        help="What README and pyproject say to run: asgi (uvicorn) or rsgi (granian); "
        "uvicorn and granian are accepted too. (default: asgi)",
        show_default=False,
    ),
    list_templates: bool = typer.Option(False, "--list", help="List the templates and exit."),
    as_json: bool = typer.Option(False, "--json", help="With --list: print JSON."),
    no_color: bool = typer.Option(False, "--no-color", help="Plain output, no colours."),
) -> None:
    configure(color=not no_color)
    try:
        if list_templates:
            if name is not None:
                fail("--list takes no NAME", 2)
            _show_templates(scaffold.list_templates(), as_json=as_json)
            return
        if as_json:
            fail("--json only goes with --list", 2)
        if name is None:
            name = _ask_name()
        # `velocipy run --server` names servers: accept those too (granian's own interface: rsgi).
        server = {"uvicorn": "asgi", "granian": "rsgi"}.get(server.lower(), server)
        if server.lower() not in scaffold.SERVERS:
            fail(f"--server must be asgi or rsgi (or uvicorn, granian), not {server!r}", 2)
        package = scaffold.derive_package_name(name)
        chosen = scaffold.find_template(template or _ask_template())
        use_git = scaffold.git_available() if git is None else git
        if use_git and not scaffold.git_available():
            fail("git is not on PATH: install it, or pass --no-git", 1)
        spec = scaffold.ProjectSpec(
            name=name,
            package=package,
            template=chosen,
            target=path if path is not None else Path(name),
            server="rsgi" if server.lower() == "rsgi" else "asgi",
        )
        result = scaffold.create_project(spec, force=force, git=use_git)
    except scaffold.UsageError as exc:
        fail(str(exc), 2)
    except scaffold.ScaffoldError as exc:
        fail(str(exc), 1)
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        fail(f"cannot write the project{where}: {exc.strerror or exc}", 1)
    _show_result(spec, result)


def _ask_name() -> str:
    """The project name: asked in a terminal; without one, a usage error naming what is missing."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        fail(
            "missing NAME (the project's name; not asked because this is not a terminal): "
            "try `velocipy new chat` (or `velocipy new --list`)",
            2,
        )
    from rich.prompt import Prompt

    while True:
        try:
            answer = Prompt.ask("Project name", console=console).strip()
        except EOFError:
            fail("no project name given (input ended)", 1)
        if not answer:
            continue
        try:
            scaffold.validate_project_name(answer)
            scaffold.derive_package_name(answer)
        except scaffold.UsageError as exc:
            console.print(Text(str(exc), style="yellow"))
            continue
        return answer


def _ask_template() -> str:
    """The template to use: asked in a terminal, the default otherwise (never blocks a pipe)."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        return scaffold.DEFAULT_TEMPLATE
    from rich.prompt import Prompt

    templates = scaffold.list_templates()
    _show_templates(templates, as_json=False)
    try:
        return Prompt.ask(
            "Template",
            choices=[info.name for info in templates],
            default=scaffold.DEFAULT_TEMPLATE,
            console=console,
        )
    except EOFError:
        fail("no template chosen (input ended)", 1)


def _show_templates(templates: list[scaffold.TemplateInfo], *, as_json: bool) -> None:
    if as_json:
        listing = [
            {
                "name": info.name,
                "description": info.description,
                "default": info.name == scaffold.DEFAULT_TEMPLATE,
            }
            for info in templates
        ]
        console.out(json.dumps(listing, indent=2), highlight=False)
        return
    from rich.table import Table

    table = Table(title="Templates", title_justify="left", box=None, pad_edge=False)
    table.add_column("name", style="bold cyan", no_wrap=True)
    table.add_column("description")
    for info in templates:
        default = " [dim](default)[/]" if info.name == scaffold.DEFAULT_TEMPLATE else ""
        table.add_row(info.name, escape(info.description) + default)
    console.print(table)


def _show_result(spec: scaffold.ProjectSpec, result: scaffold.ScaffoldResult) -> None:
    cwd = Path.cwd()
    try:
        where = f"./{result.target.relative_to(cwd)}" if result.target != cwd else "."
    except ValueError:
        where = str(result.target)
    console.print(
        f"[bold green]Created[/] [bold]{escape(spec.name)}[/] from the "
        f"[cyan]{escape(spec.template.name)}[/] template in {escape(where)}"
    )
    from rich.tree import Tree

    tree = Tree(f"[bold]{escape(where)}[/]", guide_style="dim")
    branches: dict[Path, Tree] = {Path("."): tree}
    kept = set(result.kept)
    for relative in sorted([*result.created, *result.kept]):
        for folder in reversed(relative.parents[:-1]):
            if folder not in branches:
                branches[folder] = branches[folder.parent].add(f"[bold]{escape(folder.name)}/[/]")
        label = escape(relative.name)
        if relative in kept:
            label = f"[yellow]{label}[/] [dim](already there, kept as is)[/]"
        branches[relative.parent].add(label)
    console.print(tree)
    if result.kept:
        console.print(
            f"[yellow]{len(result.kept)} file(s) already existed and were not changed;[/] "
            "check they suit the project."
        )
    if result.git_commit:
        console.print("[green]git:[/] repository created with a first commit")
    elif result.git_note:
        console.print(f"[dim]git: {escape(result.git_note)}[/]")
    origin = velocipy_origin()
    if not origin.recorded:
        warning(
            f"{origin.note}, so pyproject.toml cannot say where to get it: `pip install` "
            "will stop until its velocipy line points at a VelociPy clone or wheel "
            "(velocipy @ file:///path/to/velocipy); see the Installing page of the docs"
        )
    console.print("\n[bold]Next steps[/]")
    steps = scaffold.next_steps(spec, cwd)
    width = max(len(command) for command, _ in steps)
    for command, comment in steps:
        console.print(
            f"  [bold cyan]{escape(command.ljust(width))}[/]  [dim]# {escape(comment)}[/]"
        )
