"""The Autobahn TestSuite's fuzzing client (cases 1-10, through kosoku) against VelociPy's echo
route on every server, compared case by case with a bare echo app on the same server.

With the limit at 16 MiB, no case may do worse than the bare app. With the default limit
(1 MiB), the 9.x cases that send bigger messages are refused on purpose: those close with 1009
where the server can send a close code (RSGI cannot: it closes without one). Only FAILED counts
as worse: a few timing-sensitive cases flip between OK and NON-STRICT from run to run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import kosoku
import pytest

from tests.interop.ws_servers import WS_SERVERS, ws_server_argv
from tests.support import REPO_ROOT, free_port, running

pytestmark = [pytest.mark.interop, pytest.mark.autobahn, pytest.mark.timeout(300)]

BARE = "tests.interop.apps.bare_echo:app"
OURS = "tests.interop.apps.ws_hardening:app"
MIB = 1024 * 1024
DEFAULT_LIMIT = MIB  # VelociPy's ws_max_message_size default
# Groups 1-10 (Autobahn has no group 8); 9.x are the only cases with messages over 64 KiB,
# so the run at the default limit needs only those.
ALL_CASES = [f"{group}.*" for group in (1, 2, 3, 4, 5, 6, 7, 9, 10)]
LIMIT_CASES = ["9.*"]
# Messages of at most 1 MiB: the default limit must let these through.
WITHIN_DEFAULT_LIMIT = ["9.1.1", "9.1.2", "9.1.3", "9.2.3", "9.5.1", "9.6.6", "9.7.6", "9.8.6"]

Results = dict[str, Any]


def run_cases(
    kind: str, target: str, cases: Sequence[str], ws_max_size: int | None = None
) -> tuple[Results, str]:
    """Serve ``target`` with ``kind`` and run the fuzzing client; results by case id and log."""
    port = free_port()
    env = {"VELOCIPY_TEST_WS_MAX": str(ws_max_size)} if ws_max_size else {}
    argv = ws_server_argv(kind, target, port, ws_max_size)  # as `velocipy run` passes it
    with running(argv, port=port, cwd=REPO_ROOT, env=env) as server:
        try:
            results = asyncio.run(
                kosoku.run_fuzzingclient(
                    f"ws://127.0.0.1:{port}/echo", cases=list(cases), concurrency=4
                )
            )
        except kosoku.FailureError as failure:
            results = failure.results
        log = server.output()
    return {result.case_id: result for result in results}, log


def worse_than_bare(kind: str, ours: Results) -> dict[str, str]:
    """The cases ours did not pass but the bare app passes on the same server.

    PERF: the bare app only runs the cases ours did not pass (usually none or a handful):
    a case ours passes cannot be worse than the bare app's result.
    """
    failing = [case for case, result in ours.items() if not result.passed]
    if not failing:
        return {}
    bare, _ = run_cases(kind, BARE, failing)
    return {
        case: f"{verdict(ours[case])} (bare: {verdict(bare[case])})"
        for case in failing
        if bare[case].passed
    }


def verdict(result: Any) -> str:
    return f"{result.behavior}/{result.behavior_close} close={result.remote_close_code}"


@pytest.mark.parametrize("kind", WS_SERVERS)
def test_echo_route_at_16_mib_is_no_worse_than_a_bare_app(kind: str) -> None:
    ours, log = run_cases(kind, OURS, ALL_CASES, ws_max_size=16 * MIB)
    assert len(ours) > 290  # groups 1-10 (301 cases in kosoku 0.1)
    assert worse_than_bare(kind, ours) == {}
    assert "Unhandled error" not in log


@pytest.mark.parametrize("kind", WS_SERVERS)
def test_default_limit_refuses_only_big_messages_with_1009(kind: str) -> None:
    ours, log = run_cases(kind, OURS, LIMIT_CASES, ws_max_size=DEFAULT_LIMIT)
    refused = sorted(worse_than_bare(kind, ours))
    assert "9.1.6" in refused, refused  # a 16 MiB text message
    assert "9.4.9" in refused, refused  # 4 MiB in 4 MiB fragments
    # RSGI cannot send a close code: the connection is closed without one.
    expected_code = None if kind == "granian-rsgi" else 1009
    codes = {case: ours[case].remote_close_code for case in refused}
    assert set(codes.values()) == {expected_code}, codes
    for case in WITHIN_DEFAULT_LIMIT:
        assert ours[case].passed, f"{case}: {verdict(ours[case])}"
    assert "Unhandled error" not in log
