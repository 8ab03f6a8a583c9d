"""Targets, Markdown and README lines for the application-shaped tiers (issue 32):
the TechEmpower test types, the feature stack, broadcast fan-out and idle sockets at scale.

Rounds are summarised by their median, as in ``report.py``.
"""

from __future__ import annotations

import statistics
from typing import Any

from fanout import cells
from fanout_apps import MEMORY_ONLY
from techempower import TESTS

PEERS_AHEAD = ("starlette", "fastapi", "litestar", "blacksheep", "emmett")
STACK_VS_FASTAPI = 0.5  # the stack may cost at most half of FastAPI's ...
STACK_VS_LITESTAR = 1.0  # ... and at most Litestar's, per request
FANOUT_VS_LITESTAR = 1.5  # deliveries per server CPU-second, over Litestar's
FANOUT_VS_FLOOR = 1.3  # paced CPU per delivery, over the bare fan-out app's
IDLE_VS_BARE = 1.1  # memory per idle socket, over the bare app's


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def techempower_cells(results: dict[str, Any]) -> dict[tuple[str, str, str], dict[str, Any]]:
    """``{(server, framework, test): {rps, cpu, db_cpu, p99}}``, medians over the rounds, with
    the lowest and highest round's req/s (``rps_range``)."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for row in results["tiers"].get("techempower", []):
        if "test" in row:
            groups.setdefault((row["server"], row["framework"], row["test"]), []).append(row)
    return {
        key: {
            "rps": _median([r["rps"] for r in rows]),
            "rps_range": (min(r["rps"] for r in rows), max(r["rps"] for r in rows)),
            "cpu": _median([r["server_cpu_us_per_request"] for r in rows]),
            "db_cpu": _median([r["db_cpu_us_per_request"] for r in rows]),
            "p99": _median([r["p99_ms"] for r in rows]),
            "non_2xx": sum(r["non_2xx"] for r in rows),
        }
        for key, rows in groups.items()
    }


def _requests(cell: dict[str, Any]) -> str:
    """A cell's median req/s with its rounds' range: ``4324 req/s (4260-4391)``."""
    low, high = cell["rps_range"]
    return f"{cell['rps']:.0f} req/s ({low:.0f}-{high:.0f})"


def stack_cells(results: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """``{(server, framework): {bare, stack, cost, cost_range, ratio}}`` (server CPU us per
    request; each the median of the rounds, ``cost_range`` their lowest and highest cost)."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in results["tiers"].get("stack", []):
        if row.get("route") == "stack":
            groups.setdefault((row["server"], row["framework"]), []).append(row)
    bare = {
        (r["server"], r["framework"], r["round"]): r["server_cpu_us_per_request"]
        for r in results["tiers"].get("stack", [])
        if r.get("route") == "bare"
    }
    return {
        key: {
            "bare": _median([bare[(*key, r["round"])] for r in rows]),
            "stack": _median([r["server_cpu_us_per_request"] for r in rows]),
            "cost": _median([r["stack_cost_us"] for r in rows]),
            "cost_range": (
                min(r["stack_cost_us"] for r in rows),
                max(r["stack_cost_us"] for r in rows),
            ),
            "ratio": _median([r["x_bare_route"] for r in rows]),
        }
        for key, rows in groups.items()
    }


def fanout_runs(results: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per fan-out scenario that ran: the median of its rounds (``fanout.cells``)."""
    fanout = results["tiers"].get("fanout") or {}
    return [r for r in cells((fanout.get("report") or {}).get("runs", [])) if "error" not in r]


def _stack_cost(cell: dict[str, Any]) -> str:
    """A stack cell's median cost with its rounds' range: ``111.5 (105.4-172.6)``."""
    low, high = cell["cost_range"]
    return f"{cell['cost']:.1f} ({low:.1f}-{high:.1f})"


def _per_delivery(run: dict[str, Any]) -> str:
    """A scenario's CPU per delivery with its rounds' range: ``31.00 (29.50-32.00)``."""
    low, high = run["cpu_range"]
    return f"{run['server_cpu_us_per_delivery']:.2f} ({low:.2f}-{high:.2f})"


def _within_reach(same: list[dict[str, Any]], peer: dict[str, Any]) -> str:
    """What the cheapest floor of the run (no framework, no broker) reaches against ``peer``:
    a target above it is out of reach for any app on that server, not only for ours."""
    floors = [
        r["deliveries_per_cpu_second"]
        for r in same
        if r["app"] in MEMORY_ONLY and r["deliveries_per_cpu_second"]
    ]
    if not floors:
        return ""
    best = max(floors) / peer["deliveries_per_cpu_second"]
    reach = "out of reach" if best < FANOUT_VS_LITESTAR else "within reach"
    return f"; {reach}: the cheapest floor reaches {best:.2f}x"


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def check(name: str, holds: bool, detail: str) -> None:
        found.append({"name": name, "holds": bool(holds), "detail": detail})

    for row in results["tiers"].get("techempower", []):
        if row["framework"] == "velocipy" and ("problems" in row or "error" in row):
            reason = (row.get("problems") or [row.get("error", "")])[0]
            check(f"techempower {row['server']} velocipy passes verification", False, reason)
    cells = techempower_cells(results)
    for (server, framework, test), ours in sorted(cells.items()):
        if framework != "velocipy":
            continue
        peers = {
            f: c for (s, f, t), c in cells.items() if s == server and t == test and f != framework
        }
        if not peers:
            continue
        best = max(peers, key=lambda f: peers[f]["rps"])
        check(
            f"techempower {server} {test} ahead of every peer",
            ours["rps"] > peers[best]["rps"] and ours["non_2xx"] == 0,
            f"{_requests(ours)} vs {best} {_requests(peers[best])} "
            f"({ours['cpu']:.1f} vs {peers[best]['cpu']:.1f} us server CPU per request)",
        )
    stack = stack_cells(results)
    for (server, framework), ours in sorted(stack.items()):
        if framework != "velocipy":
            continue
        for peer, limit in (("fastapi", STACK_VS_FASTAPI), ("litestar", STACK_VS_LITESTAR)):
            theirs = stack.get((server, peer))
            if theirs is None:
                continue
            check(
                f"stack {server} cost <= {limit}x {peer}'s",
                ours["cost"] <= limit * theirs["cost"],
                f"{_stack_cost(ours)} vs {peer} {_stack_cost(theirs)} us per request "
                f"({ours['cost'] / theirs['cost']:.2f}x)",
            )
    runs = fanout_runs(results)
    for ours in runs:
        if ours["app"] != "velocipy":
            continue
        where = (
            f"{ours['server']} {ours['backend']} x{ours['workers']} "
            f"{ours['subscribers']} subscribers {ours['mode']}"
        )
        check(
            f"fanout {where}: every message delivered in order",
            ours["in_order"],
            f"{ours['delivered']:,} of {ours['expected']:,}",
        )
        same = [
            r
            for r in runs
            if all(r[k] == ours[k] for k in ("server", "subscribers", "mode", "messages"))
        ]
        litestar = next(
            (
                r
                for r in same
                if r["app"] == "litestar"
                and r["backend"] == ours["backend"]
                and r["workers"] == ours["workers"]
            ),
            None,
        )
        if litestar and litestar["deliveries_per_cpu_second"] and ours["deliveries_per_cpu_second"]:
            ratio = ours["deliveries_per_cpu_second"] / litestar["deliveries_per_cpu_second"]
            check(
                f"fanout {where} >= {FANOUT_VS_LITESTAR}x litestar per server CPU",
                ratio >= FANOUT_VS_LITESTAR,
                f"{ratio:.2f}x ({_per_delivery(ours)} vs {_per_delivery(litestar)} us per "
                "delivery)" + _within_reach(same, litestar),
            )
        floor = next((r for r in same if r["app"] == "bare"), None)
        if (
            ours["mode"] == "paced"
            and ours["workers"] == 1  # the floor is one process writing to every socket
            and floor
            and floor["server_cpu_us_per_delivery"]
        ):
            ratio = ours["server_cpu_us_per_delivery"] / floor["server_cpu_us_per_delivery"]
            check(
                f"fanout {where} <= {FANOUT_VS_FLOOR}x the bare fan-out floor",
                ratio <= FANOUT_VS_FLOOR,
                f"{ratio:.2f}x ({_per_delivery(ours)} vs {_per_delivery(floor)} us per delivery)",
            )
    idle = results["tiers"].get("scale", {}).get("idle_websocket", [])
    for ours in idle:
        bare = next(
            (r for r in idle if r["server"] == ours["server"] and r["framework"] == "bare"), None
        )
        if ours["framework"] != "velocipy" or not bare or bare["kb_per_connection"] <= 0:
            continue
        ratio = ours["kb_per_connection"] / bare["kb_per_connection"]
        check(
            f"idle websocket {ours['server']} memory <= {IDLE_VS_BARE}x bare",
            ratio <= IDLE_VS_BARE,
            f"{ratio:.2f}x ({ours['kb_per_connection']:.1f} vs "
            f"{bare['kb_per_connection']:.1f} KiB per connection)",
        )
    return found


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    return lines + ["| " + " | ".join(r) + " |" for r in rows]


def markdown(results: dict[str, Any], charts: dict[str, str] | None = None) -> list[str]:
    """The tiers' sections; ``charts`` names the chart files drawn for them (tier -> path)."""
    charts = charts or {}
    out: list[str] = []
    rows = results["tiers"].get("techempower", [])
    if rows:
        out += ["## TechEmpower test types", ""]
        out += [
            "Requests per second (wrk) on a PostgreSQL the bench started, with the server's "
            "CPU per request and the database's. Every app passed "
            "TechEmpower's verification checks before it was timed; an app that failed is "
            "listed below the tables with the first check it failed.",
            "",
        ]
        cells = techempower_cells(results)
        for server in results.get("servers", []):
            frameworks = [
                f
                for f in results.get("frameworks", [])
                if (server, f) in {(s, fw) for s, fw, _ in cells}
            ]
            if not frameworks:
                continue
            table = []
            for test in TESTS:
                line = [test]
                for framework in frameworks:
                    c = cells.get((server, framework, test))
                    line.append(
                        "-"
                        if c is None
                        else f"{c['rps']:.0f} ({c['cpu']:.0f} + {c['db_cpu']:.0f} us db)"
                    )
                if any(cell != "-" for cell in line[1:]):
                    table.append(line)
            out += [f"### {server}", "", *_table(["test", *frameworks], table), ""]
        failed = [r for r in rows if "problems" in r or "error" in r]
        for row in failed:
            reason = (row.get("problems") or [row.get("error", "")])[0]
            out.append(f"- {row['framework']} on {row['server']}: {str(reason)[:160]}")
        if failed:
            out.append("")
        out += _chart(charts, "techempower")
    stack = stack_cells(results)
    if stack:
        out += ["## Feature stack", ""]
        out += [
            "Server CPU per request of each framework's bare route and of the same framework's "
            "route behind CORS, GZip, a session, a bearer-token check, a Depends chain of "
            "three and a validated JSON body; the stack's cost is the difference.",
            "",
        ]
        table = [
            [
                server,
                framework,
                f"{c['bare']:.1f} us",
                f"{c['stack']:.1f} us",
                f"{c['cost']:.1f} us",
                f"{c['ratio']:.2f}x",
            ]
            for (server, framework), c in sorted(stack.items())
        ]
        out += [
            *_table(
                ["server", "framework", "bare route", "stack route", "stack cost", "ratio"], table
            ),
            "",
            *_chart(charts, "stack"),
        ]
    fanout = results["tiers"].get("fanout")
    if fanout is not None:
        out += ["## Broadcast fan-out", "", "From `bench/fanout.py`:", ""]
        if fanout.get("markdown"):
            out += [fanout["markdown"].strip(), ""]
        elif fanout.get("error"):
            out += ["The fan-out run failed:", "", "```", fanout["error"][-1500:], "```", ""]
        out += _chart(charts, "fanout")
    return out


def _chart(charts: dict[str, str], tier: str) -> list[str]:
    return [f"![{tier}]({charts[tier]})", ""] if tier in charts else []


def readme(results: dict[str, Any]) -> list[str]:
    """One line per application-shaped tier for the README's speed section."""
    lines: list[str] = []
    cells = techempower_cells(results)
    ahead = [t for t in targets(results) if t["name"].startswith("techempower")]
    if cells and ahead:
        held = sum(t["holds"] for t in ahead)
        lines.append(
            f"- TechEmpower test types on PostgreSQL: ahead of every peer in {held} of "
            f"{len(ahead)} (server, test type) cells."
        )
    stack = stack_cells(results)
    for (server, framework), c in sorted(stack.items()):
        if framework == "velocipy":
            others = ", ".join(
                f"{f} {o['cost']:.0f} us"
                for (s, f), o in sorted(stack.items())
                if s == server and f != framework
            )
            lines.append(
                f"- Feature stack on {server}: {c['cost']:.0f} us per request"
                + (f" ({others})" if others else "")
                + "."
            )
    found = targets(results)
    for kind, what in (
        (f">= {FANOUT_VS_LITESTAR}x litestar per server CPU", "deliveries per server CPU"),
        (f"<= {FANOUT_VS_FLOOR}x the bare fan-out floor", "paced CPU per delivery"),
    ):
        group = [t for t in found if t["name"].startswith("fanout") and t["name"].endswith(kind)]
        if group:
            ratios = sorted(float(t["detail"].split("x", 1)[0]) for t in group)
            held = sum(t["holds"] for t in group)
            spread = f"{ratios[0]:.2f}x" + (
                f" to {ratios[-1]:.2f}x" if f"{ratios[-1]:.2f}" != f"{ratios[0]:.2f}" else ""
            )
            beyond = sum("out of reach" in t["detail"] for t in group)
            lines.append(
                f"- Fan-out, {what}: {spread} "
                f"(target {kind.split(' ', 1)[1]}: held in {held} of {len(group)} scenarios"
                + (f"; {beyond} out of reach of the floor itself" if beyond else "")
                + ")."
            )
    ordered = [t for t in found if t["name"].startswith("fanout") and t["name"].endswith("order")]
    if ordered:
        kept = sum(t["holds"] for t in ordered)
        lines.append(
            f"- Fan-out: every message delivered in order in {kept} of {len(ordered)} scenarios."
        )
    idle = [t for t in found if t["name"].startswith("idle websocket")]
    if idle:
        lines.append(
            "- Memory per idle socket over the bare app's: "
            + ", ".join(f"{t['name'].split()[2]} {t['detail'].split(' ', 1)[0]}" for t in idle)
            + f" (target {IDLE_VS_BARE}x)."
        )
    return lines


# --- charts (drawn with report.py's helpers: ``bars`` puts a reference line at 1.0) -------
def charts(results: dict[str, Any], plt: Any, bars: Any, save: Any) -> None:
    """A chart per application-shaped tier that has figures: ``techempower``, ``stack``,
    ``fanout``, each a ratio so the reference line at 1.0 means something."""
    cells = techempower_cells(results)
    servers = [s for s in results.get("servers", []) if any(k[0] == s for k in cells)]
    if servers:
        fig, axes = plt.subplots(len(servers), 1, figsize=(10, 3 * len(servers)), squeeze=False)
        for ax, server in zip(axes[:, 0], servers, strict=True):
            frameworks = sorted({k[1] for k in cells if k[0] == server}, key=_velocipy_first)
            tests = [t for t in TESTS if any(k[0] == server and k[2] == t for k in cells)]
            fastest = {
                t: max(c["rps"] for k, c in cells.items() if k[::2] == (server, t)) for t in tests
            }
            series = {
                f: [(cells.get((server, f, t)) or {"rps": 0})["rps"] / fastest[t] for t in tests]
                for f in frameworks
            }
            bars(
                ax,
                tests,
                series,
                f"TechEmpower on {server}: req/s / the fastest's (higher is better)",
            )
            ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        save(fig, "techempower")
    stack = stack_cells(results)
    stack_servers = [s for s in results.get("servers", []) if (s, "fastapi") in stack]
    if stack_servers:
        fig, ax = plt.subplots(figsize=(6, 3.4))
        frameworks = sorted({k[1] for k in stack}, key=_velocipy_first)
        series = {
            f: [
                stack[(s, f)]["cost"] / stack[(s, "fastapi")]["cost"] if (s, f) in stack else 0.0
                for s in stack_servers
            ]
            for f in frameworks
        }
        bars(
            ax,
            stack_servers,
            series,
            "feature stack: cost per request / FastAPI's (lower is better)",
        )
        ax.axhline(STACK_VS_FASTAPI, color="red", linewidth=0.6, linestyle="--")
        ax.legend(fontsize=7)
        save(fig, "stack")
    runs = [r for r in fanout_runs(results) if r.get("deliveries_per_cpu_second")]
    groups = sorted(
        {
            (r["subscribers"], r["backend"], r["workers"], r["mode"])
            for r in runs
            if r["app"] == "litestar"
        }
    )
    if groups:
        apps = sorted({r["app"] for r in runs if r["app"] != "bare"}, key=_velocipy_first)

        def per_cpu(app: str, group: tuple[Any, ...]) -> float:
            found = [
                r["deliveries_per_cpu_second"]
                for r in runs
                if r["app"] == app
                and (r["subscribers"], r["backend"], r["workers"], r["mode"]) == group
            ]
            return float(found[0]) if found else 0.0

        fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(groups)), 3.6))
        series = {a: [per_cpu(a, g) / per_cpu("litestar", g) for g in groups] for a in apps}
        labels = [f"{n // 1000}k {b}\nx{w} {m}" for n, b, w, m in groups]
        bars(
            ax, labels, series, "fan-out: deliveries per server CPU / Litestar's (higher is better)"
        )
        ax.axhline(FANOUT_VS_LITESTAR, color="red", linewidth=0.6, linestyle="--")
        ax.tick_params(axis="x", labelsize=6)
        ax.legend(fontsize=7)
        save(fig, "fanout")


def _velocipy_first(name: str) -> tuple[bool, str]:
    return (name != "velocipy", name)
