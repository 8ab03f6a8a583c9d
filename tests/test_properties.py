"""Property tests (hypothesis): the parsers a client's input reaches accept or refuse random
input with their one documented exception, never crash, and the JSON adapters agree.

Documented outcomes:
* route matching: no match (404) or a match whose conversion gives values or
  ``RequestValidationError`` (422);
* query strings, cookies, request headers: always parsed (lenient by design);
* response headers: accepted, or ``ValueError``;
* JSON: a value, or ``JSONDecodeError`` (never ``RecursionError``, ``UnicodeDecodeError``
  or a backend's own error), with the same verdict and value on msgspec, orjson and stdlib.
"""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from velocipy import Request, Response, VelociPy
from velocipy.datastructures import Headers, QueryParams, check_header, parse_cookies
from velocipy.exceptions import RequestValidationError
from velocipy.json import JSONDecodeError, get_adapter
from velocipy.testing import TestClient

ADAPTERS = [get_adapter(name) for name in ("msgspec", "orjson", "stdlib")]
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- the router ------------------------------------------------------------------------------


def _router_app() -> VelociPy:
    app = VelociPy()

    async def handler(request: Request) -> None:  # the path parameters stay on the request
        return None

    for template in (
        "/",
        "/items",
        "/items/{item_id:int}",
        "/items/{item_id:int}/price/{price:float}",
        "/flags/{flag:bool}",
        "/users/{name}",
        "/users/{name}/files/{rest:path}",
        "/static/{rest:path}",
    ):
        app.add_route(template, handler, ["GET"], name=template)
    return app


ROUTER = _router_app()
SEGMENT = st.text(st.characters(blacklist_categories=["Cs"]), max_size=12) | st.sampled_from(
    ["items", "users", "files", "price", "flags", "static", "1", "-1", "1.5"]
)


@SETTINGS
@given(st.lists(SEGMENT, max_size=8), st.booleans())
def test_router_matches_or_refuses_cleanly(segments: list[str], trailing_slash: bool) -> None:
    path = "/" + "/".join(segments) + ("/" if trailing_slash else "")
    found = ROUTER._http.match(path)
    if found is None:
        return  # 404
    entry, values = found
    try:
        params = entry.pattern.convert(values)
    except RequestValidationError as exc:
        refusal = exc
    else:
        refusal = None
    if refusal is not None:
        assert refusal.status_code == 422
        assert all(error["loc"][0] == "path" for error in refusal.errors)
        return
    assert set(params) == {spec.name for spec in entry.pattern.params}
    for value in params.values():
        if isinstance(value, float):
            assert math.isfinite(value)


# --- query strings, cookies, request headers -------------------------------------------------

LATIN1 = st.text(st.characters(max_codepoint=255), max_size=60)


@SETTINGS
@given(st.text(max_size=200))
def test_query_string_always_parses(query: str) -> None:
    params = QueryParams(query)
    items = params.multi_items()
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in items)
    assert sum(len(params.get_list(key)) for key in params) == len(items)
    for key in params:
        assert params[key] == params.get_list(key)[0]


@SETTINGS
@given(st.lists(LATIN1, max_size=5))
def test_cookies_always_parse(headers: list[str]) -> None:
    cookies = parse_cookies(headers)
    for name, value in cookies.items():
        assert name
        assert name == name.strip()
        assert ";" not in name
        assert ";" not in value


TOKEN = st.text(st.sampled_from("abcXYZ019-_!#"), min_size=1, max_size=12)


@SETTINGS
@given(st.lists(st.tuples(TOKEN, LATIN1), max_size=10))
def test_request_headers_answer_in_any_case(items: list[tuple[str, str]]) -> None:
    headers = Headers._from_lowercase([(name.lower(), value) for name, value in items])
    for name, value in items:
        assert value in headers.get_list(name.upper())
        assert headers[name] == headers.get_list(name.swapcase())[0]
    assert len(headers.multi_items()) == len(items)


@SETTINGS
@given(st.text(max_size=20), st.text(max_size=40))
def test_response_headers_are_accepted_or_refused_with_value_error(name: str, value: str) -> None:
    try:
        check_header(name, value)
    except ValueError:
        return
    wire = value.encode("utf-8", "surrogatepass")
    assert all(byte >= 0x20 or byte == 0x09 for byte in wire)
    assert b"\x7f" not in wire
    assert name.isascii()
    assert name
    assert not any(ch in name for ch in ' :;,"()/\\\t')
    assert value == value.strip(" \t")


# --- JSON adapters ---------------------------------------------------------------------------


def _decode_all(data: bytes | str) -> list[tuple[str, Any]]:
    """Each adapter's verdict: ("ok", value) or ("refused", message). Anything else escapes."""
    verdicts: list[tuple[str, Any]] = []
    for adapter in ADAPTERS:
        try:
            verdicts.append(("ok", adapter.decode(data)))
        except JSONDecodeError as exc:
            verdicts.append(("refused", str(exc)))
    return verdicts


def _assert_agree(data: bytes | str) -> None:
    verdicts = _decode_all(data)
    kinds = {kind for kind, _ in verdicts}
    assert len(kinds) == 1, (data, verdicts)
    assert all(message for kind, message in verdicts if kind == "refused")
    if kinds == {"ok"}:
        first = verdicts[0][1]
        for _, value in verdicts[1:]:
            assert json.dumps(value, sort_keys=True) == json.dumps(first, sort_keys=True), data


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(blacklist_categories=["Cs"]), max_size=20),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=30,
)


@SETTINGS
@given(st.binary(max_size=200))
def test_json_random_bytes_decode_or_refuse_alike(data: bytes) -> None:
    _assert_agree(data)


@SETTINGS
@given(
    st.text(
        st.sampled_from('[]{}",:0123456789.eE+-tfnrulsaNIy\\ u\t\n') | st.characters(), max_size=80
    )
)
def test_json_like_text_decodes_or_refuses_alike(text: str) -> None:
    _assert_agree(text.encode("utf-8", "surrogatepass"))


@SETTINGS
@given(JSON_VALUES)
def test_json_documents_round_trip_on_every_adapter(value: Any) -> None:
    document = json.dumps(value).encode()
    for kind, decoded in _decode_all(document):
        assert kind == "ok"
        assert json.dumps(decoded, sort_keys=True) == json.dumps(value, sort_keys=True)
    for adapter in ADAPTERS:
        assert _decode_all(adapter.encode(value)) == _decode_all(document)


@SETTINGS
@given(st.integers(min_value=1, max_value=2000), st.sampled_from(["[", '{"a":', '[{"b":']))
def test_deep_nesting_is_refused_alike(depth: int, opener: str) -> None:
    closer = {"[": "]", '{"a":': "}", '[{"b":': "}]"}[opener]
    _assert_agree((opener * depth + "0" + closer * depth).encode())
    _assert_agree((opener * depth).encode())  # unclosed


# --- request bodies: however the server splits them, the app sees the same bytes -------------

BODY_APP = VelociPy(max_body_size=4096)


@BODY_APP.post("/body")
async def _body_echo(request: Request) -> Response:
    return Response(await request.body(), media_type="application/octet-stream")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=6000), st.lists(st.integers(min_value=1, max_value=700), max_size=30))
def test_a_body_in_any_chunking_reads_the_same(body: bytes, cuts: list[int]) -> None:
    chunks, rest = [], body
    for size in cuts:
        if not rest:
            break
        chunks.append(rest[:size])
        rest = rest[size:]
    if rest:
        chunks.append(rest)
    for interface in ("asgi", "rsgi"):
        client = TestClient(BODY_APP, interface=interface)  # type: ignore[arg-type]
        whole = client.post("/body", content=body)
        split = client.post("/body", content=iter(chunks))
        expected = 413 if len(body) > 4096 else 200
        assert (whole.status_code, split.status_code) == (expected, expected)
        if expected == 200:
            assert whole.content == split.content == body
