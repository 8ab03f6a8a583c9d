"""Help that reads like a person wrote it: value names (PORT, DIR), never Python types.

Options get their value names from ``metavar=`` and their defaults as "(default: X)" in the help
text; typer would add ``<str>`` / ``<int range>`` next to arguments, so every command is built
with :class:`PlainHelpCommand`, which shows an argument by its name alone.
"""

from __future__ import annotations

import sys
from typing import Any

import click
import typer
from typer.core import TyperArgument, TyperCommand

# The click that typer runs on: a vendored copy in recent typer releases, click itself before.
_click_errors: Any = sys.modules[typer.BadParameter.__module__]


class PlainHelpCommand(TyperCommand):
    """A Typer command whose arguments are shown as ``NAME`` / ``[NAME]``, without a type."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            if isinstance(param, TyperArgument):
                _plain_argument(param)

    # Contexts are typed Any: typer's click is a vendored copy in recent releases, click before.
    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: Any = None,
        **extra: Any,
    ) -> Any:
        given = list(args)
        try:
            ctx = super().make_context(info_name, args, parent, **extra)
        except _click_errors.UsageError as exc:
            raise _in_our_words(exc, given) from None
        ctx.meta["velocipy.args"] = given
        return ctx

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except OneLineUsageError:
            raise
        except _click_errors.UsageError as exc:  # values are converted (and refused) on invoke too
            raise _in_our_words(exc, ctx.meta.get("velocipy.args", [])) from None


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


class OneLineUsageError(_click_errors.UsageError):  # type: ignore[misc]
    """A usage error shown as one line in our words, plus one usage line when an argument is
    missing (never the help screen, never pydantic's "Input should be ...")."""

    def __init__(self, message: str, ctx: Any, usage: bool = False) -> None:
        super().__init__(message, ctx)
        self.usage = usage

    def show(self, file: Any = None) -> None:
        from velocipy_cli.console import err_console, error

        command = self.ctx.command_path if self.ctx is not None else "velocipy"
        error(f"{self.message} (see '{command} -h')")
        if self.usage and self.ctx is not None:
            usage = self.ctx.get_usage().removeprefix("Usage: ")
            err_console.print(f"usage: {usage}", soft_wrap=True, markup=False)


def _in_our_words(exc: Any, args: list[str]) -> OneLineUsageError:
    param = getattr(exc, "param", None)
    opts = list(getattr(param, "opts", None) or [])
    is_option = getattr(param, "param_type_name", "") == "option" and bool(opts)
    if isinstance(exc, _click_errors.MissingParameter) and param is not None:
        name = opts[0] if is_option else (param.metavar or (param.name or "").upper())
        return OneLineUsageError(f"missing {name}", exc.ctx, usage=True)
    if isinstance(exc, _click_errors.BadParameter) and is_option:
        name = next((opt for opt in opts if opt.startswith("--")), opts[0])
        value = _given(args, opts)
        shown = f", not {value!r}" if value is not None else ""
        metavar = getattr(param, "metavar", None) or ""
        # typer's wording differs between releases (click's, or pydantic-like): read its gist
        said = str(exc.message).lower()
        if "|" in metavar:
            choices = " or ".join(metavar.split("|"))
            return OneLineUsageError(f"{name} must be {choices}{shown}", exc.ctx)
        if "valid integer" in said:
            return OneLineUsageError(f"{name} must be a whole number{shown}", exc.ctx)
        if "valid float" in said or "valid number" in said:
            return OneLineUsageError(f"{name} must be a number{shown}", exc.ctx)
        return OneLineUsageError(f"{name}: {exc.message}", exc.ctx)
    message = str(exc.message).rstrip(".")
    return OneLineUsageError(message[:1].lower() + message[1:], exc.ctx)


def _given(args: list[str], opts: list[str]) -> str | None:
    """The raw text given for an option (``--port abc`` or ``--port=abc``), if found."""
    for index, arg in enumerate(args):
        for opt in opts:
            if arg == opt and index + 1 < len(args):
                return args[index + 1]
            if arg.startswith(opt + "="):
                return arg[len(opt) + 1 :]
    return None
