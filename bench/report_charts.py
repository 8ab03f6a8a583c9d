"""The suite's bar charts: one PNG per tier, drawn with matplotlib when it is installed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import report_tiers
from report import SCENARIOS, _http, _inproc, _ordered, _ws

__all__ = ["charts"]


def charts(results: dict[str, Any], folder: Path) -> dict[str, Path]:
    """One bar chart per tier (PNG); empty when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return {}
    folder.mkdir(parents=True, exist_ok=True)
    made: dict[str, Path] = {}

    palette = plt.get_cmap("tab10")
    colours = {name: palette(i % 10) for i, name in enumerate(results.get("frameworks", []))}

    def bars(ax: Any, groups: list[str], series: dict[str, list[float]], title: str) -> None:
        width = 0.8 / max(len(series), 1)
        for i, (name, values) in enumerate(series.items()):
            ax.bar(
                [g + i * width for g in range(len(groups))],
                values,
                width,
                label=name,
                color=colours.get(name),
            )
        ax.set_xticks([g + width * (len(series) - 1) / 2 for g in range(len(groups))], groups)
        ax.set_title(title, fontsize=9)
        ax.axhline(1.0, color="grey", linewidth=0.6)

    def save(fig: Any, name: str) -> None:
        fig.tight_layout()
        path = folder / f"{name}.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        made[name] = path

    inproc = _inproc(results)
    if inproc:
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
        for ax, interface in zip(axes, ("asgi", "rsgi"), strict=True):
            frameworks = _ordered({k[2] for k in inproc if k[1] == interface}, results)
            series = {
                f: [inproc[(s, interface, f)]["x_bare"] for s in SCENARIOS] for f in frameworks
            }
            bars(
                ax,
                list(SCENARIOS),
                series,
                f"in process, {interface.upper()}: x bare (lower is better)",
            )
        axes[0].legend(fontsize=7)
        save(fig, "inprocess")
    # Server CPU per request (message) as bare's over each framework's: what throughput would
    # be at saturation, and robust to a loaded machine (req/s are in the tables).
    for tier, summary, groups, cpu_key, title in (
        ("http", _http(results), SCENARIOS, "server_cpu_us_per_request", "per request"),
        ("websocket", _ws(results), (1, 8), "server_cpu_us_per_message", "per message"),
    ):
        servers = [s for s in results.get("servers", []) if any(k[0] == s for k in summary)]
        if not servers:
            continue
        fig, axes = plt.subplots(1, len(servers), figsize=(4 * len(servers), 3.4), squeeze=False)
        for ax, server in zip(axes[0], servers, strict=True):
            frameworks = _ordered({k[1] for k in summary if k[0] == server}, results)
            series = {
                f: [_cpu_ratio(summary, server, f, g, cpu_key) for g in groups] for f in frameworks
            }
            labels = [str(g) if tier == "http" else f"{g} in flight" for g in groups]
            bars(ax, labels, series, f"{server}: bare CPU / CPU {title} (higher is better)")
            ax.legend(fontsize=6)
        save(fig, tier)
    scale = results["tiers"].get("scale", {})
    if scale.get("startup") or scale.get("route_lookup"):
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
        lookup = [r for r in scale.get("route_lookup", []) if r["interface"] == "asgi"]
        counts = sorted({r["routes"] for r in lookup})
        for kind in ("static", "param"):
            values = [
                next(r["ns_per_request"] for r in lookup if r["routes"] == n and r["route"] == kind)
                for n in counts
            ]
            axes[0].plot([str(n) for n in counts], values, marker="o", label=kind)
        axes[0].set_title("ASGI request ns by number of routes", fontsize=9)
        axes[0].legend(fontsize=7)
        startup = scale.get("startup")
        if startup:
            names = [r["module"] for r in startup["imports"]]
            axes[1].barh(names, [r["ms_above_python"] for r in startup["imports"]])
            axes[1].set_title("import time above python -c pass (ms)", fontsize=9)
        save(fig, "scale")
    report_tiers.charts(results, plt, bars, save)
    return made


def _cpu_ratio(summary: dict, server: str, framework: str, group: Any, key: str) -> float:
    bare = summary.get((server, "bare", group))
    cell = summary.get((server, framework, group))
    if not bare or not cell or not cell.get(key):
        return 0.0
    return float(bare[key] / cell[key])
