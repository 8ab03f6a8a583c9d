"""The ``velocipy`` command: one Typer app, one module per sub-command."""

from __future__ import annotations

import typer

from velocipy_cli.commands import new, openapi, routes, run, ws_probe

app = typer.Typer(
    name="velocipy",
    help="VelociPy: scaffold, serve, reload and probe fast Python web apps.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain click help: value names (PORT, DIR) instead of Python types, our own "(default: X)".
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version  # PERF: --version only

    try:
        return version("velocipy")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0+unknown"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"velocipy {_package_version()}")
        raise typer.Exit()


@app.callback()
def main(
    show_version: bool = typer.Option(
        False,
        "--version",
        "-V",
        help="Show the installed version and exit.",
        show_default=False,
        callback=_print_version,
        is_eager=True,
    ),
) -> None:
    """VelociPy: scaffold, serve, reload and probe fast Python web apps."""


for command_module in (new, run, routes, openapi, ws_probe):
    command_module.register(app)
