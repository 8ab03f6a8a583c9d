"""Help that reads like a person wrote it: value names (PORT, DIR), never Python types.

Options get their value names from ``metavar=`` and their defaults as "(default: X)" in the help
text; typer would add ``<str>`` / ``<int range>`` next to arguments, so every command is built
with :class:`PlainHelpCommand`, which shows an argument by its name alone.
"""

from __future__ import annotations

from typing import Any

import click
from typer.core import TyperArgument, TyperCommand


class PlainHelpCommand(TyperCommand):
    """A Typer command whose arguments are shown as ``NAME`` / ``[NAME]``, without a type."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            if isinstance(param, TyperArgument):
                _plain_argument(param)


def _plain_argument(param: TyperArgument) -> None:
    name = param.metavar or (param.name or "").upper()
    shown = name if param.required else f"[{name}]"

    def no_type(ctx: click.Context) -> str | None:
        return None

    def usage_name() -> str:
        return shown

    # Instance attributes: typer's help calls these to print "<str>" and "{NAME}".
    param.display_type_rich = no_type  # type: ignore[method-assign,assignment]
    param._usage_display_name = usage_name  # type: ignore[method-assign]
