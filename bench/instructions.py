"""Instructions per request in process, counted by valgrind (load-independent).

Wall-clock figures on a shared machine move with the neighbours' load; instruction counts do
not. Each cell is run under ``valgrind --tool=callgrind`` twice, with ``n`` and ``3n``
requests, and the difference divided by ``2n``: start-up, imports and warm-up cancel out.

    python bench/instructions.py --only velocipy --scenario path-param -n 2000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from inprocess import make_asgi_runner, make_rsgi_runner
from peers import SCENARIOS, build_apps

_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


def _inner(framework: str, scenario_name: str, interface: str, n: int) -> None:
    scenario = next(s for s in SCENARIOS if s.name == scenario_name)
    app = build_apps([framework])[framework](interface)
    make = make_asgi_runner if interface == "asgi" else make_rsgi_runner
    runner = make(app, *scenario.request)
    loop = asyncio.new_event_loop()
    loop.run_until_complete(runner(200))  # warm up: the same in both runs
    loop.run_until_complete(runner(n))
    loop.close()


def count(framework: str, scenario: str, interface: str, n: int, python: str = "") -> int:
    """Instructions per request (valgrind must be installed)."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise RuntimeError("valgrind is not installed (apt-get install valgrind)")
    totals = []
    for requests in (n, 3 * n):
        argv = [
            valgrind,
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            python or sys.executable,
            __file__,
            "--inner",
            framework,
            scenario,
            interface,
            str(requests),
        ]
        # A fixed hash seed makes the count repeatable to the instruction.
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        result = subprocess.run(argv, capture_output=True, text=True, check=True, env=env)
        match = _COLLECTED.search(result.stderr)
        if match is None:
            raise RuntimeError(f"no instruction count from valgrind:\n{result.stderr[-1000:]}")
        totals.append(int(match.group(1)))
    return round((totals[1] - totals[0]) / (2 * n))


def run(
    frameworks: list[str], interfaces: tuple[str, ...], n: int, log: Any = None
) -> list[dict[str, Any]]:
    rows = []
    for scenario in SCENARIOS:
        for interface in interfaces:
            for framework in frameworks:
                if build_apps([framework])[framework](interface) is None:
                    continue
                row = {
                    "scenario": scenario.name,
                    "interface": interface,
                    "framework": framework,
                    "instructions_per_request": count(framework, scenario.name, interface, n),
                }
                rows.append(row)
                if log is not None:
                    log(row)
    return rows


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--inner":
        _inner(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="*", default=["bare", "velocipy"])
    parser.add_argument("--scenario", nargs="*", help="scenario names (default: all)")
    parser.add_argument("--interface", nargs="*", default=["asgi", "rsgi"])
    parser.add_argument("-n", type=int, default=1000)
    args = parser.parse_args()
    for scenario in SCENARIOS:
        if args.scenario and scenario.name not in args.scenario:
            continue
        for interface in args.interface:
            for framework in args.only:
                if build_apps([framework])[framework](interface) is None:
                    continue
                instructions = count(framework, scenario.name, interface, args.n)
                print(f"{scenario.name:<10} {interface:<5} {framework:<12} {instructions:>9}")


if __name__ == "__main__":
    main()
