"""Number checks for options, as callbacks: the help then shows words, not ``[0<=x<=65535]``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import typer

N = TypeVar("N", int, float)


def between(low: N, high: N | None = None) -> Callable[[N | None], N | None]:
    """A callback that refuses values below ``low`` (or above ``high``) with a usage error."""

    def check(value: N | None) -> N | None:
        if value is None:
            return value
        if value < low:
            raise typer.BadParameter(f"{value:g} is below the minimum of {low:g}")
        if high is not None and value > high:
            raise typer.BadParameter(f"{value:g} is above the maximum of {high:g}")
        return value

    return check
