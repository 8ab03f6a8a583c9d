"""The neutral ``Request``: every attribute, the same on ASGI and RSGI, computed once."""

from __future__ import annotations

from typing import Any

import pytest

from velocipy import Request, VelociPy
from velocipy.datastructures import Headers, QueryParams, parse_cookies


def inspect_app() -> VelociPy:
    app = VelociPy()

    @app.route("/inspect/{rest:path}", methods=["GET", "POST"])
    async def inspect_request(request: Request) -> dict[str, Any]:
        client = request.client
        return {
            "method": request.method,
            "path": request.path,
            "query_string": request.query_string,
            "query": request.query_params.multi_items(),
            "tags": request.query_params.get_list("tag"),
            "first_tag": request.query_params.get("tag"),
            "header_any_case": request.headers.get("X-CUSTOM"),
            "header_list": request.headers.get_list("x-multi"),
            "header": request.header("x-custom"),
            "header_default": request.header("x-absent", "fallback"),
            "has_header": "X-Custom" in request.headers,
            "cookies": request.cookies,
            "path_params": request.path_params,
            "client": [client.host, client.port] if client else None,
            "url": str(request.url),
            "scheme": request.url.scheme,
        }

    @app.post("/body")
    async def body(request: Request) -> dict[str, Any]:
        first = await request.body()
        second = await request.body()
        streamed = [chunk async for chunk in request.stream()]
        return {
            "body": first.decode(),
            "same_object": first is second,
            "stream_after_body": b"".join(streamed).decode(),
        }

    @app.post("/json")
    async def json_body(request: Request) -> dict[str, Any]:
        first = await request.json()
        second = await request.json()
        return {"value": first, "cached": first is second}

    @app.post("/stream")
    async def stream(request: Request) -> dict[str, Any]:
        chunks = [chunk async for chunk in request.stream()]
        return {"total": sum(len(c) for c in chunks), "joined": b"".join(chunks).decode()}

    @app.post("/stream-twice")
    async def stream_twice(request: Request) -> str:
        async for _ in request.stream():
            pass
        try:
            async for _ in request.stream():
                pass
        except RuntimeError as exc:
            return str(exc)
        return "no error"

    @app.get("/cached")
    async def cached(request: Request) -> dict[str, bool]:
        return {
            "headers": request.headers is request.headers,
            "query_params": request.query_params is request.query_params,
            "cookies": request.cookies is request.cookies,
            "path_params": request.path_params is request.path_params,
            "state": request.state is request.state,
        }

    return app


def test_request_attributes(client_for: Any) -> None:
    client = client_for(inspect_app())
    response = client.get(
        "/inspect/a/b%20c?tag=x&tag=y&empty=&sp=a%20b",
        headers=[("X-Custom", "one"), ("x-multi", "1"), ("X-Multi", "2")],
        cookies={"session": "abc", "theme": "dark"},
    )
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["method"] == "GET"
    assert data["path"] == "/inspect/a/b c"
    assert data["query_string"] == "tag=x&tag=y&empty=&sp=a%20b"
    assert data["query"] == [["tag", "x"], ["tag", "y"], ["empty", ""], ["sp", "a b"]]
    assert data["tags"] == ["x", "y"]
    assert data["first_tag"] == "x"
    assert data["header_any_case"] == "one"
    assert data["header_list"] == ["1", "2"]
    assert data["header"] == "one"
    assert data["header_default"] == "fallback"
    assert data["has_header"] is True
    assert data["cookies"] == {"session": "abc", "theme": "dark"}
    assert data["path_params"] == {"rest": "a/b c"}
    assert data["client"] == ["127.0.0.1", 50000]
    assert data["url"] == "http://testserver/inspect/a/b c?tag=x&tag=y&empty=&sp=a%20b"
    assert data["scheme"] == "http"


def test_url_uses_host_header_port_and_falls_back_on_bad_host(client_for: Any) -> None:
    client = client_for(inspect_app())
    with_port = client.get("/inspect/x", headers={"host": "example.com:8080"}).json()
    assert with_port["url"] == "http://example.com:8080/inspect/x"
    bad_host = client.get("/inspect/x", headers={"host": "evil.com/?"}).json()
    assert bad_host["url"] == "http://testserver/inspect/x"


def test_https_scheme(protocol: str) -> None:
    from velocipy.testing import TestClient

    with TestClient(inspect_app(), interface=protocol, base_url="https://secure.test") as client:
        data = client.get("/inspect/s").json()
    assert data["scheme"] == "https"
    assert data["url"] == "https://secure.test/inspect/s"


def test_body_is_read_once_and_cached(client_for: Any) -> None:
    response = client_for(inspect_app()).post("/body", content=b"hello body")
    assert response.json() == {
        "body": "hello body",
        "same_object": True,
        "stream_after_body": "hello body",
    }


def test_json_is_parsed_once_and_cached(client_for: Any) -> None:
    response = client_for(inspect_app()).post("/json", json={"a": [1, 2]})
    assert response.json() == {"value": {"a": [1, 2]}, "cached": True}


def test_invalid_json_through_request_json_is_400(client_for: Any) -> None:
    response = client_for(inspect_app()).post("/json", content=b"{oops")
    assert response.status_code == 400
    assert response.json()["detail"][0]["type"] == "json_invalid"


def test_stream_reads_a_chunked_body(client_for: Any) -> None:
    client = client_for(inspect_app())
    response = client.post("/stream", content=iter([b"ab", b"cd", b"ef"]))
    assert response.json() == {"total": 6, "joined": "abcdef"}
    sized = client.post("/stream", content=b"x" * 200_000)
    assert sized.json()["total"] == 200_000


def test_stream_cannot_be_read_twice(client_for: Any) -> None:
    response = client_for(inspect_app()).post("/stream-twice", content=b"data")
    assert response.text == "the request body was already consumed by stream()"


def test_lazy_attributes_are_cached(client_for: Any) -> None:
    response = client_for(inspect_app()).get("/cached")
    assert response.json() == {
        "headers": True,
        "query_params": True,
        "cookies": True,
        "path_params": True,
        "state": True,
    }


def test_headers_structure() -> None:
    headers = Headers([("Content-Type", "a"), ("X-Dup", "1"), ("x-dup", "2")])
    assert headers["content-type"] == "a"
    assert headers["CONTENT-TYPE"] == "a"
    assert headers.get_list("X-DUP") == ["1", "2"]
    assert headers.getlist("x-dup") == ["1", "2"]
    assert headers.get("missing") is None
    assert headers.get_list("missing") == []
    assert "X-Dup" in headers
    assert len(headers) == 2
    with pytest.raises(KeyError):
        headers["missing"]


def test_query_params_structure() -> None:
    params = QueryParams("a=1&b=2&a=3&c=&d=%E2%9C%93")
    assert params["a"] == "1"
    assert params.get_list("a") == ["1", "3"]
    assert params["c"] == ""
    assert params["d"] == "\u2713"
    assert sorted(params) == ["a", "b", "c", "d"]
    assert QueryParams([("x", "1")]).get_list("x") == ["1"]


def test_cookie_parsing_is_lenient() -> None:
    assert parse_cookies(['a=1; b="quoted"; junk; =novalue; c=x=y', "a=2; d=4"]) == {
        "a": "1",
        "b": "quoted",
        "c": "x=y",
        "d": "4",
    }


def test_malformed_cookie_header_is_not_an_error(client_for: Any) -> None:
    response = client_for(inspect_app()).get(
        "/inspect/c", headers={"cookie": ';;;=; ok=1; weird; "'}
    )
    assert response.status_code == 200
    assert response.json()["cookies"]["ok"] == "1"
