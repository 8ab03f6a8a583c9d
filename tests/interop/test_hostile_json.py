"""Hostile JSON bodies on uvicorn, granian RSGI and granian ASGI with each JSON adapter:
every refusal is the same 400 whatever the adapter, and what is accepted answers alike."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.support import REPO_ROOT, SERVERS, ServerProcess, free_port, http_request, running
from tests.support import server_argv as argv_for

pytestmark = pytest.mark.interop

TARGET = "tests.interop.apps.hostile_app:app"
ADAPTERS = ("msgspec", "orjson", "stdlib")

HOSTILE = {
    "unclosed-50k": b"[" * 50_000,
    "deep-600": b"[" * 600 + b"]" * 600,
    "deep-objects": b'{"a":' * 600 + b"0" + b"}" * 600,
    "5000-digits": b"1" * 5000,
    "2**64": str(2**64).encode(),
    "-2**63-1": str(-(2**63) - 1).encode(),
    "1e400": b"1e400",
    "NaN": b"NaN",
    "-Infinity": b"-Infinity",
    "lone-surrogate": b'"\\ud800"',
    "invalid-utf8": b'"\xff"',
    "trailing-garbage": b'{"a": 1} x',
    "empty": b"",
    "bom": b'\xef\xbb\xbf{"a": 1}',
}
ACCEPTED = {
    "big-ints": b"[18446744073709551615, -9223372036854775808]",
    "duplicate-keys": b'{"a": 1, "a": 2}',
    "unicode": '{"s": "caf\\u00e9 \\ud83d\\ude00 \u2713"}'.encode(),
    "floats": b"[0.1, -0.0, 1e308, 5e-324]",
}


@pytest.fixture(scope="module", params=[(k, a) for k in SERVERS for a in ADAPTERS], ids=str)
def server(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    kind, adapter = request.param
    port = free_port()
    env = {"VELOCIPY_TEST_JSON": adapter}
    with running(argv_for(kind, TARGET, port), port=port, cwd=REPO_ROOT, env=env) as process:
        yield process


def post(server: ServerProcess, body: bytes) -> tuple[int, bytes]:
    response = http_request(
        server.url + "/json", method="POST", data=body, headers={"content-type": "application/json"}
    )
    return response.status, response.body


def test_hostile_json_is_the_same_400(server: ServerProcess) -> None:
    before = len(server.output())
    for name, body in HOSTILE.items():
        status, answer = post(server, body)
        assert status == 400, (name, answer)
        assert json.loads(answer)["detail"][0]["type"] == "json_invalid", name
    added = server.output()[before:]
    assert "Traceback" not in added
    assert post(server, b"[1]") == (200, b'{"value":[1]}')


def test_accepted_json_answers_alike(server: ServerProcess) -> None:
    """Same values on every adapter (a float's notation may differ: 1e308 or 1e+308)."""
    answers = {name: post(server, body) for name, body in ACCEPTED.items()}
    assert {name: status for name, (status, _) in answers.items()} == dict.fromkeys(ACCEPTED, 200)
    values = {name: json.loads(body)["value"] for name, (_, body) in answers.items()}
    assert values == {
        "big-ints": [18446744073709551615, -9223372036854775808],
        "duplicate-keys": {"a": 2},
        "unicode": {"s": "caf\u00e9 \U0001f600 \u2713"},
        "floats": [0.1, -0.0, 1e308, 5e-324],
    }
    assert str(values["floats"][1]) == "-0.0"
