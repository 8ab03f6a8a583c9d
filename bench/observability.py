"""What each observability instrument costs a request, in instructions (valgrind, in process).

The plain app of the benchmark (``peers.velocipy_app``) is measured bare and with one instrument
added, on the ``json`` and ``path-param`` scenarios over ASGI and RSGI. ``health`` only adds
routes: it must cost the others nothing. Short runs (``-n`` requests; the difference of an ``n``
and a ``3n`` run, as bench/instructions.py does; below about 1,000 requests the
run-to-run noise of the process start, some million instructions, is thousands a request).

    python bench/observability.py --scenario json
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from inprocess import make_asgi_runner, make_rsgi_runner
from peers import SCENARIOS, velocipy_app

INSTRUMENTS = ("off", "health", "access-log", "request-id", "server-timing", "prometheus", "otel")
_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


def instrumented_app(interface: str, instrument: str) -> Any:
    from velocipy import observability as obs

    app = velocipy_app(interface)
    if instrument == "health":
        app.add_instrument(obs.Health())
    elif instrument == "access-log":
        logger = logging.getLogger("bench.access")
        logger.addHandler(logging.StreamHandler(open(os.devnull, "w")))  # noqa: SIM115
        logger.setLevel(logging.INFO)
        logger.propagate = False
        app.add_instrument(obs.AccessLog("json", logger=logger))
    elif instrument == "request-id":
        app.add_instrument(obs.RequestID())
    elif instrument == "server-timing":
        app.add_instrument(obs.ServerTiming())
    elif instrument == "prometheus":
        app.add_instrument(obs.Prometheus())
    elif instrument == "otel":
        from opentelemetry.sdk.trace import TracerProvider

        app.add_instrument(obs.OpenTelemetry(tracer_provider=TracerProvider()))  # no exporter
    return app


def _inner(instrument: str, scenario_name: str, interface: str, n: int) -> None:
    scenario = next(s for s in SCENARIOS if s.name == scenario_name)
    app = instrumented_app(interface, instrument)
    make = make_asgi_runner if interface == "asgi" else make_rsgi_runner
    runner = make(app, *scenario.request)
    loop = asyncio.new_event_loop()
    loop.run_until_complete(app.startup())
    loop.run_until_complete(runner(200))
    loop.run_until_complete(runner(n))
    loop.close()


def count(instrument: str, scenario: str, interface: str, n: int) -> int:
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise RuntimeError("valgrind is not installed (apt-get install valgrind)")
    totals = []
    for requests in (n, 3 * n):
        argv = [valgrind, "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable]
        argv += [__file__, "--inner", instrument, scenario, interface, str(requests)]
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        result = subprocess.run(argv, capture_output=True, text=True, check=True, env=env)
        match = _COLLECTED.search(result.stderr)
        if match is None:
            raise RuntimeError(f"no instruction count from valgrind:\n{result.stderr[-1000:]}")
        totals.append(int(match.group(1)))
    return round((totals[1] - totals[0]) / (2 * n))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--inner":
        _inner(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--instrument", nargs="*", choices=INSTRUMENTS, default=list(INSTRUMENTS))
    parser.add_argument("--scenario", nargs="*", default=["json", "path-param"])
    parser.add_argument("--interface", nargs="*", default=["asgi", "rsgi"])
    parser.add_argument("-n", type=int, default=2000)
    args = parser.parse_args()
    for scenario in args.scenario:
        for interface in args.interface:
            base = None
            for instrument in args.instrument:
                instructions = count(instrument, scenario, interface, args.n)
                base = instructions if base is None else base
                extra = f"{instructions - base:+,}" if instrument != "off" else ""
                print(f"{scenario:<10} {interface:<5} {instrument:<14} {instructions:>9,} {extra}")


if __name__ == "__main__":
    main()
