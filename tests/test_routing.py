"""Routing: static and dynamic paths, converters, conflicts, 404/405, HEAD, names, routers.

Every HTTP test runs on ASGI and RSGI through the ``client_for`` fixture.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from velocipy import APIRouter, Request, VelociPy


def converter_app() -> VelociPy:
    app = VelociPy()

    @app.get("/static/path")
    async def static() -> str:
        return "static"

    @app.get("/int/{value:int}")
    async def int_route(value: int) -> dict[str, Any]:
        return {"value": value, "type": type(value).__name__}

    @app.get("/float/{value:float}")
    async def float_route(value: float) -> dict[str, Any]:
        return {"value": value, "type": type(value).__name__}

    @app.get("/bool/{flag:bool}")
    async def bool_route(flag: bool) -> dict[str, Any]:
        return {"value": flag, "type": type(flag).__name__}

    @app.get("/str/{name:str}")
    async def str_route(name: str) -> dict[str, Any]:
        return {"value": name, "type": type(name).__name__}

    @app.get("/plain/{name}")
    async def plain_route(name) -> dict[str, Any]:  # type: ignore[no-untyped-def]
        return {"value": name, "type": type(name).__name__}

    @app.get("/files/{rest:path}")
    async def path_route(rest: str) -> dict[str, Any]:
        return {"value": rest}

    @app.get("/annotated/{item_id}")
    async def annotated(item_id: int) -> dict[str, Any]:
        return {"value": item_id, "type": type(item_id).__name__}

    @app.get("/uuid/{key}")
    async def by_uuid(key: uuid.UUID) -> dict[str, Any]:
        return {"value": str(key), "type": type(key).__name__}

    @app.get("/two/{a:int}/{b:float}")
    async def two(a: int, b: float) -> dict[str, Any]:
        return {"a": a, "b": b}

    return app


def test_static_route(client_for: Any) -> None:
    client = client_for(converter_app())
    response = client.get("/static/path")
    assert response.status_code == 200
    assert response.text == "static"


@pytest.mark.parametrize(
    ("path", "value", "type_name"),
    [
        ("/int/42", 42, "int"),
        ("/int/-7", -7, "int"),
        ("/float/2.5", 2.5, "float"),
        ("/float/3", 3.0, "float"),
        ("/bool/true", True, "bool"),
        ("/bool/0", False, "bool"),
        ("/bool/Yes", True, "bool"),
        ("/str/hello", "hello", "str"),
        ("/str/42", "42", "str"),
        ("/plain/untyped", "untyped", "str"),
        ("/annotated/12", 12, "int"),
    ],
)
def test_converters_give_typed_values(
    client_for: Any, path: str, value: Any, type_name: str
) -> None:
    response = client_for(converter_app()).get(path)
    assert response.status_code == 200, response.text
    assert response.json() == {"value": value, "type": type_name}


def test_percent_encoded_segment_is_decoded(client_for: Any) -> None:
    response = client_for(converter_app()).get("/str/hello%20world")
    assert response.json() == {"value": "hello world", "type": "str"}


def test_path_converter_catches_the_rest(client_for: Any) -> None:
    client = client_for(converter_app())
    assert client.get("/files/a/b/c.txt").json() == {"value": "a/b/c.txt"}
    assert client.get("/files/top").json() == {"value": "top"}


def test_annotation_with_msgspec_type(client_for: Any) -> None:
    client = client_for(converter_app())
    key = uuid.uuid4()
    assert client.get(f"/uuid/{key}").json() == {"value": str(key), "type": "UUID"}
    bad = client.get("/uuid/not-a-uuid")
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["path", "key"]


@pytest.mark.parametrize(
    ("path", "name", "error_type"),
    [
        ("/int/abc", "value", "int_parsing"),
        ("/int/1.5", "value", "int_parsing"),
        ("/float/abc", "value", "float_parsing"),
        ("/float/inf", "value", "float_parsing"),
        ("/float/nan", "value", "float_parsing"),
        ("/bool/maybe", "flag", "bool_parsing"),
        ("/annotated/twelve", "item_id", "int_parsing"),
    ],
)
def test_unconvertible_value_is_422_naming_the_parameter(
    client_for: Any, path: str, name: str, error_type: str
) -> None:
    response = client_for(converter_app()).get(path)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/json")
    (error,) = response.json()["detail"]
    assert error["loc"] == ["path", name]
    assert error["type"] == error_type
    assert path.rsplit("/", 1)[1] in error["msg"]


def test_every_bad_parameter_is_reported(client_for: Any) -> None:
    response = client_for(converter_app()).get("/two/x/y")
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["detail"]] == [["path", "a"], ["path", "b"]]


def test_static_segment_wins_over_parameter(client_for: Any) -> None:
    app = VelociPy()

    @app.get("/users/me")
    async def me() -> str:
        return "me"

    @app.get("/users/{user_id:int}")
    async def user(user_id: int) -> str:
        return f"user {user_id}"

    @app.get("/users/{user_id:int}/posts")
    async def posts(user_id: int) -> str:
        return f"posts of {user_id}"

    client = client_for(app)
    assert client.get("/users/me").text == "me"
    assert client.get("/users/5").text == "user 5"
    assert client.get("/users/5/posts").text == "posts of 5"
    assert client.get("/users/5/other").status_code == 404
    assert client.get("/users/").status_code == 404


def test_parameter_then_catch_all_backtracks(client_for: Any) -> None:
    app = VelociPy()

    @app.get("/a/{x}/end")
    async def ending(x: str) -> str:
        return f"end {x}"

    @app.get("/a/{rest:path}")
    async def rest(rest: str) -> str:
        return f"rest {rest}"

    client = client_for(app)
    assert client.get("/a/1/end").text == "end 1"
    assert client.get("/a/1/other").text == "rest 1/other"


def test_unknown_path_is_404(client_for: Any) -> None:
    client = client_for(converter_app())
    response = client.get("/nowhere")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}
    assert client.get("/static/path/").status_code == 404  # no implicit trailing slash
    assert client.get("/static").status_code == 404


def test_wrong_method_is_405_with_allow(client_for: Any) -> None:
    app = VelociPy()

    @app.route("/thing", methods=["GET", "PUT"])
    async def thing() -> str:
        return "thing"

    @app.delete("/thing")
    async def remove_thing() -> None:
        return None

    @app.post("/only-post/{x:int}")
    async def only_post(x: int) -> int:
        return x

    client = client_for(app)
    response = client.post("/thing", content=b"")
    assert response.status_code == 405
    assert response.headers["allow"] == "DELETE, GET, HEAD, PUT"
    assert response.json() == {"detail": "Method Not Allowed"}
    assert client.delete("/thing").status_code == 204
    dynamic = client.get("/only-post/3")
    assert dynamic.status_code == 405
    assert dynamic.headers["allow"] == "POST"


def test_head_is_served_for_every_get_without_body(client_for: Any) -> None:
    app = converter_app()

    @app.get("/json")
    async def json_route() -> dict[str, int]:
        return {"a": 1}

    client = client_for(app)
    for path in ("/static/path", "/int/3", "/json", "/files/x/y"):
        get = client.get(path)
        head = client.head(path)
        assert head.status_code == get.status_code == 200
        assert head.content == b""
        assert head.headers["content-type"] == get.headers["content-type"]
        assert head.headers["content-length"] == get.headers["content-length"] != "0"
    assert client.head("/missing").status_code == 404


def test_explicit_head_handler_is_kept(client_for: Any) -> None:
    app = VelociPy()

    @app.head("/h")
    async def head_only() -> Any:
        from velocipy import Response

        return Response(b"", headers={"x-head": "own"})

    @app.get("/h")
    async def get_h() -> str:
        return "body"

    client = client_for(app)
    assert client.head("/h").headers["x-head"] == "own"
    assert client.get("/h").text == "body"


def test_all_method_decorators(client_for: Any) -> None:
    app = VelociPy()

    @app.get("/m")
    async def get_m(request: Request) -> str:
        return request.method

    app.post("/m")(get_m)
    app.put("/m")(get_m)
    app.patch("/m")(get_m)
    app.delete("/m")(get_m)
    app.options("/m")(get_m)

    client = client_for(app)
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
        response = client.request(method, "/m")
        assert response.status_code == 200
        assert response.text == method


@pytest.mark.parametrize(
    ("first", "second", "message"),
    [
        ("/u/{id:int}", "/u/{user:int}", "conflicts with '/u/{id:int}'"),
        ("/u/{id}", "/u/{id:int}", "conflicts with '/u/{id}'"),
        ("/f/{rest:path}", "/f/{other:path}", "conflicts with '/f/{rest:path}'"),
    ],
)
def test_conflicting_routes_are_refused_at_registration(
    first: str, second: str, message: str
) -> None:
    app = VelociPy()

    async def one(request: Request) -> None: ...  # reads request.path_params itself

    async def two(request: Request) -> None: ...

    app.add_route(first, one, ["GET"])
    with pytest.raises(ValueError, match=message.replace("{", r"\{").replace("}", r"\}")):
        app.add_route(second, two, ["GET"], name="two")


def test_same_method_twice_is_refused() -> None:
    app = VelociPy()

    @app.get("/x")
    async def first() -> None: ...

    with pytest.raises(ValueError, match=r"GET /x is already handled by .*first"):

        @app.get("/x")
        async def second() -> None: ...


def test_different_methods_on_one_path_are_fine() -> None:
    app = VelociPy()

    @app.get("/x/{id:int}")
    async def read(id: int) -> None: ...

    @app.put("/x/{id:int}")
    async def write(id: int) -> None: ...

    methods = {r.name: r.methods for r in app.routes}
    assert methods == {"read": ("GET", "HEAD"), "write": ("PUT",)}


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("no-slash", "must start with '/'"),
        ("/a/{x:nope}", "unknown converter 'nope'"),
        ("/a/pre{x}", "must be a whole parameter"),
        ("/a/{x}/{x}", "uses parameter 'x' twice"),
        ("/a/{rest:path}/more", "a path parameter must come last"),
    ],
)
def test_bad_templates_are_refused_clearly(path: str, message: str) -> None:
    app = VelociPy()

    async def handler() -> None: ...

    with pytest.raises(ValueError, match=message):
        app.add_route(path, handler, ["GET"])


def test_unknown_method_is_refused() -> None:
    app = VelociPy()

    async def handler() -> None: ...

    with pytest.raises(ValueError, match="unknown HTTP method"):
        app.add_route("/x", handler, ["FETCH"])


def test_url_for_builds_paths() -> None:
    app = converter_app()

    @app.get("/items/{item_id:int}/tags/{tag}", name="item-tag")
    async def item_tag(item_id: int, tag: str) -> None: ...

    assert app.url_for("static") == "/static/path"
    assert app.url_for("int_route", value=3) == "/int/3"
    assert app.url_for("bool_route", flag=True) == "/bool/true"
    assert app.url_for("item-tag", item_id=7, tag="a b/c") == "/items/7/tags/a%20b%2Fc"
    assert app.url_for("path_route", rest="a/b c") == "/files/a/b%20c"
    with pytest.raises(LookupError, match="no route is named 'nope'"):
        app.url_for("nope")
    with pytest.raises(ValueError, match="needs parameter"):
        app.url_for("int_route")
    with pytest.raises(ValueError, match="has no parameter"):
        app.url_for("static", extra=1)


def test_route_names_and_listing() -> None:
    app = VelociPy()

    @app.get("/a", name="custom")
    async def a() -> None: ...

    @app.post("/b")
    async def b() -> None: ...

    @app.websocket("/ws")
    async def ws(websocket: Any) -> None: ...

    routes = app.routes
    assert [(r.kind, r.path, r.methods, r.name) for r in routes] == [
        ("http", "/a", ("GET", "HEAD"), "custom"),
        ("http", "/b", ("POST",), "b"),
        ("websocket", "/ws", (), "ws"),
    ]
    assert routes[0].endpoint is a
    with pytest.raises(ValueError, match="route name 'custom' is already used"):

        @app.get("/c", name="custom")
        async def c() -> None: ...


def test_router_prefix_and_nested_include(client_for: Any) -> None:
    app = VelociPy()
    api = APIRouter(prefix="/api")
    v1 = APIRouter(prefix="/v1")

    @v1.get("/items/{item_id:int}", name="v1-item")
    async def item(item_id: int) -> dict[str, int]:
        return {"item": item_id}

    @v1.post("/items", status_code=201)
    async def create() -> dict[str, bool]:
        return {"created": True}

    @api.get("/health")
    async def health() -> str:
        return "ok"

    api.include_router(v1)
    app.include_router(api)
    app.include_router(v1, prefix="/legacy")

    client = client_for(app)
    assert client.get("/api/v1/items/3").json() == {"item": 3}
    created = client.post("/api/v1/items", content=b"")
    assert (created.status_code, created.json()) == (201, {"created": True})
    assert client.get("/api/health").text == "ok"
    assert client.get("/legacy/v1/items/4").json() == {"item": 4}
    assert client.get("/v1/items/3").status_code == 404
    paths = [r.path for r in app.routes]
    assert "/api/v1/items/{item_id:int}" in paths
    assert "/legacy/v1/items/{item_id:int}" in paths
    assert app.url_for("health") == "/api/health"
    assert {r.name for r in app.routes if r.path.endswith("{item_id:int}")} == {"v1-item"}


def test_router_prefix_must_be_clean() -> None:
    with pytest.raises(ValueError, match="must start with '/'"):
        APIRouter(prefix="api")
    with pytest.raises(ValueError, match="not end with '/'"):
        APIRouter(prefix="/api/")


def _numbered_handler(index: int) -> Any:
    async def handler(n: int) -> str:
        return f"{index}:{n}"

    return handler


def test_many_routes_still_resolve(client_for: Any) -> None:
    """300 dynamic routes: each path reaches its own handler through the segment tree."""
    app = VelociPy()
    for index in range(300):
        app.add_route(f"/r{index}/{{n:int}}", _numbered_handler(index), ["GET"], name=f"r{index}")
    client = client_for(app)
    assert client.get("/r0/1").text == "0:1"
    assert client.get("/r150/7").text == "150:7"
    assert client.get("/r299/5").text == "299:5"
    assert client.get("/r300/5").status_code == 404


def test_trailing_parameter_shortcut_agrees_with_the_tree(client_for: Any) -> None:
    """Routes whose one parameter ends the path are found by a shortcut; the answers are the
    ones the preference rules give (static segments first, then parameters, then catch-alls)."""
    app = VelociPy()

    @app.get("/{root}")
    async def root(root: str) -> str:
        return f"root {root}"

    @app.get("/users/{user_id:int}")
    async def user(user_id: int) -> str:
        return f"user {user_id}"

    @app.get("/users/me")
    async def me() -> str:
        return "me"

    @app.get("/users/42/posts")  # a static node "42" under /users that is no route itself
    async def posts() -> str:
        return "posts"

    @app.get("/files/{name}")
    async def file(name: str) -> str:
        return f"file {name}"

    @app.get("/files/{rest:path}")
    async def rest(rest: str) -> str:
        return f"rest {rest}"

    client = client_for(app)
    expected = {
        "/top": "root top",
        "/users/7": "user 7",
        "/users/me": "me",
        "/users/42": "user 42",
        "/users/42/posts": "posts",
        "/files/a": "file a",
        "/files/a/b": "rest a/b",
    }
    for path, text in expected.items():
        response = client.get(path)
        assert (response.status_code, response.text) == (200, text), path
    assert client.get("/users/x").status_code == 422
    assert client.get("/users/").status_code == 404
