"""D3 and D4: a NUL in a file path is a 404, and response headers follow RFC 9110's grammar.

In-process on both protocols; tests/interop/test_hostile_http.py repeats them on real servers.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from velocipy import FileResponse, Request, Response, VelociPy
from velocipy.datastructures import check_header

HERE = Path(__file__).parent


def files_app() -> VelociPy:
    app = VelociPy()

    @app.get("/files/{name:path}")
    async def files(name: str) -> FileResponse:
        return FileResponse(HERE / name)

    @app.get("/header")
    async def header(request: Request) -> Response:
        return Response("ok", headers={"x-echo": request.query_params.get("value", "")})

    return app


@pytest.mark.parametrize("path", ["/files/a%00b", "/files/conftest.py%00.txt", "/files/%00"])
def test_nul_in_a_file_path_is_404(client_for: Any, path: str) -> None:
    client = client_for(files_app())
    response = client.get(path)
    assert response.status_code == 404
    assert response.json() == {"detail": "File not found"}
    assert client.get("/files/conftest.py").status_code == 200


@pytest.mark.parametrize(
    "value", ["%01", "a%7Fb", "%1B%5B31m", "a%0Db", "a%0Ab", "a%00b", "%20lead", "trail%09"]
)
def test_control_characters_in_a_header_are_a_generic_500_never_emitted(
    client_for: Any, caplog: pytest.LogCaptureFixture, value: str
) -> None:
    client = client_for(files_app())
    with caplog.at_level(logging.ERROR, logger="velocipy"):
        response = client.get(f"/header?value={value}")
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal Server Error"}
    assert "x-echo" not in response.headers
    assert any(r.exc_info for r in caplog.records)


@pytest.mark.parametrize("value", ["plain", "a b\tc", "caf%C3%A9", "%E2%9C%93", ""])
def test_valid_header_values_pass(client_for: Any, value: str) -> None:
    response = client_for(files_app()).get(f"/header?value={value}")
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("name", "value"),
    [("x-a", "\x01"), ("x-a", "\x7f"), ("x-a", "\x1f"), ("x a", "v"), ("x:a", "v"), ("", "v")],
)
def test_check_header_refuses(name: str, value: str) -> None:
    with pytest.raises(ValueError, match="invalid"):
        check_header(name, value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("x-a", "v"),
        ("x-a", ""),
        ("x-a", "\u00e9\u2713"),
        ("x-a", "a\tb c"),
        ("x!#$%&'*+.^_`|~", "v"),
    ],
)
def test_check_header_accepts(name: str, value: str) -> None:
    check_header(name, value)


def test_values_seen_valid_are_remembered_and_the_memory_is_bounded() -> None:
    """A value accepted once is accepted again without a scan; a bad value is refused however
    often good ones came before; a flood of distinct values keeps at most 1,024, and none
    over 128 characters."""
    from velocipy.datastructures import _CHECKED_VALUES

    for _ in range(3):
        check_header("x-a", "https://app.example.com")
        with pytest.raises(ValueError, match="invalid"):
            check_header("x-a", "https://app.example.com\r\nset-cookie: x=1")
        with pytest.raises(TypeError, match="must be a str"):
            check_header("x-a", 1)  # type: ignore[arg-type]
    assert "https://app.example.com" in _CHECKED_VALUES
    check_header("x-a", "long" * 40)
    assert "long" * 40 not in _CHECKED_VALUES
    for n in range(2000):
        check_header("x-a", f"origin-{n}")
    assert len(_CHECKED_VALUES) == 1024
    with pytest.raises(ValueError, match="whitespace"):
        check_header("x-a", " origin-1")


def test_encoded_asgi_headers_are_cached_short_and_bounded_never_cookies() -> None:
    """Short repeated headers are encoded once; a set-cookie (unique per response) and long
    values never enter the cache, and a flood of distinct values stops at 1,024."""
    from velocipy.asgi.http import _ENCODED, _encode_headers

    response = Response(b"", headers={"vary": "Origin", "set-cookie": "sid=abc"})
    expected = [(b"vary", b"Origin"), (b"set-cookie", b"sid=abc")]
    assert _encode_headers(response) == _encode_headers(response) == expected
    assert ("vary", "Origin") in _ENCODED
    assert ("set-cookie", "sid=abc") not in _ENCODED
    long = Response(b"", headers={"x-long": "v" * 65})
    assert _encode_headers(long) == [(b"x-long", b"v" * 65)]
    assert ("x-long", "v" * 65) not in _ENCODED
    for n in range(1500):
        assert _encode_headers(Response(b"", headers={"x-n": str(n)})) == [
            (b"x-n", str(n).encode())
        ]
    assert len(_ENCODED) == 1024
