"""The application-shaped tiers of ``python -m bench`` (issue 32), in quick mode with tiny counts:
the TechEmpower test types on a real PostgreSQL, the feature stack, and the checks each app
must pass before it is timed (TechEmpower's verification rules, the stack's layers). No speed
is asserted; peers are not installed in CI, so VelociPy runs alone beside the bare app.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

import stack  # noqa: E402
import techempower  # noqa: E402
from report import markdown, targets  # noqa: E402
from report_tiers import stack_cells, techempower_cells  # noqa: E402

HEADERS = {
    "server": "uvicorn",
    "date": "Mon, 07 Dec 2026 04:00:00 GMT",
    "content-length": "27",
}


def reply(content_type: str, body: bytes, **headers: str) -> techempower.Response:
    return 200, {**HEADERS, "content-type": content_type, **headers}, body


def fortunes_page(rows: list[tuple[int, str]], escape: bool = True) -> bytes:
    import html

    cells = "".join(
        f"<tr><td>{i}</td><td>{html.escape(m) if escape else m}</td></tr>" for i, m in rows
    )
    page = "<!DOCTYPE html><html><head><title>Fortunes</title></head><body><table>"
    page += f"<tr><th>id</th><th>message</th></tr>{cells}</table></body></html>"
    return page.encode()


SORTED = sorted([*techempower.FORTUNES, techempower.ADDITIONAL_FORTUNE], key=lambda r: r[1])


def test_a_correct_response_of_each_type_passes_verification() -> None:
    world = b'{"id": 17, "randomNumber": 9000}'
    assert techempower.check_json(reply("application/json", b'{"message":"Hello, World!"}')) == []
    assert techempower.check_db(reply("application/json", world)) == []
    assert techempower.check_queries(reply("application/json", b"[" + world + b"]"), 1) == []
    assert techempower.check_plaintext(reply("text/plain; charset=utf-8", b"Hello, World!")) == []
    page = reply("text/html; charset=utf-8", fortunes_page(SORTED))
    assert techempower.check_fortunes(page) == []


@pytest.mark.parametrize(
    ("response", "problem"),
    [
        (
            (200, {"server": "x", "content-type": "application/json", "content-length": "27"},
             b'{"message":"Hello, World!"}'),
            "required header missing: date",
        ),
        (
            (200, {**HEADERS, "content-type": "text/plain"}, b'{"message":"Hello, World!"}'),
            "content-type 'text/plain', not 'application/json'",
        ),
        (
            reply("application/json", b'{"message":"Hello, world!"}'),
            "not {\"message\": \"Hello, World!\"}",
        ),
        (
            (503, {**HEADERS, "content-type": "application/json"}, b'{"message":"Hello, World!"}'),
            "status 503, not 200",
        ),
    ],
)  # fmt: skip
def test_the_json_check_names_what_is_wrong(response: Any, problem: str) -> None:
    problems = techempower.check_json(response)
    assert len(problems) == 1
    assert problem in problems[0]


def test_world_rows_outside_the_table_or_the_wrong_count_fail() -> None:
    assert techempower.check_db(reply("application/json", b'{"id": 0, "randomNumber": 5}')) == [
        "id is 0, not an integer from 1 to 10000"
    ]
    assert techempower.check_db(reply("application/json", b'{"id": 3}')) == [
        "randomnumber is None, not an integer from 1 to 10000"
    ]
    twenty = json.dumps([{"id": i, "randomNumber": i} for i in range(1, 21)]).encode()
    assert techempower.check_queries(reply("application/json", twenty), 20) == []
    assert techempower.check_queries(reply("application/json", twenty), 500) == [
        "20 objects, not 500"
    ]
    assert techempower.check_queries(reply("application/json", b'{"id": 1}'), 1) == [
        "not a JSON array: b'{\"id\": 1}'"
    ]


def test_the_fortunes_check_wants_the_escaped_sorted_table_with_the_added_fortune() -> None:
    html = "text/html; charset=utf-8"
    unescaped = techempower.check_fortunes(reply(html, fortunes_page(SORTED, escape=False)))
    assert "a fortune's <script> was not escaped" in unescaped
    by_id = sorted(SORTED)
    assert techempower.check_fortunes(reply(html, fortunes_page(by_id)))[0].startswith(
        "the table is not the sorted fortunes"
    )
    without_added = [row for row in SORTED if row[0] != 0]
    assert len(techempower.check_fortunes(reply(html, fortunes_page(without_added)))) == 1
    assert techempower.check_fortunes(reply("text/html", fortunes_page(SORTED))) == [
        "content-type 'text/html', not 'text/html; charset=utf-8'"
    ]


def test_the_queries_parameter_is_clamped_as_techempower_says() -> None:
    from techempower_apps import query_count

    cases = {None: 1, "": 1, "foo": 1, "-3": 1, "0": 1, "1": 1, "20": 20, "500": 500, "501": 500}
    assert {value: query_count(value) for value in cases} == cases


def run_bench(tmp_path: Path, *arguments: str) -> dict[str, Any]:
    out = tmp_path / "results"
    command = [sys.executable, "-m", "bench", "--quick", *arguments, "--out", str(out)]
    command += ["--frameworks", "velocipy", "--servers", "granian-rsgi", "uvicorn"]
    command += ["--duration", "1", "--warmup", "0"]
    run = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    results: dict[str, Any] = json.loads((out / "results.json").read_text())
    results["page"] = (out / "results.md").read_text()
    return results


@pytest.mark.interop
@pytest.mark.slow
def test_the_techempower_tier_verifies_and_times_every_test_type(tmp_path: Path) -> None:
    results = run_bench(tmp_path, "--tiers", "techempower")
    rows = results["tiers"]["techempower"]
    assert not [r for r in rows if "problems" in r or "error" in r]  # verification passed
    assert {(r["server"], r["framework"], r["test"]) for r in rows} == {
        (server, "velocipy", test)
        for server in ("granian-rsgi", "uvicorn")
        for test in techempower.TESTS
    }
    for row in rows:
        assert row["requests"] > 0
        assert row["non_2xx"] == 0
        assert row["server_cpu_us_per_request"] > 0
        assert row["db_cpu_us_per_request"] >= 0
    cells = techempower_cells(results)
    assert cells[("uvicorn", "velocipy", "queries-500")]["db_cpu"] > 0  # the database worked
    assert "## TechEmpower test types" in results["page"]
    assert results["targets"] == targets(results)


@pytest.mark.interop
@pytest.mark.slow
def test_the_stack_tier_measures_the_bare_and_the_stacked_route(tmp_path: Path) -> None:
    results = run_bench(tmp_path, "--tiers", "stack")
    rows = results["tiers"]["stack"]
    assert not [r for r in rows if "problems" in r or "error" in r]  # every layer did its part
    assert {(r["server"], r["route"]) for r in rows} == {
        (server, route) for server in ("granian-rsgi", "uvicorn") for route in ("bare", "stack")
    }
    assert all(r["non_2xx"] == 0 and r["requests"] > 0 for r in rows)
    for (server, framework), cell in stack_cells(results).items():
        assert framework == "velocipy"
        assert cell["cost"] == pytest.approx(cell["stack"] - cell["bare"], abs=0.01)
    assert "## Feature stack" in results["page"]


def test_a_stack_cell_is_the_median_of_its_rounds_and_shows_their_range() -> None:
    """Three rounds each: the target compares the median costs and names both ranges."""

    def rows(framework: str, costs: list[float]) -> list[dict[str, Any]]:
        found = []
        for n, cost in enumerate(costs):
            where = {"server": "uvicorn", "round": n, "framework": framework}
            found.append({**where, "route": "bare", "server_cpu_us_per_request": 10.0})
            found.append(
                {**where, "route": "stack", "server_cpu_us_per_request": 10.0 + cost}
                | {"stack_cost_us": cost, "x_bare_route": (10.0 + cost) / 10.0}
            )
        return found

    stack_rows = rows("velocipy", [30.0, 45.0, 20.0]) + rows("fastapi", [80.0, 60.0, 70.0])
    results = {"tiers": {"stack": stack_rows}}
    cells = stack_cells(results)
    assert cells[("uvicorn", "velocipy")]["cost"] == 30.0
    assert cells[("uvicorn", "velocipy")]["cost_range"] == (20.0, 45.0)
    found = {t["name"]: t for t in targets(results)}
    target = found["stack uvicorn cost <= 0.5x fastapi's"]
    assert target["holds"] is True  # the medians: 30 <= 0.5 x 70, though one round was 45
    assert target["detail"] == (
        "30.0 (20.0-45.0) vs fastapi 70.0 (60.0-80.0) us per request (0.43x)"
    )


def test_the_stack_check_names_each_layer_that_did_not_act() -> None:
    answer = {"user": "bench", "visits": 1, "lines": [{}] * 24}
    good = {
        "content-encoding": "gzip",
        "access-control-allow-origin": stack.ORIGIN,
        "access-control-allow-credentials": "true",
        "set-cookie": "session=x",
    }
    body = gzip.compress(json.dumps(answer).encode())
    assert stack.check_stack((200, good, body)) == []
    plain = {k: v for k, v in good.items() if k != "content-encoding"}
    assert stack.check_stack((200, plain, json.dumps(answer).encode())) == [
        "the answer was not compressed with gzip"
    ]
    no_cors = {k: v for k, v in good.items() if not k.startswith("access-control")}
    assert stack.check_stack((200, no_cors, body)) == [
        "no Access-Control-Allow-Origin for the allowed origin",
        "no Access-Control-Allow-Credentials",
    ]
    unread = gzip.compress(json.dumps({**answer, "visits": 1000}).encode())
    assert stack.check_stack((200, good, unread)) == ["the session was not read: visits 1000"]


def test_the_report_reads_the_new_tiers_targets(tmp_path: Path) -> None:
    def stack_row(framework: str, route: str, cpu: float, bare: float) -> dict[str, Any]:
        row = {"server": "uvicorn", "round": 0, "framework": framework, "route": route}
        row["server_cpu_us_per_request"] = cpu
        if route == "stack":
            row |= {"stack_cost_us": cpu - bare, "x_bare_route": cpu / bare}
        return row

    def fanout_row(app: str, cpu: float, mode: str = "paced") -> dict[str, Any]:
        return {
            "app": app, "backend": "memory", "server": "uvicorn", "workers": 1, "mode": mode,
            "subscribers": 1000, "messages": 200, "delivered": 200_000, "expected": 200_000,
            "in_order": True, "server_cpu_us_per_delivery": cpu,
            "deliveries_per_cpu_second": round(1e6 / cpu),
        }  # fmt: skip

    results: dict[str, Any] = {
        "servers": ["uvicorn"],
        "frameworks": ["bare", "velocipy", "fastapi", "litestar"],
        "tiers": {
            "stack": [
                stack_row("velocipy", "bare", 20, 20),
                stack_row("velocipy", "stack", 60, 20),
                stack_row("fastapi", "bare", 100, 100),
                stack_row("fastapi", "stack", 170, 100),
                stack_row("litestar", "bare", 60, 60),
                stack_row("litestar", "stack", 90, 60),
            ],
            "fanout": {
                "report": {
                    "runs": [
                        fanout_row("bare", 10),
                        fanout_row("velocipy", 12),
                        fanout_row("litestar", 20),
                        fanout_row("bare", 13, "burst"),
                        fanout_row("floor", 5, "burst"),
                        fanout_row("velocipy", 5.5, "burst"),
                        fanout_row("litestar", 6.5, "burst"),
                    ]
                }
            },
            "scale": {
                "idle_websocket": [
                    {
                        "server": "uvicorn",
                        "framework": "bare",
                        "kb_per_connection": 20.0,
                        "connections": 10000,
                        "broadcast_ms": 40.0,
                    },
                    {
                        "server": "uvicorn",
                        "framework": "velocipy",
                        "kb_per_connection": 23.0,
                        "connections": 10000,
                        "broadcast_ms": 44.5,
                    },
                ]
            },
        },
    }
    found = {t["name"]: t for t in targets(results)}
    assert found["stack uvicorn cost <= 0.5x fastapi's"]["holds"] is False  # 40 > 35
    assert found["stack uvicorn cost <= 1.0x litestar's"]["holds"] is False  # 40 > 30
    assert found["stack uvicorn cost <= 0.5x fastapi's"]["detail"] == (
        "40.0 (40.0-40.0) vs fastapi 70.0 (70.0-70.0) us per request (0.57x)"
    )
    fanout = "fanout uvicorn memory x1 1000 subscribers paced"
    assert found[f"{fanout} >= 1.5x litestar per server CPU"]["holds"] is True  # 1.67x
    assert found[f"{fanout} <= 1.3x the bare fan-out floor"]["holds"] is True  # 1.2x
    assert found[f"{fanout}: every message delivered in order"]["holds"] is True
    paced = found[f"{fanout} >= 1.5x litestar per server CPU"]["detail"]
    assert paced == (
        "1.67x (12.00 (12.00-12.00) vs 20.00 (20.00-20.00) us per delivery); within reach: the"
        " cheapest floor reaches 2.00x"
    )
    burst = found[f"{fanout.replace('paced', 'burst')} >= 1.5x litestar per server CPU"]
    assert (burst["holds"], burst["detail"]) == (
        False,  # 1.18x, where the floor itself reaches only 1.30x: no app could hold it
        "1.18x (5.50 (5.50-5.50) vs 6.50 (6.50-6.50) us per delivery); out of reach: the"
        " cheapest floor reaches 1.30x",
    )
    idle = found["idle websocket uvicorn memory <= 1.1x bare"]
    assert (idle["holds"], idle["detail"]) == (False, "1.15x (23.0 vs 20.0 KiB per connection)")
    page = markdown(results)
    assert "| uvicorn | velocipy | 20.0 us | 60.0 us | 40.0 us | 3.00x |" in page
    assert "| uvicorn | velocipy | 23.0 KiB | 44.5 ms |" in page
    from report import readme_section

    summary = readme_section({**results, "started": "now", "loadavg_start": [0.1, 0.1, 0.1]})
    assert "- Feature stack on uvicorn: 40 us per request (fastapi 70 us, litestar 30 us)." in (
        summary
    )
    assert (
        "- Fan-out, deliveries per server CPU: 1.18x to 1.67x (target 1.5x litestar per"
        " server CPU: held in 1 of 2 scenarios; 1 out of reach of the floor itself)." in summary
    )
    assert "- Fan-out: every message delivered in order in 2 of 2 scenarios." in summary
    assert "- Memory per idle socket over the bare app's: uvicorn 1.15x (target 1.1x)." in summary
    from report_charts import charts

    drawn = charts(results, tmp_path)
    for tier in ("stack", "fanout"):  # each tier with figures gets its chart, linked on the page
        assert drawn[tier].read_bytes().startswith(b"\x89PNG")
        assert f"![{tier}](x/{tier}.png)" in markdown(results, {tier: f"x/{tier}.png"})


def test_client_addresses_are_spread_over_loopback_without_repeats() -> None:
    import ipaddress

    from ws_client import spread_address

    addresses = [spread_address(i) for i in range(70_000)]
    assert len(set(addresses)) == 70_000  # one source address per connection
    loopback = ipaddress.ip_network("127.0.0.0/8")
    assert all(ipaddress.ip_address(a) in loopback for a in addresses)
    assert not any(a.endswith((".0", ".255")) for a in addresses)
    assert addresses[:2] == ["127.1.0.1", "127.1.0.2"]


def test_a_techempower_target_shows_each_sides_round_range() -> None:
    def row(framework: str, round_: int, rps: float, cpu: float) -> dict[str, Any]:
        return {
            "server": "uvicorn", "framework": framework, "test": "fortunes", "round": round_,
            "rps": rps, "server_cpu_us_per_request": cpu, "db_cpu_us_per_request": 80.0,
            "p99_ms": 9.0, "non_2xx": 0,
        }  # fmt: skip

    rows = [
        row("velocipy", 0, 4260.0, 215.0),
        row("velocipy", 1, 4324.0, 214.0),
        row("velocipy", 2, 4391.0, 213.0),
        row("blacksheep", 0, 4420.0, 208.0),
        row("blacksheep", 1, 4330.0, 214.0),
        row("blacksheep", 2, 4300.0, 215.0),
    ]
    results = {"tiers": {"techempower": rows}}
    (found,) = [t for t in targets(results) if t["name"].startswith("techempower")]
    assert found["name"] == "techempower uvicorn fortunes ahead of every peer"
    assert found["holds"] is False  # 4324 < 4330: the medians decide
    assert found["detail"] == (
        "4324 req/s (4260-4391) vs blacksheep 4330 req/s (4300-4420) "
        "(214.0 vs 214.0 us server CPU per request)"
    )


def test_a_fanout_scenario_is_the_median_of_its_rounds() -> None:
    from fanout import cells
    from fanout import markdown as fanout_markdown

    def row(app: str, round_: int, cpu: float, in_order: bool = True) -> dict[str, Any]:
        return {
            "app": app, "backend": "memory", "server": "uvicorn", "workers": 1, "mode": "paced",
            "subscribers": 1000, "subscribers_per_worker": [1000], "messages": 20,
            "round": round_, "delivered": 20_000 - (not in_order), "expected": 20_000,
            "in_order": in_order, "server_cpu_us_per_delivery": cpu,
            "deliveries_per_cpu_second": round(1e6 / cpu), "delivered_per_second": 2000 + round_,
            "latency_p50_ms": 20.0, "latency_p99_ms": 40.0, "load_average_1m": 1.0,
        }  # fmt: skip

    runs = [
        row("velocipy", 0, 32.0),
        row("litestar", 0, 48.5),
        row("velocipy", 1, 29.5, in_order=False),
        row("litestar", 1, 38.5),
        row("velocipy", 2, 30.0),
        {**row("litestar", 2, 1.0), "error": "TimeoutError()"},
    ]
    velocipy, litestar = cells(runs)
    # the middle round by CPU, its own other figures; the deliveries of every round
    assert (velocipy["round"], velocipy["server_cpu_us_per_delivery"]) == (2, 30.0)
    assert velocipy["delivered_per_second"] == 2002
    assert (velocipy["rounds"], velocipy["cpu_range"]) == (3, (29.5, 32.0))
    assert (velocipy["delivered"], velocipy["expected"], velocipy["in_order"]) == (
        59_999, 60_000, False
    )  # fmt: skip
    # two rounds ran (the third failed): the lower middle one, and the failure is counted
    assert (litestar["round"], litestar["rounds"], litestar["failed_rounds"]) == (1, 2, 1)
    assert litestar["cpu_range"] == (38.5, 48.5)
    table = fanout_markdown(
        {"machine": {"cpus": 2, "python": "3.11.7"}, "messages": 200, "paced_messages": 20,
         "pace_s": 0.5, "runs": runs}
    )  # fmt: skip
    assert "Each row is the median of 3 rounds" in table
    assert "| **no** (59,999/60,000) | 2,002 | 30.00 (29.50-32.00) | 33333 |" in table
    assert "| 38.50 (38.50-48.50), 1 round(s) failed |" in table
    found = {t["name"]: t for t in targets({"tiers": {"fanout": {"report": {"runs": runs}}}})}
    paced = found["fanout uvicorn memory x1 1000 subscribers paced >= 1.5x litestar per server CPU"]
    assert (paced["holds"], paced["detail"]) == (
        False, "1.28x (30.00 (29.50-32.00) vs 38.50 (38.50-48.50) us per delivery)"
    )  # fmt: skip
    ordered = found[
        "fanout uvicorn memory x1 1000 subscribers paced: every message delivered in order"
    ]
    assert (ordered["holds"], ordered["detail"]) == (
        False,
        "59,999 of 60,000",
    )  # one round lost one
