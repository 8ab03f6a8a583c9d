"""The feature stack: what CORS, GZip, sessions, a Depends chain of three, a validated body and
an auth check cost per request, in VelociPy, FastAPI and Litestar (``stack_apps.py``).

For each framework on each server it serves: the bare route (its ``/plaintext`` in the HTTP
tier's app, ``peers.py``) and the stack route (``POST /orders`` with an allowed Origin,
``Accept-Encoding: gzip``, the session cookie from ``GET /login``, a bearer token and a JSON
body) are timed with wrk. The stack's cost per request is the stack route's server CPU per
request minus the bare route's; the ratio is the one over the other. Before it is timed the
stack route is checked: compressed, CORS headers, the session re-sent, the body validated,
and a request without a token or with a bad body refused.
"""

from __future__ import annotations

import gzip
import http.client
import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from http_e2e import measure_endpoint
from servers import ServerFailed, serves, serving
from stack_apps import FACTORIES, LINES, ORDER, ORIGIN, TOKEN

SUITE = "stack_apps"
Response = tuple[int, dict[str, str], bytes]


def post(port: int, headers: dict[str, str], body: bytes) -> Response:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("POST", "/orders", body=body, headers=headers)
        reply = connection.getresponse()
        return reply.status, {k.lower(): v for k, v in reply.getheaders()}, reply.read()
    finally:
        connection.close()


def session_cookie(port: int) -> str:
    """``name=value`` of the session cookie ``GET /login`` sets."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", "/login")
        reply = connection.getresponse()
        reply.read()
        cookie = reply.getheader("set-cookie")
    finally:
        connection.close()
    if reply.status != 200 or not cookie:
        raise ValueError(f"GET /login answered {reply.status} without a session cookie")
    return cookie.split(";", 1)[0]


def request_headers(cookie: str) -> dict[str, str]:
    return {
        "Origin": ORIGIN,
        "Accept-Encoding": "gzip",
        "Authorization": f"Bearer {TOKEN}",
        "Cookie": cookie,
        "Content-Type": "application/json",
    }


def check_stack(response: Response) -> list[str]:
    """What every layer of the stack must have done to one good request."""
    status, headers, body = response
    problems = [] if status == 200 else [f"status {status}, not 200: {body[:120]!r}"]
    if headers.get("content-encoding") != "gzip":
        problems.append("the answer was not compressed with gzip")
        data = body
    else:
        data = gzip.decompress(body)
    if headers.get("access-control-allow-origin") != ORIGIN:
        problems.append("no Access-Control-Allow-Origin for the allowed origin")
    if headers.get("access-control-allow-credentials") != "true":
        problems.append("no Access-Control-Allow-Credentials")
    if "set-cookie" not in headers:
        problems.append("the changed session was not sent back")
    try:
        answer = json.loads(data)
    except ValueError:
        return [*problems, f"not JSON: {data[:80]!r}"]
    if answer.get("user") != "bench" or len(answer.get("lines", [])) != LINES:
        problems.append(f"unexpected answer {data[:120]!r}")
    if answer.get("visits") != 1:
        problems.append(f"the session was not read: visits {answer.get('visits')!r}")
    return problems


def verify(port: int, cookie: str) -> list[str]:
    headers = request_headers(cookie)
    problems = check_stack(post(port, headers, ORDER))
    anonymous = {k: v for k, v in headers.items() if k != "Authorization"}
    status = post(port, anonymous, ORDER)[0]
    if status not in (401, 403):
        problems.append(f"no token answered {status}, not 401 or 403")
    status = post(port, {**headers, "Authorization": "Bearer wrong"}, ORDER)[0]
    if status != 403:
        problems.append(f"a wrong token answered {status}, not 403")
    status = post(port, headers, b'{"item": "", "quantity": -1}')[0]
    if status not in (400, 422):
        problems.append(f"an invalid body answered {status}, not 400 or 422")
    return problems


def wrk_script(cookie: str, folder: Path) -> str:
    """A wrk Lua script sending the good request (every header of the stack, the JSON body)."""
    lines = ['wrk.method = "POST"', f"wrk.body = {json.dumps(ORDER.decode())}"]
    for name, value in request_headers(cookie).items():
        lines.append(f"wrk.headers[{json.dumps(name)}] = {json.dumps(value)}")
    path = folder / "stack.lua"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def run(
    frameworks: list[str],
    servers: list[str],
    *,
    rounds: int,
    seconds: float,
    connections: int,
    cpus: tuple[str | None, str | None],
    log: Any = print,
) -> list[dict[str, Any]]:
    """One row per (server, round, framework, route) with route "bare" or "stack"."""
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as scratch:
        for server in servers:
            runnable = [f for f in FACTORIES if f in frameworks and serves(f, server)]
            for round_index in range(rounds):
                shift = round_index % max(len(runnable), 1)
                for framework in runnable[shift:] + runnable[:shift]:
                    where = {"server": server, "round": round_index, "framework": framework}
                    try:
                        with serving(framework, server, cpus[0]) as running:
                            bare = measure_endpoint(
                                running, "/plaintext", seconds, connections, cpus[1]
                            )
                        with serving(framework, server, cpus[0], suite=SUITE) as running:
                            cookie = session_cookie(running.port)
                            problems = verify(running.port, cookie)
                            if problems:
                                log(f"  stack {server} {framework}: FAILED verification")
                                for problem in problems:
                                    log(f"    {problem}")
                                rows.append({**where, "problems": problems})
                                continue
                            script = wrk_script(cookie, Path(scratch))
                            stack = measure_endpoint(
                                running, "/orders", seconds, connections, cpus[1], script=script
                            )
                    except (
                        ServerFailed,
                        subprocess.CalledProcessError,
                        OSError,
                        ValueError,
                    ) as exc:
                        log(f"  stack {server} {framework}: FAILED {str(exc).splitlines()[0]}")
                        rows.append({**where, "error": str(exc)[:500]})
                        continue
                    cost = stack["server_cpu_us_per_request"] - bare["server_cpu_us_per_request"]
                    ratio = stack["server_cpu_us_per_request"] / bare["server_cpu_us_per_request"]
                    rows.append({**where, "route": "bare", **bare})
                    rows.append(
                        {
                            **where,
                            "route": "stack",
                            **stack,
                            "stack_cost_us": round(cost, 2),
                            "x_bare_route": round(ratio, 3),
                        }
                    )
                    log(
                        f"  stack {server:<13} r{round_index} {framework:<9} bare"
                        f" {bare['server_cpu_us_per_request']:.1f} us, stack"
                        f" {stack['server_cpu_us_per_request']:.1f} us/req: the stack costs"
                        f" {cost:.1f} us ({ratio:.2f}x the bare route)"
                        + (f" non-2xx {stack['non_2xx']}" if stack["non_2xx"] else "")
                    )
    return rows
