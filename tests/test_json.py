"""JSON adapters: msgspec, orjson, stdlib and custom objects behave alike, hostile input included.

The hostile inputs come from design/reliability.md sections 4.6 and 7.C.15-18: every backend must
give the same status (400) and never let a ``RecursionError`` or encoding error become a 500.
"""

from __future__ import annotations

import json
import random
from typing import Annotated, Any

import msgspec
import pytest

from velocipy import Body, JSONResponse, Request, VelociPy
from velocipy.json import JSONAdapter, JSONDecodeError, get_adapter
from velocipy.json._errors import LONG_DIGIT_RUN, has_long_digit_run

BACKENDS = ["msgspec", "orjson", "stdlib"]


class Sample(msgspec.Struct):
    name: str
    values: list[int]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class RecordingAdapter:
    """A custom adapter: the stdlib underneath, with every call recorded."""

    name = "recording"

    def __init__(self) -> None:
        self.calls: list[str] = []

    def encode(self, obj: Any) -> bytes:
        self.calls.append("encode")
        return json.dumps(obj, separators=(", ", ": "), default=msgspec.to_builtins).encode()

    def decode(self, data: bytes | str) -> Any:
        self.calls.append("decode")
        try:
            return json.loads(data)
        except ValueError as exc:
            raise JSONDecodeError(str(exc)) from None


def json_app(adapter: str | JSONAdapter) -> VelociPy:
    app = VelociPy(json_adapter=adapter)

    @app.post("/echo")
    async def echo(request: Request) -> Any:
        return {"value": await request.json()}

    @app.post("/typed")
    async def typed(sample: Sample) -> Sample:
        return sample

    @app.post("/any")
    async def any_body(data: Annotated[Any, Body()]) -> Any:
        return {"ok": True}

    @app.get("/response")
    async def response() -> JSONResponse:
        return JSONResponse({"through": "JSONResponse", "n": [1, 2]})

    @app.get("/error")
    async def error() -> None:
        from velocipy import HTTPException

        raise HTTPException(409, {"conflict": "yes"})

    return app


@pytest.mark.parametrize(
    "value",
    [
        {"a": 1, "b": [1.5, True, None, "t\u00e9xt \U0001f600"], "c": {"d": {}}},
        [],
        "plain string",
        0,
        -(2**63),
        2**64 - 1,
        1.25e-10,
    ],
)
def test_every_adapter_round_trips(backend: str, value: Any) -> None:
    adapter = get_adapter(backend)
    assert adapter.name == backend
    encoded = adapter.encode(value)
    assert isinstance(encoded, bytes)
    assert adapter.decode(encoded) == value
    assert adapter.decode(encoded.decode()) == value
    assert msgspec.json.decode(encoded) == value  # what any other client would read


def test_adapters_encode_structs_and_dataclasses(backend: str) -> None:
    import dataclasses

    @dataclasses.dataclass
    class Point:
        x: int

    adapter = get_adapter(backend)
    assert json.loads(adapter.encode(Sample("s", [1]))) == {"name": "s", "values": [1]}
    assert json.loads(adapter.encode({"p": Point(3)})) == {"p": {"x": 3}}


def test_unknown_adapter_names_and_objects_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown json_adapter 'ujson'"):
        VelociPy(json_adapter="ujson")
    with pytest.raises(TypeError, match="json_adapter must be"):
        VelociPy(json_adapter=42)  # type: ignore[arg-type]


def test_app_round_trip_on_every_backend(client_for: Any, backend: str) -> None:
    client = client_for(json_app(backend))
    payload = {"k": ["v", 1, 2.5, None, False], "u": "\u00fc\U0001f600"}
    echo = client.post("/echo", json=payload)
    assert (echo.status_code, echo.json()) == (200, {"value": payload})
    typed = client.post("/typed", json={"name": "n", "values": [1, 2]})
    assert typed.json() == {"name": "n", "values": [1, 2]}
    response = client.get("/response")
    assert response.json() == {"through": "JSONResponse", "n": [1, 2]}
    assert response.headers["content-type"] == "application/json"


def test_custom_adapter_object_is_used_for_everything(client_for: Any) -> None:
    adapter = RecordingAdapter()
    client = client_for(json_app(adapter))
    echo = client.post("/echo", json={"a": 1})
    assert echo.content == b'{"value": {"a": 1}}'  # the custom separators show who encoded it
    assert adapter.calls == ["decode", "encode"]
    adapter.calls.clear()
    assert client.get("/response").content == b'{"through": "JSONResponse", "n": [1, 2]}'
    assert adapter.calls == ["encode"]
    assert client.post("/typed", json={"name": "n", "values": [3]}).content == (
        b'{"name": "n", "values": [3]}'
    )
    assert client.get("/error").content == b'{"detail": {"conflict": "yes"}}'
    bad = client.post("/echo", content=b"{nope")
    assert bad.status_code == 400


def test_json_response_uses_the_apps_adapter(client_for: Any) -> None:
    adapter = RecordingAdapter()
    app = json_app(adapter)
    client = client_for(app)
    client.get("/response")
    assert adapter.calls == ["encode"]


DEEP = 100_000

HOSTILE_BODIES: dict[str, bytes] = {
    "depth-1025": b"[" * 1025 + b"]" * 1025,
    "depth-5000-objects": b'{"a":' * 5000 + b"1" + b"}" * 5000,
    "depth-100000": b"[" * DEEP + b"]" * DEEP,
    "depth-100000-unclosed": b"[" * DEEP,
    "int-5000-digits": b"1" * 5000,
    "int-2**64": str(2**64).encode(),
    "int-below-int64": str(-(2**63) - 1).encode(),
    "int-huge-in-array": b"[1, " + str(10**30).encode() + b"]",
    "float-1e400": b"1e400",
    "float-negative-1e400": b"[-1e400]",
    "NaN": b"NaN",
    "Infinity": b"Infinity",
    "minus-Infinity": b"[-Infinity]",
    "lone-high-surrogate": b'"\\ud800"',
    "lone-low-surrogate-in-object": b'{"a": "\\udfff"}',
    "invalid-utf8": b'"\xff\xfe"',
    "invalid-utf8-bare": b"\xc3\x28",
    "utf16-document": '{"a": 1}'.encode("utf-16"),
    "utf8-bom": b'\xef\xbb\xbf{"a": 1}',
    "trailing-garbage": b'{"a": 1} x',
    "two-documents": b"{} {}",
    "truncated": b'{"a": [1, 2',
    "single-quotes": b"{'a': 1}",
    "whitespace-only": b"  \n ",
}


@pytest.mark.parametrize("name", sorted(HOSTILE_BODIES))
def test_hostile_json_is_refused_by_every_adapter(backend: str, name: str) -> None:
    with pytest.raises(JSONDecodeError):
        get_adapter(backend).decode(HOSTILE_BODIES[name])


@pytest.mark.parametrize("name", sorted(HOSTILE_BODIES))
def test_hostile_json_is_400_on_every_backend(
    client_for: Any, backend: str, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    client = client_for(json_app(backend))
    body = HOSTILE_BODIES[name]
    headers = {"content-type": "application/json"}
    for path in ("/echo", "/typed", "/any"):
        response = client.post(path, content=body, headers=headers)
        assert response.status_code == 400, (path, response.text)
        (error,) = response.json()["detail"]
        assert (error["loc"], error["type"]) == (["body"], "json_invalid")
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
    assert client.post("/echo", json={"still": "up"}).status_code == 200


def test_empty_body_to_request_json_is_400(client_for: Any, backend: str) -> None:
    client = client_for(json_app(backend))
    assert client.post("/echo", content=b"").status_code == 400


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (str(2**64 - 1).encode(), 2**64 - 1),
        (str(-(2**63)).encode(), -(2**63)),
        (b"[18446744073709551615, -9223372036854775808]", [2**64 - 1, -(2**63)]),
        (b'"123456789012345678901234567890"', "123456789012345678901234567890"),
        (b"12345678901234567890.5", 12345678901234567890.5),
        (b'{"a": 1, "a": 2}', {"a": 2}),
        (b'"\\ud83d\\ude00"', "\U0001f600"),
        (b"-0", 0),
    ],
)
def test_64_bit_integer_policy_and_edge_values(backend: str, body: bytes, expected: Any) -> None:
    value = get_adapter(backend).decode(body)
    assert value == expected
    assert type(value) is type(expected)  # a 64-bit integer stays an int, never a float


def test_edge_values_echo_identically_on_every_backend(client_for: Any, backend: str) -> None:
    """Values every decoder admits are encoded back without loss (7.C.18)."""
    client = client_for(json_app(backend))
    body = b'[18446744073709551615, -9223372036854775808, "\\ud83d\\ude00", 1e308]'
    response = client.post("/echo", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 200
    assert response.json() == {"value": [2**64 - 1, -(2**63), "\U0001f600", 1e308]}


@pytest.mark.parametrize("depth", [100, 250])
def test_reasonable_nesting_is_accepted_and_echoed_everywhere(
    client_for: Any, backend: str, depth: int
) -> None:
    client = client_for(json_app(backend))
    body = b"[" * depth + b"]" * depth
    response = client.post("/echo", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 200
    assert response.content.count(b"[") == depth


@pytest.mark.parametrize("depth", [512, 513, 990, 1000, 1024, 1025])
def test_one_nesting_limit_on_every_backend(client_for: Any, backend: str, depth: int) -> None:
    """512 levels are accepted and echoed; one more is 400 whatever the backend (the backends'
    own limits differ: stdlib/msgspec near 1000, orjson 1024, orjson's encoder 255)."""
    client = client_for(json_app(backend))
    body = b"[" * depth + b"]" * depth
    response = client.post("/echo", content=body, headers={"content-type": "application/json"})
    if depth <= 512:
        assert response.status_code == 200
        assert response.content.count(b"[") == depth  # echoed inside {"value": ...}
    else:
        assert response.status_code == 400
        assert response.json()["detail"][0]["type"] == "json_invalid"


def test_wide_documents_with_many_brackets_are_not_mistaken_for_deep(backend: str) -> None:
    adapter = get_adapter(backend)
    wide = b"[" + b",".join([b"[1]"] * 2000) + b"]"
    assert len(adapter.decode(wide)) == 2000


def test_every_backend_encodes_what_another_can(backend: str) -> None:
    """NaN/Infinity become null (bare NaN is not JSON), 300 levels and big integers encode."""
    adapter = get_adapter(backend)
    assert adapter.encode({"x": float("nan"), "y": float("inf")}) == b'{"x":null,"y":null}'
    assert adapter.encode(2**70) == b"1180591620717411303424"
    deep: list[Any] = []
    cursor = deep
    for _ in range(300):
        cursor.append([])
        cursor = cursor[0]
    assert adapter.encode(deep) == b"[" * 301 + b"]" * 301


def test_the_digit_run_prefilter_agrees_with_the_exact_rule() -> None:
    """has_long_digit_run is the regular expression's answer, at, below and above each length
    (18, 19 and 20 digits, with and without a minus sign), and on random documents."""
    for digits in (18, 19, 20, 21):
        for sign in (b"", b"-", b"x-", b"1.", b"--"):
            for tail in (b"", b"]", b"5"):
                raw = b"[" + sign + b"9" * digits + tail
                assert has_long_digit_run(raw) == (LONG_DIGIT_RUN.search(raw) is not None), raw
    generator = random.Random(32)
    alphabet = b"0123456789" * 5 + b"-., []"  # mostly digits: long runs are common
    for _ in range(3000):
        raw = bytes(generator.choice(alphabet) for _ in range(generator.randint(0, 60)))
        assert has_long_digit_run(raw) == (LONG_DIGIT_RUN.search(raw) is not None), raw
