"""Middleware of a router (and of one route): runs around its routes only, after routing, on
ASGI and RSGI; nested routers stack outside-in; the app's own middleware stays outermost."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import ClientFactory
from velocipy import APIRouter, HTTPException, Request, Response, VelociPy, WebSocket
from velocipy.middleware.base import CallNext, Middleware
from velocipy.testing import WebSocketDenied


def tagging(label: str, seen: list[str]) -> Any:
    async def tag(request: Request, call_next: CallNext) -> Response:
        seen.append(f"{label} in")
        response = await call_next(request)
        seen.append(f"{label} out {response.status_code}")
        response.headers[f"x-{label}"] = "1"
        return response

    tag.__qualname__ = f"tag_{label}"
    return tag


class AdminOnly(Middleware):
    async def dispatch(self, request: Request, call_next: CallNext) -> Response:
        if request.headers.get("x-admin") != "yes":
            return Response("admins only", 403)
        return await call_next(request)

    async def handshake(self, websocket: WebSocket) -> Response | None:
        if websocket.headers.get("x-admin") != "yes":
            return Response(None, 403)
        return None


def make_app(seen: list[str]) -> VelociPy:
    app = VelociPy(middleware=[tagging("app", seen)])
    admin = APIRouter("/admin", middleware=[AdminOnly, tagging("admin", seen)])
    reports = APIRouter("/reports", middleware=[tagging("reports", seen)])

    @reports.get("/daily", middleware=[tagging("route", seen)])
    async def daily() -> dict[str, str]:
        seen.append("handler")
        return {"report": "daily"}

    @reports.get("/missing")
    async def missing() -> None:
        raise HTTPException(404, "no report")

    @admin.websocket("/live")
    async def live(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("admin live")
        await websocket.close()

    admin.include_router(reports)
    app.include_router(admin)

    @app.get("/public")
    async def public() -> str:
        seen.append("public handler")
        return "public"

    return app


ADMIN = {"x-admin": "yes"}


def test_router_middleware_stacks_outside_in(client_for: ClientFactory) -> None:
    seen: list[str] = []
    client = client_for(make_app(seen))
    response = client.get("/admin/reports/daily", headers=ADMIN)
    assert response.json() == {"report": "daily"}
    assert {response.headers[f"x-{name}"] for name in ("app", "admin", "reports", "route")} == {"1"}
    assert seen == [
        "app in",
        "admin in",
        "reports in",
        "route in",
        "handler",
        "route out 200",
        "reports out 200",
        "admin out 200",
        "app out 200",
    ]


def test_other_routes_do_not_run_it(client_for: ClientFactory) -> None:
    seen: list[str] = []
    client = client_for(make_app(seen))
    response = client.get("/public")
    assert (response.text, "x-admin" in response.headers) == ("public", False)
    assert seen == ["app in", "public handler", "app out 200"]
    seen.clear()
    assert client.get("/admin/nothing", headers=ADMIN).status_code == 404  # not routed
    assert seen == ["app in", "app out 404"]


def test_router_middleware_refuses_and_sees_mapped_errors(client_for: ClientFactory) -> None:
    seen: list[str] = []
    client = client_for(make_app(seen))
    refused = client.get("/admin/reports/daily")
    assert (refused.status_code, refused.text) == (403, "admins only")
    assert "handler" not in seen
    seen.clear()
    missing = client.get("/admin/reports/missing", headers=ADMIN)
    assert (missing.status_code, missing.json()) == (404, {"detail": "no report"})
    assert seen[-2:] == ["admin out 404", "app out 404"]


def test_router_handshake_hooks_guard_its_websockets(client_for: ClientFactory) -> None:
    client = client_for(make_app([]))
    with client.websocket_connect("/admin/live", headers=ADMIN) as ws:
        assert ws.receive_text() == "admin live"
    with pytest.raises(WebSocketDenied) as denied:
        with client.websocket_connect("/admin/live"):
            pass
    assert denied.value.status_code == 403
