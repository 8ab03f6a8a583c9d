"""Route hooks (velocipy/http_routes.py): routes built again when a hook comes after them.

A hook added after routes exist (``ServerTiming`` is one) has every HTTP route built anew; the
rebuilt route must keep what it had: its rate limit's budget name (from the methods as
registered), GET's implicit HEAD, its place in ``app.routes``, and the hooks already there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from velocipy import VelociPy
from velocipy.http_routes import RouteHook, add_route_hook
from velocipy.observability import ServerTiming
from velocipy.params import Endpoint
from velocipy.ratelimit import RateLimit
from velocipy.testing import TestClient


class Recorder(RouteHook):
    """Names every handler it wraps and every endpoint it sees compiled."""

    def __init__(self, label: str, log: list[str]) -> None:
        self.label, self.log = label, log

    def wrap_handler(self, handler: Callable[..., Any]) -> Callable[..., Any]:
        self.log.append(f"{self.label} wraps {handler.__name__}")
        return handler

    def compiled(self, endpoint: Endpoint) -> None:
        self.log.append(f"{self.label} sees an endpoint")


def test_a_hook_added_later_rebuilds_every_route_and_keeps_the_earlier_hooks() -> None:
    app = VelociPy(openapi_url=None, asyncapi_url=None)
    log: list[str] = []
    add_route_hook(app, Recorder("first", log))

    @app.get("/a")
    async def a() -> str:
        return "a"

    add_route_hook(app, Recorder("second", log))

    @app.get("/b")
    async def b() -> str:
        return "b"

    assert log == [
        "first wraps a",
        "first sees an endpoint",
        # the second hook rebuilds /a with both, in the order they were added
        "first wraps a",
        "second wraps a",
        "first sees an endpoint",
        "second sees an endpoint",
        # a later route is built with both at once
        "first wraps b",
        "second wraps b",
        "first sees an endpoint",
        "second sees an endpoint",
    ]


def test_a_rebuilt_route_keeps_its_head_its_listing_and_its_answers() -> None:
    app = VelociPy(openapi_url=None, asyncapi_url=None)

    @app.get("/items/{item_id}", name="item")
    async def item(item_id: int) -> dict[str, int]:
        return {"item_id": item_id}

    before = app.routes[0].compiled
    app.add_instrument(ServerTiming())
    (route,) = app.routes
    entry = app._http.entry_for(app._names["item"][0])
    assert route.compiled is not before
    assert entry.endpoints["GET"] is entry.endpoints["HEAD"] is route.compiled
    with TestClient(app) as client:
        got = client.get("/items/3")
        head = client.head("/items/3")
    assert got.json() == {"item_id": 3}
    assert "params;dur=" in got.headers["server-timing"]
    assert head.status_code == 200
    assert head.content == b""
    assert "handler;dur=" in head.headers["server-timing"]


def test_a_rebuilt_rate_limit_counts_in_the_same_budget() -> None:
    """The limit's name comes from the methods as registered: a rebuild must not rename it
    (with GET's implicit HEAD among them, the budget would start again, under another name)."""
    app = VelociPy(openapi_url=None, asyncapi_url=None)

    @app.get("/limited", rate_limit=RateLimit(2, "minute"))
    async def limited() -> str:
        return "ok"

    with TestClient(app) as client:
        assert client.get("/limited").status_code == 200
        policy = client.get("/limited").headers["ratelimit-policy"]
        app.add_instrument(ServerTiming())  # after two of the two requests were counted
        refused = client.get("/limited")
    assert policy == '"GET /limited";q=2;w=60'
    assert refused.status_code == 429
