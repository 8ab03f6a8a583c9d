"""The app a benchmark server loads: ``server_app:app``, chosen by environment variables.

``BENCH_APP`` names a factory in ``peers.py``, ``BENCH_INTERFACE`` is "asgi" or "rsgi", and
``BENCH_FILLERS`` the number of filler routes. The servers import this module from the
``bench`` folder itself (not the repository root), so the other package named velocipy, in its
own virtualenv, is not shadowed by ours.
"""

from __future__ import annotations

import os

from peers import FACTORIES, FILLER_COUNT

_name = os.environ.get("BENCH_APP", "velocipy")
_interface = os.environ.get("BENCH_INTERFACE", "asgi")
app = FACTORIES[_name](_interface, fillers=int(os.environ.get("BENCH_FILLERS", FILLER_COUNT)))
if app is None:
    raise SystemExit(f"{_name} cannot serve {_interface} (or is not installed)")
