"""``VelociPy``: the neutral application served natively over both ASGI and RSGI."""

from __future__ import annotations

from velocipy.application import Application
from velocipy.asgi import ASGIEntrypoint
from velocipy.rsgi import RSGIEntrypoint

__all__ = ["VelociPy"]


class VelociPy(ASGIEntrypoint, RSGIEntrypoint, Application):
    """A VelociPy app: ``uvicorn main:app`` and ``granian main:app --interface rsgi`` both serve it.

    ``__call__`` is the ASGI entry point; ``__rsgi__``, ``__rsgi_init__`` and ``__rsgi_del__``
    are granian's. Both hand the core a neutral request, so every handler runs unchanged.
    """
