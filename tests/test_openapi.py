"""OpenAPI 3.1 from route plans; /openapi.json, /docs, /redoc served offline (both protocols)."""

from typing import Annotated, Any

import msgspec
import pytest
from openapi_spec_validator import validate

from velocipy import (
    APIRouter,
    Cookie,
    Depends,
    Header,
    HTTPException,
    PlainTextResponse,
    Query,
    Request,
    VelociPy,
)
from velocipy.security import APIKeyHeader, HTTPBasic


class ItemIn(msgspec.Struct, forbid_unknown_fields=True):
    """What a client sends."""

    name: Annotated[str, msgspec.Meta(min_length=1, examples=["pen"])]
    price: Annotated[float, msgspec.Meta(gt=0)]


class Item(ItemIn):
    id: int


api_key = APIKeyHeader(name="X-API-Key", description="The key you were given")
basic = HTTPBasic()


async def pagination(limit: int = 10, offset: int = 0) -> tuple[int, int]:
    return limit, offset


def make_app(**settings: Any) -> VelociPy:
    app = VelociPy(title="Shop", version="2.0", description="Sells things.", **settings)
    router = APIRouter(prefix="/items", tags=["items"])

    @router.get("/{item_id:int}", responses={404: "No such item"})
    async def read_item(
        item_id: int,
        verbose: bool = False,
        x_trace: Annotated[str | None, Header()] = None,
        session: Annotated[str | None, Cookie()] = None,
    ) -> Item:
        """Read one item.

        Answers 404 when there is none.
        """
        if item_id != 1:
            raise HTTPException(404, f"item {item_id} not found")
        return Item(name="pen", price=1.5, id=1)

    @router.get("")
    async def list_items(
        page: Annotated[tuple[int, int], Depends(pagination)],
        tag: Annotated[list[str], Query()] = [],
    ) -> list[Item]:
        return []

    @router.post("", status_code=201, dependencies=[Depends(api_key)], summary="Add an item")
    async def create_item(data: ItemIn) -> Item:
        return Item(name=data.name, price=data.price, id=2)

    @router.delete("/{item_id:int}", deprecated=True, operation_id="remove")
    async def delete_item(item_id: int) -> None:
        return None

    app.include_router(router)

    @app.get("/admin", tags=["admin"])
    async def admin(creds: Annotated[Any, Depends(basic)]) -> PlainTextResponse:
        return PlainTextResponse("hi")

    @app.get("/hidden", include_in_schema=False)
    async def hidden() -> str:
        return "not documented"

    @app.websocket("/ws")
    async def ws(websocket: Any) -> None:
        await websocket.accept()

    return app


def test_the_document_is_valid_openapi_3_1() -> None:
    document = make_app().openapi()
    validate(document)
    assert document["openapi"] == "3.1.0"
    assert document["info"] == {"title": "Shop", "version": "2.0", "description": "Sells things."}
    assert set(document["paths"]) == {"/items/{item_id}", "/items", "/admin"}
    assert [tag["name"] for tag in document["tags"]] == ["items", "admin"]


def test_parameters_with_their_types_defaults_and_places() -> None:
    operation = make_app().openapi()["paths"]["/items/{item_id}"]["get"]
    assert operation["summary"] == "Read one item."
    assert operation["description"] == "Answers 404 when there is none."
    assert operation["tags"] == ["items"]
    assert operation["operationId"] == "read_item"
    assert operation["parameters"] == [
        {"name": "item_id", "in": "path", "required": True, "schema": {"type": "integer"}},
        {
            "name": "verbose",
            "in": "query",
            "required": False,
            "schema": {"type": "boolean", "default": False},
        },
        {"name": "x-trace", "in": "header", "required": False, "schema": {"type": "string"}},
        {"name": "session", "in": "cookie", "required": False, "schema": {"type": "string"}},
    ]
    responses = operation["responses"]
    assert responses["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Item"
    }
    assert responses["404"]["description"] == "No such item"
    assert "422" in responses


def test_dependency_parameters_bodies_status_codes_and_security() -> None:
    document = make_app().openapi()
    listing = document["paths"]["/items"]["get"]
    names = [(p["name"], p["in"]) for p in listing["parameters"]]
    assert names == [("limit", "query"), ("offset", "query"), ("tag", "query")]
    tag = listing["parameters"][2]["schema"]
    assert tag == {"type": "array", "items": {"type": "string"}, "default": []}

    create = document["paths"]["/items"]["post"]
    assert create["summary"] == "Add an item"
    assert create["requestBody"] == {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ItemIn"}}},
    }
    assert set(create["responses"]) == {"201", "400", "401", "403", "415", "422"}
    assert create["security"] == [{"APIKeyHeader": []}]

    delete = document["paths"]["/items/{item_id}"]["delete"]
    assert delete["deprecated"] is True
    assert delete["operationId"] == "remove"
    assert "204" in delete["responses"]

    admin = document["paths"]["/admin"]["get"]
    assert admin["responses"]["200"]["content"] == {"text/plain": {}}
    assert admin["security"] == [{"HTTPBasic": []}]

    schemes = document["components"]["securitySchemes"]
    assert schemes == {
        "APIKeyHeader": {
            "type": "apiKey",
            "name": "X-API-Key",
            "in": "header",
            "description": "The key you were given",
        },
        "HTTPBasic": {"type": "http", "scheme": "basic"},
    }
    item_in = document["components"]["schemas"]["ItemIn"]
    assert item_in["description"] == "What a client sends."
    assert item_in["properties"]["name"]["examples"] == ["pen"]
    assert item_in["properties"]["price"]["exclusiveMinimum"] == 0


def test_served_and_cached(client_for: Any) -> None:
    app = make_app()
    client = client_for(app)
    first = client.get("/openapi.json")
    assert first.status_code == 200
    assert first.headers["content-type"] == "application/json"
    assert first.json() == app.openapi()
    assert app.openapi() is app.openapi()  # built once

    @app.get("/later")
    async def later() -> str:
        return "added after the first build"

    assert "/later" in client.get("/openapi.json").json()["paths"]


def test_docs_and_redoc_pages_with_their_assets_from_the_installed_package(
    client_for: Any,
) -> None:
    client = client_for(make_app())
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert docs.headers["content-type"].startswith("text/html")
    assert '"url":"/openapi.json"' in docs.text
    for asset in ("/docs/swagger-ui-bundle.js", "/docs/swagger-ui.css"):
        assert asset in docs.text
        served = client.get(asset)
        assert served.status_code == 200
        assert len(served.content) > 10_000
    assert (
        client.get("/docs/swagger-ui-bundle.js")
        .headers["content-type"]
        .startswith("text/javascript")
    )
    redoc = client.get("/redoc")
    assert 'spec-url="/openapi.json"' in redoc.text
    assert client.get("/redoc/redoc.standalone.js").status_code == 200
    assert "http" not in docs.text.replace("http-equiv", "")  # nothing from another origin


def test_urls_are_configurable_and_switchable_off(client_for: Any) -> None:
    client = client_for(make_app(openapi_url=None))
    for url in ("/openapi.json", "/docs", "/redoc"):
        assert client.get(url).status_code == 404
    moved = client_for(make_app(openapi_url="/spec.json", docs_url="/api-docs", redoc_url=None))
    assert moved.get("/spec.json").json()["openapi"] == "3.1.0"
    page = moved.get("/api-docs").text
    assert '"url":"/spec.json"' in page
    assert moved.get("/api-docs/swagger-ui.css").status_code == 200
    assert moved.get("/redoc").status_code == 404


def test_docs_routes_are_not_listed_and_not_guarded_by_app_dependencies(
    client_for: Any,
) -> None:
    async def locked() -> None:
        raise HTTPException(401, "locked")

    app = VelociPy(dependencies=[Depends(locked)])

    @app.get("/data")
    async def data() -> str:
        return "data"

    client = client_for(app)
    assert client.get("/data").status_code == 401
    assert client.get("/openapi.json").status_code == 200
    assert client.get("/docs").status_code == 200
    assert [route.path for route in app.routes] == ["/data"]


@pytest.mark.parametrize("model", [Item, list[Item], dict[str, int]])
def test_response_model_overrides_the_return_annotation(model: Any) -> None:
    app = VelociPy()

    @app.get("/thing", response_model=model)
    async def thing() -> Any:
        return {}

    document = app.openapi()
    validate(document)
    schema = document["paths"]["/thing"]["get"]["responses"]["200"]["content"]["application/json"][
        "schema"
    ]
    assert (
        schema
        == msgspec.json.schema_components([model], ref_template="#/components/schemas/{name}")[0][0]
    )


def test_path_parameters_no_function_reads_are_still_declared() -> None:
    app = VelociPy()

    @app.get("/tenants/{tenant:int}/ping/{word}")
    async def ping(request: Request) -> str:
        return "pong"

    document = app.openapi()
    validate(document)
    parameters = document["paths"]["/tenants/{tenant}/ping/{word}"]["get"]["parameters"]
    assert parameters == [
        {"name": "tenant", "in": "path", "required": True, "schema": {"type": "integer"}},
        {"name": "word", "in": "path", "required": True, "schema": {"type": "string"}},
    ]


def test_security_requirements_combine_required_schemes_and_allow_optional_ones() -> None:
    from velocipy.security import HTTPBearer

    optional = HTTPBearer(auto_error=False, scheme_name="MaybeBearer")
    app = VelociPy()

    @app.get("/both", dependencies=[Depends(api_key), Depends(basic)])
    async def both() -> str:
        return ""

    @app.get("/maybe", dependencies=[Depends(optional)])
    async def maybe() -> str:
        return ""

    document = app.openapi()
    validate(document)
    assert document["paths"]["/both"]["get"]["security"] == [{"APIKeyHeader": [], "HTTPBasic": []}]
    assert document["paths"]["/maybe"]["get"]["security"] == [{}, {"MaybeBearer": []}]
