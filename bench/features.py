"""What rate limiting and response caching cost in process, beside the plain route.

Rows, for ASGI and RSGI: the plain route in an app without features; the same plain route in an
app whose other routes are rate-limited and cached (a route that uses neither must pay
nothing: the ratio stays at 1); a rate-limited route (in memory, a budget that never runs out);
a cached route answered from the cache (a hit, in memory).

    python bench/features.py --quick
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from inprocess import make_asgi_runner, make_rsgi_runner, measure

PLAIN = b"Hello, World!"
ROWS = ("plain, app without features", "plain, app with features", "rate-limited", "cached hit")


def features_app(with_features: bool) -> Any:
    from velocipy import PlainTextResponse, VelociPy
    from velocipy.caching import ResponseCache
    from velocipy.ratelimit import RateLimit

    app = VelociPy()

    @app.get("/plaintext")
    async def plaintext() -> PlainTextResponse:
        return PlainTextResponse(PLAIN)

    if with_features:
        limit = RateLimit(10**12, "day")  # counted every time, never refused

        @app.get("/limited", rate_limit=limit)
        async def limited() -> PlainTextResponse:
            return PlainTextResponse(PLAIN)

        @app.get("/cached", cache=ResponseCache(ttl=3600))
        async def cached() -> PlainTextResponse:
            return PlainTextResponse(PLAIN)

    return app


def run(n: int, rounds: int, log: Any = None) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for interface in ("asgi", "rsgi"):
        make = make_asgi_runner if interface == "asgi" else make_rsgi_runner
        plain_app, feature_app = features_app(False), features_app(True)
        cases = (
            (ROWS[0], plain_app, "/plaintext"),
            (ROWS[1], feature_app, "/plaintext"),
            (ROWS[2], feature_app, "/limited"),
            (ROWS[3], feature_app, "/cached"),
        )
        base = None
        for label, app, path in cases:
            ns, status = measure(make(app, "GET", path, ""), n, rounds)
            base = base or ns
            row = {
                "interface": interface,
                "route": label,
                "ns_per_request": round(ns, 1),
                "x_plain": round(ns / base, 3),
                "status": status,
            }
            rows.append(row)
            if log is not None:
                log(row)
    return rows


def markdown(rows: list[dict[str, Any]]) -> list[str]:
    if not rows:
        return []
    out = [
        "## Rate limiting and caching in process",
        "",
        "Nanoseconds per request through each entry point, and the ratio to the plain route in "
        "an app without features. A plain route in an app that also has rate-limited and cached "
        "routes pays nothing for them (decided at registration); the limit counts in memory, "
        "the cached route is a hit.",
        "",
        "| route | ASGI ns | ASGI x | RSGI ns | RSGI x |",
        "|---|---|---|---|---|",
    ]
    cells = {(r["interface"], r["route"]): r for r in rows}
    for label in ROWS:
        a, r = cells.get(("asgi", label)), cells.get(("rsgi", label))
        if a is None or r is None:
            continue
        out.append(
            f"| {label} | {a['ns_per_request']:.0f} | {a['x_plain']:.2f} | "
            f"{r['ns_per_request']:.0f} | {r['x_plain']:.2f} |"
        )
    return [*out, ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = run(500 if args.quick else 10000, 2 if args.quick else 5)
    if args.json:
        print(json.dumps(rows))
    else:
        print("\n".join(markdown(rows)))


if __name__ == "__main__":
    main()
