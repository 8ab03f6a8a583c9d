"""velocipy.contrib.strawberry: VelociPy's connection, app and dependencies in a resolver's
context, in process over ASGI and RSGI (the real servers: tests/interop/test_mounts_interop.py)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated

import pytest
import strawberry
from strawberry.types import Info

from tests.conftest import ClientFactory
from velocipy import Depends, Header, HTTPException, VelociPy
from velocipy.contrib.strawberry import GraphQL

EVENTS: list[str] = []


async def current_user(x_user: Annotated[str | None, Header()] = None) -> str:
    if x_user is None:
        raise HTTPException(401, "who are you?")
    return x_user


async def session() -> AsyncIterator[str]:
    EVENTS.append("session open")
    yield "db"
    EVENTS.append("session closed")


async def context(
    user: Annotated[str, Depends(current_user)], db: Annotated[str, Depends(session)]
) -> dict[str, str]:
    return {"user": user, "db": db}


@strawberry.type
class Query:
    @strawberry.field
    def me(self, info: Info) -> str:
        EVENTS.append("resolver")
        connection = info.context["connection"]
        return f"{info.context['user']} via {info.context['db']} at {connection.path}"


def make_app() -> VelociPy:
    app = VelociPy()
    app.mount("/graphql", GraphQL(strawberry.Schema(query=Query), context_getter=context))
    return app


def test_dependencies_reach_the_context_and_are_torn_down(client_for: ClientFactory) -> None:
    EVENTS.clear()
    client = client_for(make_app())
    response = client.post("/graphql", json={"query": "{ me }"}, headers={"x-user": "ada"})
    assert response.json() == {"data": {"me": "ada via db at /graphql"}}
    assert EVENTS == ["session open", "resolver", "session closed"]


def test_a_provider_refusing_answers_the_request(client_for: ClientFactory) -> None:
    EVENTS.clear()
    response = client_for(make_app()).post("/graphql", json={"query": "{ me }"})
    assert (response.status_code, json.loads(response.text)) == (401, {"detail": "who are you?"})
    assert "resolver" not in EVENTS


def test_context_getter_must_be_async() -> None:
    def sync_context() -> dict[str, str]:
        return {}

    with pytest.raises(TypeError, match="context_getter must be an async function"):
        GraphQL(strawberry.Schema(query=Query), context_getter=sync_context)


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def greetings(self, info: Info) -> AsyncIterator[str]:
        yield f"hello {info.context['user']}"


def test_a_subscription_gets_the_context_once_per_connection(
    client_for: ClientFactory,
) -> None:
    EVENTS.clear()
    app = VelociPy()
    schema = strawberry.Schema(query=Query, subscription=Subscription)
    app.mount("/graphql", GraphQL(schema, context_getter=context))
    client = client_for(app)
    headers = {"x-user": "ada"}
    with client.websocket_connect(
        "/graphql", headers=headers, subprotocols=["graphql-transport-ws"]
    ) as ws:
        ws.send_json({"type": "connection_init"})
        assert ws.receive_json() == {"type": "connection_ack"}
        subscribe = {"query": "subscription { greetings }"}
        ws.send_json({"id": "1", "type": "subscribe", "payload": subscribe})
        assert ws.receive_json()["payload"] == {"data": {"greetings": "hello ada"}}
        assert ws.receive_json() == {"id": "1", "type": "complete"}
    assert EVENTS == ["session open", "session closed"]
