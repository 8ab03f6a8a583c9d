"""CORSMiddleware on both protocols: preflights, simple requests, credentials, Vary."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from velocipy import Response, VelociPy
from velocipy.middleware import CORSMiddleware
from velocipy.testing import TestClient

ClientFactory = Callable[..., TestClient]
PAGE = "https://page.example"


def make_app(**options: object) -> VelociPy:
    app = VelociPy()
    app.add_middleware(CORSMiddleware, **options)

    @app.get("/data")
    async def data() -> dict[str, int]:
        return {"n": 1}

    @app.post("/data")
    async def post_data() -> dict[str, bool]:
        return {"posted": True}

    return app


def preflight(client: TestClient, method: str = "POST", headers: str = "") -> object:
    extra = {"origin": PAGE, "access-control-request-method": method}
    if headers:
        extra["access-control-request-headers"] = headers
    return client.options("/data", headers=extra)


def test_preflight_allowed(client_for: ClientFactory) -> None:
    client = client_for(
        make_app(allow_origins=[PAGE], allow_methods=["GET", "POST"], allow_headers=["x-token"])
    )
    response = client.options(
        "/data",
        headers={
            "origin": PAGE,
            "access-control-request-method": "POST",
            "access-control-request-headers": "X-Token, Content-Type",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == PAGE
    assert "POST" in response.headers["access-control-allow-methods"]
    assert "x-token" in response.headers["access-control-allow-headers"]
    assert response.headers["access-control-max-age"] == "600"
    assert "Origin" in response.headers["vary"]


def test_preflight_refused_with_400_naming_what(client_for: ClientFactory) -> None:
    client = client_for(make_app(allow_origins=[PAGE], allow_methods=["GET"]))
    bad_method = client.options(
        "/data", headers={"origin": PAGE, "access-control-request-method": "DELETE"}
    )
    assert bad_method.status_code == 400
    assert "method DELETE" in bad_method.text
    assert "access-control-allow-origin" not in bad_method.headers
    bad_header = client.options(
        "/data",
        headers={
            "origin": PAGE,
            "access-control-request-method": "GET",
            "access-control-request-headers": "x-secret",
        },
    )
    assert (bad_header.status_code, "header x-secret" in bad_header.text) == (400, True)
    bad_origin = client.options(
        "/data", headers={"origin": "https://evil.example", "access-control-request-method": "GET"}
    )
    assert bad_origin.status_code == 400
    assert "origin https://evil.example" in bad_origin.text


def test_simple_request_from_allowed_and_refused_origins(client_for: ClientFactory) -> None:
    client = client_for(
        make_app(allow_origins=[PAGE], expose_headers=["x-total"], allow_credentials=True)
    )
    allowed = client.get("/data", headers={"origin": PAGE})
    assert allowed.headers["access-control-allow-origin"] == PAGE
    assert allowed.headers["access-control-allow-credentials"] == "true"
    assert allowed.headers["access-control-expose-headers"] == "x-total"
    assert allowed.headers["vary"] == "Origin"
    refused = client.get("/data", headers={"origin": "https://evil.example"})
    assert refused.status_code == 200  # served, but without CORS headers the browser hides it
    assert "access-control-allow-origin" not in refused.headers
    assert refused.headers["vary"] == "Origin"
    no_origin = client.get("/data")
    assert "access-control-allow-origin" not in no_origin.headers
    assert no_origin.headers["vary"] == "Origin"


def test_wildcard_without_credentials_is_a_literal_star(client_for: ClientFactory) -> None:
    client = client_for(make_app(allow_origins="*", allow_methods="*", allow_headers="*"))
    response = client.get("/data", headers={"origin": PAGE})
    assert response.headers["access-control-allow-origin"] == "*"
    assert "vary" not in response.headers  # the answer is the same for every origin
    pre = client.options(
        "/data",
        headers={
            "origin": PAGE,
            "access-control-request-method": "PATCH",
            "access-control-request-headers": "x-anything",
        },
    )
    assert pre.status_code == 200
    assert pre.headers["access-control-allow-origin"] == "*"


def test_wildcard_with_credentials_echoes_never_a_star(client_for: ClientFactory) -> None:
    client = client_for(
        make_app(allow_origins="*", allow_methods="*", allow_headers="*", allow_credentials=True)
    )
    response = client.get("/data", headers={"origin": PAGE})
    assert response.headers["access-control-allow-origin"] == PAGE
    assert response.headers["vary"] == "Origin"
    pre = client.options(
        "/data",
        headers={
            "origin": PAGE,
            "access-control-request-method": "PATCH",
            "access-control-request-headers": "x-anything",
        },
    )
    assert pre.headers["access-control-allow-origin"] == PAGE
    assert pre.headers["access-control-allow-methods"] == "PATCH"
    assert pre.headers["access-control-allow-headers"] == "x-anything"
    assert "*" not in {pre.headers[h] for h in pre.headers if h.startswith("access-control")}


def test_origin_regex(client_for: ClientFactory) -> None:
    client = client_for(make_app(allow_origin_regex=r"https://[a-z]+\.example\.org"))
    assert (
        client.get("/data", headers={"origin": "https://app.example.org"}).headers[
            "access-control-allow-origin"
        ]
        == "https://app.example.org"
    )
    evil = client.get("/data", headers={"origin": "https://app.example.org.evil.com"})
    assert "access-control-allow-origin" not in evil.headers


def test_options_without_request_method_reaches_the_app(client_for: ClientFactory) -> None:
    client = client_for(make_app(allow_origins=[PAGE]))
    response = client.options("/data", headers={"origin": PAGE})
    assert response.status_code == 405  # not a preflight: the route answers


def test_the_handlers_own_cors_headers_are_replaced_and_its_vary_kept(
    client_for: ClientFactory,
) -> None:
    """A handler that set its own Access-Control-* headers and Vary: the middleware's answer
    replaces the CORS ones (one of each, not two) and adds Origin to the Vary it found."""
    app = VelociPy()
    app.add_middleware(CORSMiddleware, allow_origins=[PAGE], allow_credentials=True)

    @app.get("/own")
    async def own() -> Response:
        return Response(
            b"x",
            headers=[
                ("access-control-allow-origin", "https://other.example"),
                ("access-control-allow-credentials", "false"),
                ("vary", "Accept-Language"),
                ("x-kept", "1"),
            ],
        )

    response = client_for(app).get("/own", headers={"origin": PAGE})
    pairs = [
        (k, v) for k, v in response.headers.multi_items() if k.startswith(("access", "vary", "x-"))
    ]
    assert sorted(pairs) == [
        ("access-control-allow-credentials", "true"),
        ("access-control-allow-origin", PAGE),
        ("vary", "Accept-Language, Origin"),
        ("x-kept", "1"),
    ]


def test_an_exposed_header_that_cannot_be_a_header_is_refused_at_start_up() -> None:
    with pytest.raises(ValueError, match="invalid"):
        CORSMiddleware(allow_origins=[PAGE], expose_headers=["x-total\r\nset-cookie: a=b"])
