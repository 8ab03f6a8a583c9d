"""``python -m bench``: run the benchmark suite and write JSON, Markdown and charts.

    python -m bench --quick                 # a few minutes: every tier, short runs
    python -m bench                         # the full run behind docs/benchmarks.md
    python -m bench --docs                  # ... and regenerate docs/benchmarks.md + README

Tiers: ``inprocess`` (no server), ``http`` (wrk against granian RSGI / granian ASGI /
uvicorn), ``websocket`` (echo, 1 and 8 in flight), ``scale`` (route lookup, start-up time,
idle WebSocket memory and broadcast time), ``techempower`` (the TechEmpower test types on a
PostgreSQL the bench starts), ``stack`` (CORS, GZip, sessions, Depends, a validated body and
auth: the cost per request), ``fanout`` (``bench/fanout.py``: broadcast to many subscribers,
beside the real-time peers). Results go to ``bench/results/`` (git-ignored) unless ``--out``
says otherwise.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))  # the tier modules import each other as top-level modules

import features  # noqa: E402
import http_e2e  # noqa: E402
import inprocess  # noqa: E402
import inprocess_ws  # noqa: E402
import instructions  # noqa: E402
import machine  # noqa: E402
import report  # noqa: E402
import scale  # noqa: E402
import server_instructions  # noqa: E402
import stack  # noqa: E402
import techempower  # noqa: E402
import websocket  # noqa: E402
from fanout import APPS as FANOUT_APPS  # noqa: E402
from fanout_apps import MEMORY_ONLY as FANOUT_FLOORS  # noqa: E402
from peers import FACTORIES  # noqa: E402
from servers import PYPI_NAME, SERVERS, pypi_python  # noqa: E402

REALTIME_PEERS = ("django-channels", "socketio")  # measured by the fan-out tier only
TIERS = ("inprocess", "http", "websocket", "scale", "techempower", "stack", "fanout")


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    quick = args.quick
    defaults = {
        "rounds": 1 if quick else 3,
        "duration": 2.0 if quick else 10.0,
        "ws_duration": 2.0 if quick else 5.0,
        "connections": 64,
        "ws_connections": 16,
        "warmup": 1.0 if quick else 2.0,
        "inprocess_n": 2000 if quick else 10000,
        "inprocess_rounds": 3 if quick else 5,
        "lookup_n": 1000 if quick else 5000,
        "startup_runs": 5 if quick else 20,
        "idle_connections": 200 if quick else 10000,
        "subscribers": "100" if quick else "1000,10000",
        "messages": 20 if quick else 200,
        "pace": 0.05 if quick else 0.5,  # seconds between paced fan-out messages
        "db_pool": 8,  # asyncpg connections per worker, the same for every framework
    }
    for key in defaults:
        value = getattr(args, key)
        if value is not None:
            defaults[key] = value
    return defaults


def _frameworks(requested: list[str] | None, log: Any) -> list[str]:
    names = requested or list(FACTORIES)
    chosen = []
    for name in names:
        if name == "bare" or name in chosen:
            continue
        if name == PYPI_NAME:
            try:
                pypi_python()
            except (OSError, subprocess.CalledProcessError) as exc:
                log(f"skipping {PYPI_NAME}: its virtualenv could not be made ({exc})")
                continue
        elif FACTORIES[name]("asgi") is None and FACTORIES[name]("rsgi") is None:
            log(f"skipping {name}: not installed (pip install -e '.[bench]')")
            continue
        chosen.append(name)
    return ["bare", *chosen]


def run_inprocess(frameworks: list[str], n: int, rounds: int) -> list[dict[str, Any]]:
    local = [f for f in frameworks if f != PYPI_NAME]
    rows = inprocess.run(local, n, rounds)
    python = pypi_python(create=False) if PYPI_NAME in frameworks else None
    if python is not None:  # the package-index velocipy runs in its own interpreter
        argv = [str(python), str(BENCH_DIR / "inprocess.py"), "--json", "--only", PYPI_NAME]
        argv += ["-n", str(n), "--rounds", str(rounds)]
        output = subprocess.run(argv, capture_output=True, text=True, check=True, cwd=BENCH_DIR)
        rows += [r for r in json.loads(output.stdout) if r["framework"] == PYPI_NAME]
    return rows


def run_inprocess_ws(frameworks: list[str], n: int, log: Any) -> list[dict[str, Any]]:
    rows = []
    for interface in ("asgi", "rsgi"):
        for framework in frameworks:
            if framework == PYPI_NAME or FACTORIES[framework](interface) is None:
                continue
            try:
                ns = inprocess_ws.ns_per_message(framework, interface, n, 3)
            except Exception as exc:  # a peer that needs its server's start-up to take sockets
                log(f"  in-process WebSocket {interface} {framework}: skipped ({exc!r:.80})")
                continue
            rows.append({"interface": interface, "framework": framework, "ns_per_message": ns})
    return rows


def run_fanout(settings: dict[str, Any], apps: list[str], servers: list[str], log: Any) -> Any:
    """The broadcast fan-out tier: ``bench/fanout.py`` with its JSON and Markdown."""
    if importlib.util.find_spec("fanout") is None:
        log("  fanout: bench/fanout.py is not in this tree yet: skipped")
        return None
    log("broadcast fan-out (bench/fanout.py) ...")
    with tempfile.TemporaryDirectory() as folder:
        json_path, md_path = Path(folder) / "fanout.json", Path(folder) / "fanout.md"
        argv = [sys.executable, str(BENCH_DIR / "fanout.py"), "--json", str(json_path)]
        argv += ["--markdown", str(md_path), "--servers", *servers]
        argv += ["--subscribers", str(settings["subscribers"])]
        argv += ["--messages", str(settings["messages"]), "--pace", str(settings["pace"])]
        argv += ["--rounds", str(settings["rounds"])]
        argv += ["--apps", *apps]
        result = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=BENCH_DIR)
        for line in result.stdout.splitlines():
            if line.startswith("  "):
                log(line)
        if result.returncode != 0 or not json_path.exists():
            log(f"  fanout: FAILED (exit {result.returncode})")
            return {"error": (result.stderr or result.stdout)[-1000:]}
        return {
            "report": json.loads(json_path.read_text()),
            "markdown": md_path.read_text() if md_path.exists() else "",
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="short runs, one round")
    parser.add_argument("--tiers", nargs="*", choices=TIERS, default=list(TIERS))
    parser.add_argument("--frameworks", nargs="*", help=f"default: all ({', '.join(FACTORIES)})")
    parser.add_argument("--servers", nargs="*", choices=SERVERS, default=list(SERVERS))
    parser.add_argument(
        "--realtime-peers",
        nargs="*",
        choices=REALTIME_PEERS,
        default=list(REALTIME_PEERS),
        help="fan-out only peers, beside --frameworks (skipped when not installed)",
    )
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "results")
    parser.add_argument("--docs", action="store_true", help="rewrite docs/benchmarks.md, README")
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="also count instructions with valgrind (in process, inside the servers, start-up)",
    )
    for name, kind in (
        ("rounds", int),
        ("duration", float),
        ("ws-duration", float),
        ("connections", int),
        ("ws-connections", int),
        ("warmup", float),
        ("inprocess-n", int),
        ("inprocess-rounds", int),
        ("lookup-n", int),
        ("startup-runs", int),
        ("idle-connections", int),
        ("subscribers", str),
        ("messages", int),
        ("pace", float),
        ("db-pool", int),
    ):
        parser.add_argument(f"--{name}", type=kind)
    parser.add_argument(
        "--from-json",
        type=Path,
        nargs="+",
        help="write the reports of saved results.json files (merged, in order), run nothing",
    )
    args = parser.parse_args(argv)
    if args.from_json:
        saved = report.merge([json.loads(path.read_text()) for path in args.from_json])
        saved["targets"] = report.targets(saved)
        for path in report.write(saved, args.out, docs=args.docs):
            print(f"wrote {path}")
        return 0
    settings = _settings(args)

    def log(message: Any) -> None:
        print(message, flush=True)

    frameworks = _frameworks(args.frameworks, log)
    cpus = machine.pinning()
    if cpus[0] is None:
        log("only one CPU: server and load generator are not pinned apart (figures are rough)")
    results: dict[str, Any] = {
        "command": "python -m bench " + shlex.join(argv if argv is not None else sys.argv[1:]),
        "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "machine": machine.machine(),
        "pinning": {"server_cpus": cpus[0], "client_cpus": cpus[1]},
        "settings": settings,
        "frameworks": frameworks,
        "servers": args.servers,
        "loadavg_start": machine.loadavg(),
        "tiers": {},
    }
    tiers = results["tiers"]
    if "inprocess" in args.tiers:
        log("in process ...")
        tiers["inprocess"] = run_inprocess(
            frameworks, settings["inprocess_n"], settings["inprocess_rounds"]
        )
        tiers["inprocess_websocket"] = run_inprocess_ws(frameworks, settings["inprocess_n"], log)
        if "velocipy" in frameworks:
            log("rate limiting and caching in process ...")
            tiers["inprocess_features"] = features.run(
                settings["inprocess_n"], settings["inprocess_rounds"]
            )
        if args.instructions:
            log("instructions per request in process (valgrind) ...")
            tiers["inprocess_instructions"] = instructions.run(
                [f for f in frameworks if f in ("bare", "floor", "velocipy")], ("asgi", "rsgi"), 500
            )
    if "http" in args.tiers:
        log("end to end HTTP ...")
        tiers["http"] = http_e2e.run(
            frameworks,
            args.servers,
            rounds=settings["rounds"],
            seconds=settings["duration"],
            connections=settings["connections"],
            cpus=cpus,
            warmup=settings["warmup"],
            log=log,
        )
        if args.instructions:
            log("instructions per request inside the servers (valgrind) ...")
            tiers["server_instructions"] = server_instructions.run(
                args.servers, list(server_instructions.ENDPOINTS), 200, log=log
            )
    if "websocket" in args.tiers:
        log("WebSocket echo ...")
        tiers["websocket"] = websocket.run(
            frameworks,
            args.servers,
            rounds=settings["rounds"],
            seconds=settings["ws_duration"],
            connections=settings["ws_connections"],
            cpus=cpus,
            log=log,
        )
        if args.instructions:
            log("instructions per WebSocket message inside the servers (valgrind) ...")
            tiers.setdefault("server_instructions", []).extend(
                server_instructions.run(
                    args.servers,
                    [server_instructions.echo_name(k) for k in server_instructions.ECHO_IN_FLIGHT],
                    200,
                    log=log,
                )
            )
    if "scale" in args.tiers:
        log("scale ...")
        tiers["scale"] = {
            "route_lookup": scale.route_lookup(settings["lookup_n"], 3, log=log),
            "startup": scale.startup_times(
                settings["startup_runs"], instructions=args.instructions, log=log
            ),
            "idle_websocket": scale.idle_websockets(
                [f for f in frameworks if f in ("bare", "velocipy", "starlette")],
                args.servers,
                settings["idle_connections"],
                cpus,
                log=log,
            ),
        }
    if "techempower" in args.tiers:
        log("TechEmpower test types on PostgreSQL ...")
        tiers["techempower"] = techempower.run(
            [f for f in frameworks if f in techempower.FACTORIES],
            args.servers,
            rounds=settings["rounds"],
            seconds=settings["duration"],
            connections=settings["connections"],
            cpus=cpus,
            pool=settings["db_pool"],
            log=log,
        )
    if "stack" in args.tiers:
        log("feature stack ...")
        tiers["stack"] = stack.run(
            frameworks,
            args.servers,
            rounds=settings["rounds"],
            seconds=settings["duration"],
            connections=settings["connections"],
            cpus=cpus,
            log=log,
        )
    if "fanout" in args.tiers:
        # both floors always run: the targets are read against them
        floors = sorted(FANOUT_FLOORS)
        apps = floors + [f for f in frameworks if f in FANOUT_APPS and f not in floors]
        apps += args.realtime_peers
        fanout = run_fanout(settings, apps, args.servers, log)
        if fanout is not None:
            tiers["fanout"] = fanout
    results["loadavg_end"] = machine.loadavg()
    results["targets"] = report.targets(results)
    paths = report.write(results, args.out, docs=args.docs)
    for target in results["targets"]:
        verdict = "holds " if target["holds"] else "MISSED"
        log(f"  target {verdict} {target['name']}: {target['detail']}")
    for path in paths:
        log(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
