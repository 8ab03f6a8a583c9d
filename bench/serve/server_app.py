"""The app a benchmark server loads: ``server_app:app``, chosen by environment variables.

``BENCH_APP`` names a factory in ``peers.py``, ``BENCH_INTERFACE`` is "asgi" or "rsgi", and
``BENCH_FILLERS`` the number of filler routes. ``BENCH_SUITE`` names another module of
factories that take only the interface (``techempower_apps``, ``stack_apps``). This folder
has no ``__init__.py`` on purpose: granian puts the first folder above a module's package on
``sys.path``, and from ``bench/`` that would be the repository root, whose ``velocipy`` would
shadow the other package named velocipy (in its own virtualenv). ``peers`` is found through
``PYTHONPATH`` (``bench/``).
"""

from __future__ import annotations

import importlib
import os

from peers import FACTORIES, FILLER_COUNT

_name = os.environ.get("BENCH_APP", "velocipy")
_interface = os.environ.get("BENCH_INTERFACE", "asgi")
_suite = os.environ.get("BENCH_SUITE")
if _suite:
    app = importlib.import_module(_suite).FACTORIES[_name](_interface)
else:
    app = FACTORIES[_name](_interface, fillers=int(os.environ.get("BENCH_FILLERS", FILLER_COUNT)))
if app is None:
    raise SystemExit(f"{_name} cannot serve {_interface} (or is not installed)")
