"""Responses: return-value conversion and every response class, on ASGI and RSGI."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from velocipy import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
    VelociPy,
)


class Pet(msgspec.Struct):
    name: str
    age: int


@dataclasses.dataclass
class Box:
    size: int


def conversion_app() -> VelociPy:
    app = VelociPy()

    @app.get("/dict")
    async def as_dict() -> dict[str, Any]:
        return {"a": 1, "b": [True, None]}

    @app.get("/list")
    async def as_list() -> list[int]:
        return [1, 2, 3]

    @app.get("/struct")
    async def as_struct() -> Pet:
        return Pet("rex", 3)

    @app.get("/dataclass")
    async def as_dataclass() -> Box:
        return Box(5)

    @app.get("/str")
    async def as_str() -> str:
        return "h\u00e9llo"

    @app.get("/bytes")
    async def as_bytes() -> bytes:
        return b"\x00\x01raw"

    @app.get("/none")
    async def as_none() -> None:
        return None

    @app.get("/int")
    async def as_int() -> int:
        return 7

    @app.get("/response")
    async def as_response() -> Response:
        return Response(b"custom", 203, {"x-kind": "own"}, "application/x-custom")

    @app.post("/created", status_code=201)
    async def created() -> dict[str, bool]:
        return {"created": True}

    @app.post("/created-text", status_code=201)
    async def created_text() -> str:
        return "made"

    @app.delete("/accepted", status_code=202)
    async def accepted() -> None:
        return None

    @app.get("/override", status_code=201)
    async def override() -> Response:
        return PlainTextResponse("explicit", status_code=200)

    return app


@pytest.mark.parametrize(
    ("path", "status", "content_type", "body"),
    [
        ("/dict", 200, "application/json", b'{"a":1,"b":[true,null]}'),
        ("/list", 200, "application/json", b"[1,2,3]"),
        ("/struct", 200, "application/json", b'{"name":"rex","age":3}'),
        ("/dataclass", 200, "application/json", b'{"size":5}'),
        ("/int", 200, "application/json", b"7"),
        ("/str", 200, "text/plain; charset=utf-8", "h\u00e9llo".encode()),
        ("/bytes", 200, "application/octet-stream", b"\x00\x01raw"),
        ("/response", 203, "application/x-custom", b"custom"),
    ],
)
def test_return_values_become_responses(
    client_for: Any, path: str, status: int, content_type: str, body: bytes
) -> None:
    response = client_for(conversion_app()).get(path)
    assert response.status_code == status
    assert response.headers["content-type"] == content_type
    assert response.content == body
    assert response.headers["content-length"] == str(len(body))


def test_none_is_204_without_body(client_for: Any) -> None:
    response = client_for(conversion_app()).get("/none")
    assert response.status_code == 204
    assert response.content == b""
    assert "content-type" not in response.headers


def test_status_code_on_decorators(client_for: Any) -> None:
    client = client_for(conversion_app())
    created = client.post("/created", content=b"")
    assert (created.status_code, created.json()) == (201, {"created": True})
    text = client.post("/created-text", content=b"")
    assert (text.status_code, text.text) == (201, "made")
    accepted = client.delete("/accepted")
    assert (accepted.status_code, accepted.content) == (202, b"")
    override = client.get("/override")
    assert (override.status_code, override.text) == (200, "explicit")


def test_response_headers_and_custom_header_kept(client_for: Any) -> None:
    response = client_for(conversion_app()).get("/response")
    assert response.headers["x-kind"] == "own"


def classes_app(tmp_path: Path, events: list[str]) -> VelociPy:
    app = VelociPy(json_adapter="stdlib")
    data_file = tmp_path / "data.txt"
    data_file.write_bytes(b"file contents\n" * 1000)
    (tmp_path / "page.html").write_text("<p>hi</p>")

    @app.get("/plain")
    async def plain() -> Response:
        return PlainTextResponse("plain text", headers={"x-a": "1"})

    @app.get("/html")
    async def html() -> Response:
        return HTMLResponse("<h1>t\u00eftle</h1>")

    @app.get("/json")
    async def json_response() -> Response:
        return JSONResponse({"n": [1, 2]}, status_code=202, headers={"x-j": "y"})

    @app.get("/json-media")
    async def json_media() -> Response:
        return JSONResponse({"ok": True}, media_type="application/problem+json")

    @app.get("/redirect")
    async def redirect() -> Response:
        return RedirectResponse("/target path?x=1&y=\u00e9")

    @app.get("/redirect-301")
    async def redirect_permanent() -> Response:
        return RedirectResponse("https://example.com/new", status_code=301)

    @app.get("/stream-async")
    async def stream_async() -> Response:
        async def generate() -> AsyncIterator[str | bytes]:
            try:
                for index in range(5):
                    await asyncio.sleep(0)
                    yield f"chunk{index};" if index % 2 else f"chunk{index};".encode()
            finally:
                events.append("async generator closed")

        return StreamingResponse(generate(), media_type="text/csv", headers={"x-s": "1"})

    @app.get("/stream-sync")
    async def stream_sync() -> Response:
        def generate() -> Iterator[bytes]:
            for index in range(3):
                events.append(f"sync chunk in {threading.current_thread().name}")
                yield b"line %d\n" % index

        return StreamingResponse(generate(), media_type="text/plain")

    @app.get("/stream-list")
    async def stream_list() -> Response:
        return StreamingResponse(["a", "b", "c"])

    @app.get("/file")
    async def file() -> Response:
        return FileResponse(data_file)

    @app.get("/file-html")
    async def file_html() -> Response:
        return FileResponse(str(tmp_path / "page.html"))

    @app.get("/download")
    async def download() -> Response:
        return FileResponse(data_file, filename="r\u00e9port 1.txt")

    @app.get("/missing-file")
    async def missing_file() -> Response:
        return FileResponse(tmp_path / "nope.bin")

    @app.get("/directory")
    async def directory() -> Response:
        return FileResponse(tmp_path)

    @app.get("/cookies")
    async def cookies() -> Response:
        response = PlainTextResponse("with cookies")
        response.set_cookie("session", "abc123", httponly=True, secure=True, max_age=60)
        response.set_cookie("tricky", 'a;b,c "d"', samesite=None, path=None)
        response.delete_cookie("old")
        return response

    @app.get("/mutable-headers")
    async def mutable_headers() -> Response:
        response = Response(b"x")
        response.headers["X-One"] = "1"
        response.headers["x-one"] = "2"
        response.headers.append("vary", "a")
        response.headers.append("vary", "b")
        response.headers.setdefault("x-default", "d")
        response.headers.setdefault("x-default", "ignored")
        del response.headers["x-missing"]
        return response

    return app


@pytest.fixture
def classes_client(client_for: Any, tmp_path: Path) -> Any:
    events: list[str] = []
    client = client_for(classes_app(tmp_path, events))
    client.events = events
    return client


def test_plain_and_html_responses(classes_client: Any) -> None:
    plain = classes_client.get("/plain")
    assert plain.text == "plain text"
    assert plain.headers["content-type"] == "text/plain; charset=utf-8"
    assert plain.headers["x-a"] == "1"
    html = classes_client.get("/html")
    assert html.text == "<h1>t\u00eftle</h1>"
    assert html.headers["content-type"] == "text/html; charset=utf-8"


def test_json_response_uses_status_headers_and_media_type(classes_client: Any) -> None:
    response = classes_client.get("/json")
    assert response.status_code == 202
    assert response.json() == {"n": [1, 2]}
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-j"] == "y"
    media = classes_client.get("/json-media")
    assert media.headers["content-type"] == "application/problem+json"


def test_redirect_response(classes_client: Any) -> None:
    response = classes_client.get("/redirect", follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"] == "/target%20path?x=1&y=%C3%A9"
    assert response.content == b""
    permanent = classes_client.get("/redirect-301", follow_redirects=False)
    assert permanent.status_code == 301
    assert permanent.headers["location"] == "https://example.com/new"


def test_streaming_response_from_async_generator(classes_client: Any) -> None:
    response = classes_client.get("/stream-async")
    assert response.status_code == 200
    assert response.text == "chunk0;chunk1;chunk2;chunk3;chunk4;"
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["x-s"] == "1"
    assert "async generator closed" in classes_client.events


def test_streaming_response_from_sync_iterator_runs_off_the_loop(classes_client: Any) -> None:
    response = classes_client.get("/stream-sync")
    assert response.text == "line 0\nline 1\nline 2\n"
    threads = [e for e in classes_client.events if e.startswith("sync chunk")]
    assert len(threads) == 3
    assert all("MainThread" not in e for e in threads)
    assert classes_client.get("/stream-list").text == "abc"


def test_head_on_a_streaming_route_has_no_body(classes_client: Any) -> None:
    response = classes_client.head("/stream-async")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-type"] == "text/csv; charset=utf-8"


def test_file_response(classes_client: Any) -> None:
    response = classes_client.get("/file")
    assert response.status_code == 200
    assert response.content == b"file contents\n" * 1000
    assert response.headers["content-type"].startswith("text/plain")
    assert response.headers["content-length"] == "14000"
    assert response.headers["etag"].startswith('"')
    assert response.headers["last-modified"].endswith("GMT")
    assert "content-disposition" not in response.headers
    html = classes_client.get("/file-html")
    assert html.headers["content-type"] == "text/html; charset=utf-8"


def test_file_response_head_has_headers_and_no_body(classes_client: Any) -> None:
    response = classes_client.head("/file")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == "14000"


def test_file_download_name(classes_client: Any) -> None:
    response = classes_client.get("/download")
    assert (
        response.headers["content-disposition"]
        == "attachment; filename*=utf-8''r%C3%A9port%201.txt"
    )
    assert response.headers["content-type"].startswith("text/plain")


@pytest.mark.parametrize("path", ["/missing-file", "/directory"])
def test_missing_file_is_404(classes_client: Any, path: str) -> None:
    response = classes_client.get(path)
    assert response.status_code == 404
    assert response.json() == {"detail": "File not found"}


def test_set_cookie_and_delete_cookie(classes_client: Any) -> None:
    response = classes_client.get("/cookies")
    cookies = response.headers.get_list("set-cookie")
    assert len(cookies) == 3
    session, tricky, old = cookies
    assert session.startswith("session=abc123;")
    for attribute in ("HttpOnly", "Secure", "Max-Age=60", "Path=/", "SameSite=lax"):
        assert attribute in session
    # A value with separators is quoted, so it cannot add attributes or cookies.
    assert tricky.startswith('tricky="a\\073b\\054c \\"d\\""')
    assert "Path" not in tricky
    assert "SameSite" not in tricky
    assert old.startswith(('old="";', "old=;"))
    assert "Max-Age=0" in old


def test_mutable_headers(classes_client: Any) -> None:
    response = classes_client.get("/mutable-headers")
    assert response.headers.get_list("x-one") == ["2"]
    assert response.headers.get_list("vary") == ["a", "b"]
    assert response.headers["x-default"] == "d"


def test_response_content_types_are_checked() -> None:
    assert Response("t\u00e9").body == "t\u00e9".encode()
    assert Response(bytearray(b"ab")).body == b"ab"
    assert Response(None).body == b""
    with pytest.raises(TypeError, match="content must be bytes or str, not dict"):
        Response({"a": 1})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "value"),
    [("x-bad", "a\r\nInjected: yes"), ("x-bad", "a\nb"), ("x-bad", "nul\x00"), ("bad name", "v")],
)
def test_response_headers_refuse_splitting(name: str, value: str) -> None:
    with pytest.raises(ValueError, match="invalid"):
        Response(b"", headers={name: value})
    response = Response(b"")
    with pytest.raises(ValueError, match="invalid"):
        response.headers[name] = value
    with pytest.raises(ValueError, match="invalid"):
        response.headers.append(name, value)


@pytest.mark.parametrize(
    ("url", "location"),
    [
        ("/a b", "/a%20b"),
        ("/café?q=é", "/caf%C3%A9?q=%C3%A9"),
        ("/already%20escaped", "/already%20escaped"),
        (
            "https://u:p@host:8/p;x?a=1&b=(2)*+,$!'#frag",
            "https://u:p@host:8/p;x?a=1&b=(2)*+,$!'#frag",
        ),
        ("http://[::1]:80/~user/-._", "http://[::1]:80/~user/-._"),
        ('/<script>"x"`{}|\\^', "/%3Cscript%3E%22x%22%60%7B%7D%7C%5C%5E"),
        ("/line\r\nbreak", "/line%0D%0Abreak"),
    ],
)
def test_redirect_location_keeps_uri_delimiters_and_escapes_the_rest(
    url: str, location: str
) -> None:
    assert RedirectResponse(url).headers["location"] == location


def standard_library_cookie(name: str, value: str, **attributes: Any) -> str:
    """What ``http.cookies`` writes for the same cookie: the form VelociPy keeps."""
    from http.cookies import SimpleCookie

    jar: SimpleCookie = SimpleCookie()
    jar[name] = value
    for key, attr in attributes.items():
        if attr is not None and attr is not False:
            jar[name][key.replace("_", "-")] = attr
    return jar[name].OutputString()


COOKIE_VALUES = [
    "abc123",
    "eyJ2IjoxfQ.AAAAAGsW.1nFJ-_x",
    "",
    "a b",
    'a;b,c "d"',
    "é",
    "x:y!#$%&'*+^`|~",
]
COOKIE_ATTRIBUTES: list[dict[str, Any]] = [
    {},
    {"max_age": 1209600, "path": "/", "httponly": True, "samesite": "lax"},
    {"max_age": 0, "path": "/app", "domain": "example.com", "secure": True, "samesite": "none"},
    {"max_age": None, "path": None, "samesite": None, "secure": False, "httponly": False},
    {"max_age": "60", "path": "", "domain": "", "samesite": ""},
    {"max_age": True, "httponly": "yes"},
]


@pytest.mark.parametrize("attributes", COOKIE_ATTRIBUTES)
@pytest.mark.parametrize("value", COOKIE_VALUES)
def test_set_cookie_writes_what_the_standard_library_writes(
    value: str, attributes: dict[str, Any]
) -> None:
    response = PlainTextResponse("ok")
    response.set_cookie("session", value, **{"path": "/", "samesite": "lax", **attributes})
    expected = standard_library_cookie(
        "session", value, **{"path": "/", "samesite": "lax", **attributes}
    )
    assert response.headers.get_list("set-cookie") == [expected]


@pytest.mark.parametrize("name", ["Path", "expires", "bad name", "semi;colon"])
def test_a_cookie_name_the_standard_library_refuses_is_refused(name: str) -> None:
    from http.cookies import CookieError

    with pytest.raises(CookieError):
        PlainTextResponse("ok").set_cookie(name, "value")
