"""The `velocipy run` command (being built; registers nothing yet)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Attach this command to the `velocipy` Typer app."""
