"""velocipy.pagination: limit/offset and cursor providers, their bounds, and their OpenAPI text."""

from typing import Annotated, Any

import pytest

from velocipy import Depends, Query, VelociPy
from velocipy.pagination import (
    Cursor,
    LimitOffset,
    cursor,
    decode_cursor,
    encode_cursor,
    limit_offset,
)
from velocipy.testing import TestClient


def make_app() -> VelociPy:
    app = VelociPy()

    @app.get("/pages")
    async def pages(
        page: Annotated[LimitOffset, Depends(limit_offset(default_limit=5, max_limit=10))],
    ) -> dict[str, int]:
        return {"limit": page.limit, "offset": page.offset}

    @app.get("/feed")
    async def feed(page: Annotated[Cursor, Depends(cursor(max_limit=10, default_limit=3))]) -> Any:
        return {"limit": page.limit, "after": page.after}

    @app.get("/search")
    async def search(q: Annotated[str, Query(description="Words to look for.")] = "") -> str:
        return q

    return app


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", {"limit": 5, "offset": 0}),
        ("?limit=1", {"limit": 1, "offset": 0}),
        ("?limit=10&offset=0", {"limit": 10, "offset": 0}),
        ("?limit=9&offset=30", {"limit": 9, "offset": 30}),
    ],
)
def test_limit_and_offset_within_bounds(client_for: Any, query: str, expected: Any) -> None:
    assert client_for(make_app()).get("/pages" + query).json() == expected


@pytest.mark.parametrize(
    ("query", "errors"),
    [
        ("?limit=0", [("limit", "Expected a limit from 1 to 10")]),
        ("?limit=11", [("limit", "Expected a limit from 1 to 10")]),
        ("?offset=-1", [("offset", "Expected an offset >= 0")]),
        (
            "?limit=0&offset=-1",
            [("limit", "Expected a limit from 1 to 10"), ("offset", "Expected an offset >= 0")],
        ),
    ],
)
def test_limit_and_offset_outside_bounds(client_for: Any, query: str, errors: Any) -> None:
    answer = client_for(make_app()).get("/pages" + query)
    assert answer.status_code == 422
    assert [(e["loc"], e["msg"]) for e in answer.json()["detail"]] == [
        (["query", name], message) for name, message in errors
    ]


def test_a_cursor_carries_its_position(client_for: Any) -> None:
    client = client_for(make_app())
    assert client.get("/feed").json() == {"limit": 3, "after": None}
    position = ["2026-01-01T00:00:00", 41]
    token = encode_cursor(position)
    assert decode_cursor(token) == position
    assert client.get("/feed", params={"cursor": token, "limit": 10}).json() == {
        "limit": 10,
        "after": position,
    }


@pytest.mark.parametrize("token", ["not a cursor", "%%%", "bm90IGpzb24"])  # the last: "not json"
def test_a_cursor_that_is_not_ours_is_a_422(client_for: Any, token: str) -> None:
    answer = client_for(make_app()).get("/feed", params={"cursor": token})
    assert answer.status_code == 422
    assert answer.json()["detail"] == [
        {
            "loc": ["query", "cursor"],
            "msg": "Invalid cursor: pass back a next_cursor this API returned",
            "type": "value_error",
        }
    ]


def test_the_parameters_are_described_in_openapi() -> None:
    spec = TestClient(make_app()).get("/openapi.json").json()
    pages = spec["paths"]["/pages"]["get"]["parameters"]
    assert pages == [
        {
            "name": "limit",
            "in": "query",
            "required": False,
            "description": "How many items to return, 1 to 10 (default 5).",
            "schema": {"type": "integer", "default": 5},
        },
        {
            "name": "offset",
            "in": "query",
            "required": False,
            "description": "How many items to skip from the start (default 0).",
            "schema": {"type": "integer", "default": 0},
        },
    ]
    feed = {p["name"]: p for p in spec["paths"]["/feed"]["get"]["parameters"]}
    assert feed["cursor"]["description"] == (
        "Where to continue: the next_cursor of the previous page (omit: start)."
    )
    search = spec["paths"]["/search"]["get"]["parameters"]
    assert search[0]["description"] == "Words to look for."


def test_a_default_limit_above_the_maximum_is_refused_at_once() -> None:
    with pytest.raises(ValueError, match=r"default_limit=50 must be from 1 to max_limit \(10\)"):
        limit_offset(default_limit=50, max_limit=10)
    with pytest.raises(ValueError, match=r"default_limit=0 must be from 1"):
        cursor(default_limit=0)
