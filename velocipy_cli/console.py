"""The only place the CLI prints from: one rich Console for stdout, one for stderr.

Commands call :func:`configure` once from their options (``--no-color``), then use
``console`` / ``err_console`` or the small helpers below. Tests and pipes get plain text
because rich turns colour off when the stream is not a terminal (and honours ``NO_COLOR``).
"""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console
from rich.text import Text

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def configure(*, color: bool = True) -> None:
    """Apply output options shared by every command."""
    if not color:
        console.no_color = True
        err_console.no_color = True


def raw_line(text: str) -> None:
    """Write ``text`` and a newline to stdout exactly as given (tabs kept: rich would expand
    them), for output meant for other programs."""
    console.file.write(text + "\n")


def error(message: str) -> None:
    """Print one line that says what went wrong (and, ideally, what to do).

    ``message`` is plain text, never markup: ``[tool.velocipy]`` prints as written.
    """
    err_console.print(Text.assemble(("error:", "bold red"), " ", message), soft_wrap=True)


def warning(message: str) -> None:
    """Print one line of warning; ``message`` is plain text, never markup."""
    err_console.print(Text.assemble(("warning:", "bold yellow"), " ", message), soft_wrap=True)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``message`` as an error line and exit with ``code`` (1: failure, 2: usage)."""
    error(message)
    raise typer.Exit(code)
