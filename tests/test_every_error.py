"""Every problem in one 422: the body field by field, with the query, header and cookie errors."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.interop.apps.every_error import app
from tests.support import REPO_ROOT
from velocipy.testing import TestClient

THREE_BAD = {"name": "", "price": -1, "quantity": "many"}


def locs(body: dict[str, Any]) -> list[list[Any]]:
    return [error["loc"] for error in body["detail"]]


def test_a_body_with_three_bad_fields_gets_one_422_listing_all_three(protocol: str) -> None:
    with TestClient(app, interface=protocol) as client:  # type: ignore[arg-type]
        response = client.post("/items", json=THREE_BAD)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert [e["loc"] for e in detail] == [["body", "name"], ["body", "price"], ["body", "quantity"]]
    assert detail[0]["msg"] == "Expected `str` of length >= 1"
    assert detail[1]["msg"] == "Expected `float` >= 0.0"
    assert detail[2]["msg"] == "Expected `int`, got `str`"


def test_missing_and_nested_fields_are_listed_with_their_path(protocol: str) -> None:
    body = {"name": "", "address": {"city": "", "zip_code": "abc"}}
    with TestClient(app, interface=protocol) as client:  # type: ignore[arg-type]
        response = client.post("/items", json=body)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert [(e["loc"], e["msg"]) for e in detail] == [
        (["body", "name"], "Expected `str` of length >= 1"),
        (["body"], "Object missing required field `price`"),  # at the object, as msgspec says
        (["body"], "Object missing required field `quantity`"),
        (["body", "address", "city"], "Expected `str` of length >= 1"),
        (["body", "address", "zip_code"], r"Expected `str` matching regex '^\\d{5}$'"),
    ]
    kinds = [error["type"] for error in detail]
    assert kinds == ["value_error", "missing", "missing", "value_error", "value_error"]


def test_a_dataclass_body_lists_every_field_too(protocol: str) -> None:
    with TestClient(app, interface=protocol) as client:  # type: ignore[arg-type]
        response = client.post("/orders", json={"reference": 5, "count": "x"})
    assert response.status_code == 422
    assert locs(response.json()) == [["body", "reference"], ["body", "count"]]


def test_body_path_free_errors_come_together_with_query_header_and_cookie(protocol: str) -> None:
    with TestClient(app, interface=protocol) as client:  # type: ignore[arg-type]
        response = client.post(
            "/items/3?limit=lots",
            json=THREE_BAD,
            headers={"x-tenant": "acme", "cookie": "session=abc"},
        )
    assert response.status_code == 422
    assert locs(response.json()) == [
        ["query", "limit"],
        ["header", "x-tenant"],
        ["cookie", "session"],
        ["body", "name"],
        ["body", "price"],
        ["body", "quantity"],
    ]


def test_a_path_parameter_that_does_not_convert_joins_the_others(protocol: str) -> None:
    with TestClient(app, interface=protocol) as client:  # type: ignore[arg-type]
        response = client.post(
            "/items/abc?limit=lots", json=THREE_BAD, headers={"cookie": "session=1"}
        )
        only_path = client.post(
            "/items/abc?limit=2",
            json={"name": "pen", "price": 1.5, "quantity": 2},
            headers={"x-tenant": "7", "cookie": "session=9"},
        )
    assert response.status_code == 422
    assert locs(response.json()) == [
        ["path", "shop_id"],
        ["query", "limit"],
        ["header", "x-tenant"],
        ["body", "name"],
        ["body", "price"],
        ["body", "quantity"],
    ]
    assert response.json()["detail"][0]["msg"] == "'abc' is not a whole number"
    assert only_path.status_code == 422
    assert locs(only_path.json()) == [["path", "shop_id"]]


def test_a_route_with_dependencies_lists_path_provider_and_body_errors(protocol: str) -> None:
    with TestClient(app, interface=protocol) as client:  # type: ignore[arg-type]
        response = client.put("/shops/x/items?size=big", json=THREE_BAD)
        fine = client.put("/shops/2/items?size=3", json={"name": "a", "price": 1, "quantity": 1})
    assert response.status_code == 422
    assert locs(response.json()) == [
        ["path", "shop_id"],
        ["query", "size"],  # the provider's parameter: checked, the provider not called
        ["body", "name"],
        ["body", "price"],
        ["body", "quantity"],
    ]
    assert fine.json() == {"shop": 2, "size": 3}


def test_a_valid_request_still_passes(protocol: str) -> None:
    with TestClient(app, interface=protocol) as client:  # type: ignore[arg-type]
        ok = client.post(
            "/items/3?limit=2",
            json={"name": "pen", "price": 1.5, "quantity": 2},
            headers={"x-tenant": "7", "cookie": "session=9"},
        )
        assert ok.status_code == 200
        assert ok.json() == {"shop": 3, "limit": 2}


def test_invalid_json_with_query_errors_answers_the_query_errors(protocol: str) -> None:
    """A body that is not JSON at all adds nothing to errors already found."""
    with TestClient(app, interface=protocol) as client:  # type: ignore[arg-type]
        response = client.post(
            "/items/3?limit=lots",
            content=b"{not json",
            headers={"content-type": "application/json", "x-tenant": "1", "cookie": "session=1"},
        )
    assert response.status_code == 422
    assert locs(response.json()) == [["query", "limit"]]


@pytest.mark.interop
def test_three_bad_fields_in_one_422_on_a_real_server(server_kind: str, serve: Any) -> None:
    with serve("tests.interop.apps.every_error:app", server_kind, REPO_ROOT) as server:
        response = httpx.post(f"{server.url}/items", json=THREE_BAD, timeout=10)
    assert response.status_code == 422
    assert locs(response.json()) == [["body", "name"], ["body", "price"], ["body", "quantity"]]
