"""Handler parameters bound from the signature: query, header, cookie markers and JSON bodies."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, TypedDict

import msgspec
import pytest

from velocipy import Body, Cookie, Header, Query, Request, VelociPy


class Item(msgspec.Struct):
    name: str
    price: float
    tags: list[str] = []


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Movie(TypedDict):
    title: str
    year: int


class Order(msgspec.Struct):
    items: list[Item]


def params_app() -> VelociPy:
    app = VelociPy()

    @app.get("/query")
    async def query(
        q: str,
        page: int = 1,
        ratio: float | None = None,
        flag: bool = False,
    ) -> dict[str, Any]:
        return {"q": q, "page": page, "ratio": ratio, "flag": flag}

    @app.get("/markers")
    async def markers(
        search: Annotated[str, Query(alias="search-term")] = "none",
        limit: Annotated[int, Query()] = 10,
        user_agent: Annotated[str | None, Header()] = None,
        token: Annotated[str, Header(alias="X-Token")] = "no-token",
        session: Annotated[str | None, Cookie()] = None,
        theme: str = Cookie("light", alias="ui-theme"),
    ) -> dict[str, Any]:
        return {
            "search": search,
            "limit": limit,
            "user_agent": user_agent,
            "token": token,
            "session": session,
            "theme": theme,
        }

    @app.get("/required")
    async def required(
        x_request_id: Annotated[str, Header()],
        session: Annotated[str, Cookie()],
        n: Annotated[int, Query()],
    ) -> dict[str, Any]:
        return {"id": x_request_id, "session": session, "n": n}

    @app.get("/lists")
    async def lists(
        tag: list[str] = Query([]),
        n: Annotated[list[int], Query()] = [],
        accept: Annotated[list[str], Header()] = [],
    ) -> dict[str, Any]:
        return {"tag": tag, "n": n, "accept": accept}

    @app.post("/items")
    async def create_item(item: Item) -> Item:
        return item

    @app.post("/points")
    async def create_point(point: Point) -> dict[str, Any]:
        return {"type": type(point).__name__, "sum": point.x + point.y}

    @app.post("/movies")
    async def create_movie(movie: Movie) -> dict[str, Any]:
        return {"type": type(movie).__name__, "movie": movie}

    @app.post("/orders/{order_id:int}")
    async def create_order(order_id: int, order: Order, dry_run: bool = False) -> dict[str, Any]:
        return {"id": order_id, "count": len(order.items), "dry_run": dry_run}

    @app.post("/optional-body")
    async def optional_body(item: Item | None = None) -> dict[str, Any]:
        return {"item": None if item is None else item.name}

    @app.post("/raw-body")
    async def raw_body(data: Annotated[dict[str, int], Body()]) -> dict[str, int]:
        return data

    @app.get("/with-request")
    async def with_request(request: Request, q: str = "") -> dict[str, Any]:
        return {"path": request.path, "q": q}

    @app.get("/sync")
    def sync_handler(n: int) -> dict[str, int]:
        return {"double": n * 2}

    return app


def test_query_parameters_with_defaults(client_for: Any) -> None:
    client = client_for(params_app())
    assert client.get("/query", params={"q": "x"}).json() == {
        "q": "x",
        "page": 1,
        "ratio": None,
        "flag": False,
    }
    response = client.get("/query?q=y&page=3&ratio=0.5&flag=true")
    assert response.json() == {"q": "y", "page": 3, "ratio": 0.5, "flag": True}


def test_missing_and_bad_query_parameters_are_422(client_for: Any) -> None:
    client = client_for(params_app())
    missing = client.get("/query")
    assert missing.status_code == 422
    assert missing.json() == {
        "detail": [{"loc": ["query", "q"], "msg": "Field required", "type": "missing"}]
    }
    bad = client.get("/query?q=x&page=two&flag=perhaps")
    assert bad.status_code == 422
    detail = bad.json()["detail"]
    assert [e["loc"] for e in detail] == [["query", "page"], ["query", "flag"]]
    assert all(set(e) == {"loc", "msg", "type"} for e in detail)
    assert "'two'" in detail[0]["msg"]


def test_markers_defaults(client_for: Any) -> None:
    client = client_for(params_app())
    response = client.get("/markers")
    assert response.json() == {
        "search": "none",
        "limit": 10,
        "user_agent": "velocipy-testclient",
        "token": "no-token",
        "session": None,
        "theme": "light",
    }


def test_markers_read_aliases_headers_and_cookies(client_for: Any) -> None:
    client = client_for(params_app())
    response = client.get(
        "/markers",
        params={"search-term": "cats", "limit": 3},
        headers={"User-Agent": "probe/1", "x-token": "secret"},
        cookies={"session": "abc", "ui-theme": "dark"},
    )
    assert response.json() == {
        "search": "cats",
        "limit": 3,
        "user_agent": "probe/1",
        "token": "secret",
        "session": "abc",
        "theme": "dark",
    }


def test_required_markers_report_every_missing_source(client_for: Any) -> None:
    client = client_for(params_app())
    response = client.get("/required")
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["detail"]] == [
        ["header", "x-request-id"],
        ["cookie", "session"],
        ["query", "n"],
    ]
    ok = client.get(
        "/required", params={"n": 2}, headers={"X-Request-ID": "r1"}, cookies={"session": "s"}
    )
    assert ok.json() == {"id": "r1", "session": "s", "n": 2}


def test_list_parameters_collect_repeats(client_for: Any) -> None:
    client = client_for(params_app())
    response = client.get(
        "/lists?tag=a&tag=b&n=1&n=2&n=3", headers=[("accept", "text/html"), ("accept", "*/*")]
    )
    assert response.json() == {"tag": ["a", "b"], "n": [1, 2, 3], "accept": ["text/html", "*/*"]}
    assert client.get("/lists", headers={"accept": "x"}).json()["tag"] == []
    bad = client.get("/lists?n=1&n=x")
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["query", "n"]


def test_struct_body_round_trip(client_for: Any) -> None:
    client = client_for(params_app())
    response = client.post("/items", json={"name": "pen", "price": 1.5})
    assert response.status_code == 200
    assert response.json() == {"name": "pen", "price": 1.5, "tags": []}


def test_dataclass_and_typeddict_bodies(client_for: Any) -> None:
    client = client_for(params_app())
    assert client.post("/points", json={"x": 1, "y": 2}).json() == {"type": "Point", "sum": 3}
    movie = {"title": "M", "year": 1931}
    assert client.post("/movies", json=movie).json() == {"type": "dict", "movie": movie}
    bad = client.post("/movies", json={"title": "M"})
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["type"] == "missing"


@pytest.mark.parametrize(
    ("payload", "loc", "kind"),
    [
        ({"price": 1.0}, ["body"], "missing"),
        ({"name": "pen", "price": "cheap"}, ["body", "price"], "value_error"),
        ({"name": "pen", "price": 1, "tags": ["a", 2]}, ["body", "tags", 1], "value_error"),
        ([1, 2], ["body"], "value_error"),
    ],
)
def test_invalid_struct_body_is_422_with_location(
    client_for: Any, payload: Any, loc: list[Any], kind: str
) -> None:
    response = client_for(params_app()).post("/items", json=payload)
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert set(error) == {"loc", "msg", "type"}
    assert error["loc"] == loc
    assert error["type"] == kind
    assert error["msg"]


def test_nested_struct_error_location(client_for: Any) -> None:
    response = client_for(params_app()).post(
        "/orders/1", json={"items": [{"name": "a", "price": 1}, {"name": "b"}]}
    )
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "items", 1]
    assert "price" in error["msg"]


def test_body_with_path_and_query(client_for: Any) -> None:
    response = client_for(params_app()).post(
        "/orders/7?dry_run=yes", json={"items": [{"name": "a", "price": 1}]}
    )
    assert response.json() == {"id": 7, "count": 1, "dry_run": True}


def test_query_errors_come_before_reading_the_body(client_for: Any) -> None:
    response = client_for(params_app()).post("/orders/7?dry_run=maybe", content=b"not json")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "dry_run"]


def test_missing_body_is_422_unless_optional(client_for: Any) -> None:
    client = client_for(params_app())
    missing = client.post("/items", content=b"")
    assert missing.status_code == 422
    assert missing.json() == {
        "detail": [{"loc": ["body"], "msg": "Field required", "type": "missing"}]
    }
    assert client.post("/optional-body", content=b"").json() == {"item": None}
    assert client.post("/optional-body", json={"name": "n", "price": 2}).json() == {"item": "n"}


def test_body_marker_with_plain_type(client_for: Any) -> None:
    client = client_for(params_app())
    assert client.post("/raw-body", json={"a": 1}).json() == {"a": 1}
    assert client.post("/raw-body", json={"a": "x"}).status_code == 422


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
def test_non_json_content_type_is_415(client_for: Any, content_type: str) -> None:
    response = client_for(params_app()).post(
        "/items", content=b'{"name": "pen", "price": 1}', headers={"content-type": content_type}
    )
    assert response.status_code == 415
    assert content_type in response.json()["detail"]


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=utf-8", "application/vnd.api+json"],
)
def test_json_content_types_are_accepted(client_for: Any, content_type: str) -> None:
    response = client_for(params_app()).post(
        "/items", content=b'{"name": "pen", "price": 1}', headers={"content-type": content_type}
    )
    assert response.status_code == 200


def test_malformed_json_body_is_400(client_for: Any) -> None:
    response = client_for(params_app()).post(
        "/items", content=b'{"name": ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body"]
    assert error["type"] == "json_invalid"


def test_request_parameter_and_sync_handler(client_for: Any) -> None:
    client = client_for(params_app())
    assert client.get("/with-request?q=z").json() == {"path": "/with-request", "q": "z"}
    assert client.get("/sync?n=21").json() == {"double": 42}


def test_signature_mistakes_are_refused_at_registration() -> None:
    app = VelociPy()

    async def two_bodies(a: Item, b: Point) -> None: ...

    with pytest.raises(TypeError, match="declares 2 body parameters"):
        app.add_route("/x", two_bodies, ["POST"])

    async def star_args(*args: Any) -> None: ...

    with pytest.raises(TypeError, match=r"\*args/\*\*kwargs cannot be bound"):
        app.add_route("/y", star_args, ["GET"])

    async def unknown_hint(x: NotDefined) -> None:  # type: ignore[name-defined]  # noqa: F821
        ...

    with pytest.raises(TypeError, match="cannot resolve a parameter annotation"):
        app.add_route("/z", unknown_hint, ["GET"])


def test_path_parameters_reach_the_handler_however_it_declares_them(client_for: Any) -> None:
    """One path parameter is passed by position (the fast path), unless it is keyword-only."""
    app = VelociPy()

    @app.get("/positional/{n}")
    async def positional(n: int) -> dict[str, int]:
        return {"n": n}

    @app.get("/keyword-only/{n}")
    async def keyword_only(*, n: int) -> dict[str, int]:
        return {"n": n}

    @app.get("/in-thread/{n}")
    def in_thread(n: int) -> dict[str, int]:
        return {"n": n}

    @app.get("/two/{a}/{b}")
    async def two(b: str, a: int) -> dict[str, Any]:
        return {"a": a, "b": b}

    client = client_for(app)
    for path in ("/positional/7", "/keyword-only/7", "/in-thread/7"):
        assert client.get(path).json() == {"n": 7}
    assert client.get("/two/1/x").json() == {"a": 1, "b": "x"}
    wrong = client.get("/positional/seven")
    assert wrong.status_code == 422
    assert wrong.json()["detail"][0]["loc"] == ["path", "n"]


@pytest.mark.parametrize("digits", [4299, 4300, 4301], ids=["below", "at", "above"])
def test_whole_numbers_up_to_pythons_digit_limit(client_for: Any, digits: int) -> None:
    """Python converts at most sys.get_int_max_str_digits() (4300) digits: a longer number in
    the path or the query is a 422 that says so, not Python's advice to call a function."""
    app = VelociPy()

    @app.get("/items/{item_id:int}")
    async def item(item_id: int, page: int = 0) -> dict[str, int]:
        return {"digits": len(str(item_id)), "page_digits": len(str(page))}

    client = client_for(app)
    number = "9" * digits
    for path, where in ((f"/items/{number}", "path"), (f"/items/1?page={number}", "query")):
        response = client.get(path)
        if digits <= 4300:
            assert response.status_code == 200, response.text
            assert digits in response.json().values()
        else:
            assert response.status_code == 422, response.text
            message = "a whole number of 4301 digits is longer than the limit of 4300"
            [error] = response.json()["detail"]
            assert (error["loc"][0], error["msg"], error["type"]) == (where, message, "int_parsing")
