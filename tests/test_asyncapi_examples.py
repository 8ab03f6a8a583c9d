"""Examples filled from JSON Schemas (AsyncAPI ``examples``, ws-probe templates), and the
``/asyncapi`` page in-process on ASGI and RSGI."""

from __future__ import annotations

import enum
from typing import Annotated, Literal

import msgspec
import pytest

from tests.conftest import ClientFactory
from velocipy import VelociPy, WebSocket
from velocipy.asyncapi_examples import example_for


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Node(msgspec.Struct):
    name: Annotated[str, msgspec.Meta(min_length=3)]
    children: list[Node] = []


class Order(msgspec.Struct, tag="order"):
    count: Annotated[int, msgspec.Meta(ge=1, le=9)]
    price: Annotated[float, msgspec.Meta(gt=0)]
    colour: Colour
    when: Annotated[str, msgspec.Meta(extra_json_schema={"format": "date-time"})]
    note: str | None = None
    urgent: bool = False
    kind: Literal["a", "b"] = "b"
    tags: list[str] = msgspec.field(default_factory=list)


def example(annotation: object) -> object:
    (schema,), components = msgspec.json.schema_components([annotation])
    return example_for(schema, components)


def test_examples_take_the_smallest_valid_value_and_declared_defaults() -> None:
    assert example(Order) == {
        "type": "order",
        "count": 1,  # ge=1
        "price": 1.0,  # gt=0: the first value above the bound
        "colour": "blue",  # the first enum member of the schema (msgspec sorts them)
        "when": "2024-01-01T00:00:00Z",
        "note": None,  # the default wins over the non-null branch
        "urgent": False,
        "kind": "b",  # the default
        "tags": [],
    }


def test_examples_stop_at_recursion_and_fill_lengths() -> None:
    assert example(Node) == {"name": "xxx", "children": []}
    assert example(Annotated[list[int], msgspec.Meta(min_length=2)]) == [0, 0]
    assert example(Annotated[int, msgspec.Meta(le=-5)]) == -5
    assert (
        example_for(
            {"$ref": "#/components/schemas/Self"}, {"Self": {"$ref": "#/components/schemas/Self"}}
        )
        is None
    )


def test_every_example_in_the_document_decodes_as_its_type() -> None:
    app = VelociPy()

    @app.websocket("/orders", receives=Order, sends=Node)
    async def orders(websocket: WebSocket) -> None: ...

    messages = app.asyncapi()["components"]["messages"]
    for name, annotation in (("Order", Order), ("Node", Node)):
        payload = messages[name]["examples"][0]["payload"]
        msgspec.convert(payload, annotation)  # raises if the example is not a valid message


def test_asyncapi_page_lists_routes_and_follows_the_document(
    make_client: ClientFactory, protocol: str
) -> None:
    app = VelociPy(title="Shop <&>")

    @app.websocket("/orders", receives=Order)
    async def orders(websocket: WebSocket) -> None:
        """Place orders."""

    with make_client(app) as client:
        page = client.get("/asyncapi")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert "Shop &lt;&amp;&gt;" in page.text  # escaped
        assert "/orders" in page.text
        assert "Place orders." in page.text
        assert "/nodes" not in page.text

        @app.websocket("/nodes", sends=Node)
        async def nodes(websocket: WebSocket) -> None: ...

        assert "/nodes" in client.get("/asyncapi").text  # a route added later is shown


@pytest.mark.parametrize(("document_url", "page_url"), [(None, "/asyncapi"), ("/spec/ws", "/spec")])
def test_no_page_without_a_json_document_url(
    make_client: ClientFactory, document_url: str | None, page_url: str
) -> None:
    with make_client(VelociPy(asyncapi_url=document_url)) as client:
        assert client.get(page_url).status_code == 404
