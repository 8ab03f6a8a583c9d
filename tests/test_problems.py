"""problem+json (RFC 9457) for every error the core answers, and in OpenAPI."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
import pytest

from velocipy import Body, HTTPException, VelociPy
from velocipy.problems import Problem
from velocipy.ratelimit import RateLimit
from velocipy.testing import TestClient

Client = Callable[..., TestClient]


class Item(msgspec.Struct):
    name: str
    price: float


def problem_app(**options: Any) -> VelociPy:
    app = VelociPy(problem_details=True, max_body_size=100, **options)

    @app.get("/items/{item_id:int}")
    async def read(item_id: int) -> dict[str, int]:
        if item_id == 0:
            raise HTTPException(404, "No item 0", headers={"x-why": "zero"})
        if item_id == 1:
            raise HTTPException(409, {"conflict": "with item 2"})
        if item_id == 2:
            raise Problem(
                403,
                "Your balance is 30, but that costs 50",
                type="https://example.com/probs/out-of-credit",
                title="You do not have enough credit",
                instance="/account/12345/msgs/abc",
                balance=30,
            )
        if item_id == 3:
            raise RuntimeError("boom")
        return {"id": item_id}

    @app.post("/items", rate_limit=RateLimit(1, "minute"))
    async def create(item: Item = Body()) -> Item:
        return item

    @app.put("/items")
    async def replace(item: Item = Body()) -> Item:
        return item

    return app


def problem(response: Any) -> dict[str, Any]:
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    return body


def test_every_core_error_is_a_problem_document(client_for: Client) -> None:
    client = client_for(problem_app(), raise_server_exceptions=False)
    not_found = client.get("/nowhere")
    assert not_found.status_code == 404
    assert problem(not_found) == {"type": "about:blank", "title": "Not Found", "status": 404}
    missing = client.get("/items/0")
    assert problem(missing) == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "No item 0",
    }
    assert missing.headers["x-why"] == "zero"  # the exception's headers are kept
    assert problem(client.get("/items/1"))["details"] == {"conflict": "with item 2"}
    not_allowed = client.delete("/items/5")
    assert not_allowed.status_code == 405
    assert problem(not_allowed)["title"] == "Method Not Allowed"
    assert not_allowed.headers["allow"] == "GET, HEAD"
    invalid_path = client.get("/items/abc")
    assert invalid_path.status_code == 422
    body = problem(invalid_path)
    assert body["title"] == "Unprocessable Content"
    assert body["detail"] == "The request does not fit what the endpoint accepts"
    assert body["errors"][0]["loc"] == ["path", "item_id"]
    invalid_body = client.put("/items", json={"name": "x"})
    assert invalid_body.status_code == 422
    assert problem(invalid_body)["errors"][0]["loc"][0] == "body"
    assert client.post("/items", json={"name": "x", "price": 1}).status_code == 200
    limited = client.post("/items", json={"name": "x", "price": 1})
    assert limited.status_code == 429
    assert problem(limited)["detail"].startswith("Rate limit exceeded: 1 per 60 seconds")
    assert "retry-after" in limited.headers
    too_large = client.put(
        "/items", content=b"x" * 101, headers={"content-type": "application/json"}
    )
    assert too_large.status_code == 413
    assert problem(too_large)["title"] == "Content Too Large"
    unsupported = client.put("/items", content=b"a", headers={"content-type": "text/plain"})
    assert unsupported.status_code == 415
    assert problem(unsupported)["title"] == "Unsupported Media Type"
    crashed = client.get("/items/3")
    assert crashed.status_code == 500
    assert problem(crashed) == {
        "type": "about:blank",
        "title": "Internal Server Error",
        "status": 500,
    }


def test_a_problem_raised_keeps_its_members_even_without_the_option(client_for: Client) -> None:
    app = problem_app()
    app.problem_details = False
    client = client_for(app)
    assert problem(client.get("/items/2")) == {
        "type": "https://example.com/probs/out-of-credit",
        "title": "You do not have enough credit",
        "status": 403,
        "detail": "Your balance is 30, but that costs 50",
        "instance": "/account/12345/msgs/abc",
        "balance": 30,
    }
    plain = client.get("/items/0")  # the option off: the usual {"detail": ...}
    assert plain.headers["content-type"] == "application/json"
    assert plain.json() == {"detail": "No item 0"}


def test_problem_extension_names_cannot_shadow_members() -> None:
    with pytest.raises(ValueError, match=r"extension members cannot be named \['status'\]"):
        Problem(400, status=1)


def test_openapi_describes_errors_as_problems() -> None:
    document = problem_app().openapi()
    create = document["paths"]["/items"]["post"]["responses"]
    assert set(create["422"]["content"]) == {"application/problem+json"}
    assert create["422"]["content"]["application/problem+json"]["schema"] == {
        "$ref": "#/components/schemas/ValidationProblemBody"
    }
    assert create["429"]["content"]["application/problem+json"]["schema"] == {
        "$ref": "#/components/schemas/ProblemBody"
    }
    problem_schema = document["components"]["schemas"]["ProblemBody"]
    assert set(problem_schema["properties"]) == {"type", "title", "status", "detail", "instance"}
    plain = VelociPy()

    @plain.post("/items", rate_limit=RateLimit(1))
    async def create_plain(item: Item = Body()) -> Item:
        return item

    responses = plain.openapi()["paths"]["/items"]["post"]["responses"]
    assert set(responses["422"]["content"]) == {"application/json"}
    assert set(responses["429"]["content"]) == {"application/json"}
