"""OAuth2 flows, Security/SecurityScopes in the plan and in OpenAPI, and guards (both protocols)."""

from typing import Annotated, Any

import pytest
from openapi_spec_validator import validate

from tests.interop.apps.auth_app import app as auth_app
from velocipy import APIRouter, Depends, Request, VelociPy, WebSocket
from velocipy.security import (
    HTTPBearer,
    OAuth2PasswordBearer,
    Security,
    SecurityScopes,
    requires_scopes,
)
from velocipy.testing import WebSocketDenied


def _login(client: Any, user: str, password: str, scope: str | None = None) -> str:
    form = {"username": user, "password": password}
    if scope is not None:
        form["scope"] = scope
    response = client.post("/token", data=form)
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def test_password_flow_issues_tokens_with_the_asked_scopes(client_for: Any) -> None:
    client = client_for(auth_app)
    token = _login(client, "ada", "lovelace-pw", scope="items:read")
    bearer = {"authorization": f"Bearer {token}"}
    assert client.get("/me", headers=bearer).json() == {"user": "ada", "scopes": ["items:read"]}
    narrowed = client.post("/items", json={"name": "x"}, headers=bearer)
    assert narrowed.status_code == 403  # asked for less than she may have
    full = {"authorization": f"Bearer {_login(client, 'ada', 'lovelace-pw')}"}
    created = client.post("/items", json={"name": "x"}, headers=full)
    assert (created.status_code, created.json()) == (201, {"created": "x", "by": "ada"})


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        ({"username": "ada", "password": "Tr0ub4dor"}, 400, "invalid_grant"),
        ({"username": "nobody", "password": "hunter2"}, 400, "invalid_grant"),
        (
            {"username": "bob", "password": "builder-pw", "scope": "items:write"},
            400,
            "invalid_scope",
        ),
        (
            {"username": "ada", "password": "lovelace-pw", "grant_type": "client_credentials"},
            400,
            "unsupported_grant_type",
        ),
    ],
)
def test_token_endpoint_errors_follow_rfc_6749(
    form: dict[str, str], status: int, error: str, client_for: Any
) -> None:
    client = client_for(auth_app)
    response = client.post("/token", data=form)
    assert response.status_code == status
    assert response.json()["detail"]["error"] == error
    assert form["password"] not in response.text


def test_a_missing_password_is_a_422_naming_the_field(client_for: Any) -> None:
    response = client_for(auth_app).post("/token", data={"username": "ada"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == "password"


def test_client_credentials_by_basic_or_form(client_for: Any) -> None:
    client = client_for(auth_app)
    basic = client.post(
        "/client-token",
        data={"grant_type": "client_credentials"},
        headers={"authorization": "Basic cm9ib3Q6cm9ib3Qtc2VjcmV0"},  # robot:robot-secret
    )
    assert basic.status_code == 200
    assert basic.json()["scope"] == "items:read"
    token = basic.json()["access_token"]
    assert client.get("/robot", headers={"authorization": f"Bearer {token}"}).text == (
        "hello client:robot"
    )
    in_form = client.post(
        "/client-token",
        data={
            "grant_type": "client_credentials",
            "client_id": "robot",
            "client_secret": "robot-secret",
        },
    )
    assert in_form.status_code == 200
    wrong = client.post(
        "/client-token",
        data={"grant_type": "client_credentials", "client_id": "robot", "client_secret": "no"},
    )
    assert (wrong.status_code, wrong.headers["www-authenticate"]) == (401, "Basic")
    assert wrong.json()["detail"]["error"] == "invalid_client"
    anonymous = client.post("/client-token", data={"grant_type": "client_credentials"})
    assert anonymous.status_code == 401


def test_openapi_describes_both_flows_and_the_scopes_of_each_operation() -> None:
    document = auth_app.openapi()
    validate(document)  # openapi-spec-validator
    schemes = document["components"]["securitySchemes"]
    assert schemes["OAuth2PasswordBearer"] == {
        "type": "oauth2",
        "flows": {
            "password": {
                "tokenUrl": "/token",
                "scopes": {"items:read": "Read items", "items:write": "Create items"},
            }
        },
    }
    assert schemes["OAuth2ClientCredentials"]["flows"]["clientCredentials"]["tokenUrl"] == (
        "/client-token"
    )
    paths = document["paths"]
    assert paths["/me"]["get"]["security"] == [{"OAuth2PasswordBearer": ["items:read"]}]
    assert paths["/items"]["post"]["security"] == [{"OAuth2PasswordBearer": ["items:write"]}]
    assert paths["/admin"]["get"]["security"] == [{"OAuth2PasswordBearer": []}]
    assert "security" not in paths["/public"]["get"]
    token_body = paths["/token"]["post"]["requestBody"]["content"]
    assert set(token_body["application/x-www-form-urlencoded"]["schema"]["required"]) == {
        "username",
        "password",
    }


def test_security_scopes_accumulate_and_are_fixed_at_registration(client_for: Any) -> None:
    seen: list[list[str]] = []
    oauth2 = OAuth2PasswordBearer("/token", scopes={"a": "", "b": "", "c": ""})

    async def current(scopes: SecurityScopes, token: Annotated[str, Depends(oauth2)]) -> str:
        seen.append(scopes.scopes)
        return token

    async def reader(user: Annotated[str, Security(current, scopes=["a"])]) -> str:
        return user

    app = VelociPy()

    @app.get("/x")
    async def x(
        user: Annotated[str, Security(reader, scopes=["b", "c"])],
        again: Annotated[str, Security(current, scopes=["a"])],
    ) -> str:
        return user

    client = client_for(app)
    assert client.get("/x", headers={"authorization": "Bearer t"}).text == "t"
    # current runs once per distinct scope set: (b, c, a) under reader, (a) directly
    assert sorted(seen) == [["a"], ["b", "c", "a"]]
    assert app.openapi()["paths"]["/x"]["get"]["security"] == [
        {"OAuth2PasswordBearer": ["b", "c", "a"]}
    ]
    with pytest.raises(TypeError, match="not one string"):
        Security(current, scopes="a")  # type: ignore[arg-type]


def test_guards_on_app_router_and_route_run_outermost_first(client_for: Any) -> None:
    calls: list[str] = []

    def app_guard(request: Request) -> bool:
        calls.append("app")
        return request.headers.get("x-app") != "no"

    async def router_guard(request: Request) -> bool:
        calls.append("router")
        return request.headers.get("x-router") != "no"

    def route_guard(request: Request) -> None:
        calls.append("route")  # None lets it through

    app = VelociPy(guards=[app_guard])
    router = APIRouter(prefix="/r", guards=[router_guard])

    @router.get("/x", guards=[route_guard])
    async def x() -> str:
        calls.append("handler")
        return "ok"

    @app.get("/open")
    async def open_route() -> str:
        return "open"

    app.include_router(router)
    client = client_for(app)
    assert client.get("/r/x").text == "ok"
    assert calls == ["app", "router", "route", "handler"]
    calls.clear()
    refused = client.get("/r/x", headers={"x-router": "no"})
    assert refused.status_code == 403
    assert refused.json() == {"detail": "Not allowed: refused by guard router_guard"}
    assert "www-authenticate" not in refused.headers
    assert calls == ["app", "router"]  # nothing after the refusal ran
    assert client.get("/open", headers={"x-app": "no"}).status_code == 403
    assert client.get("/docs").status_code == 200  # the docs stay open


def test_a_route_without_guards_or_auth_is_compiled_as_before() -> None:
    app = VelociPy()

    @app.get("/plain")
    async def plain() -> str:
        return "x"

    def guard() -> bool:
        return True

    @app.get("/guarded", guards=[guard])
    async def guarded() -> str:
        return "x"

    compiled = {route.path: route.compiled for route in app.routes}
    assert compiled["/plain"].plan is None
    assert compiled["/plain"].invoke is plain  # the handler itself: nothing in between
    assert compiled["/guarded"].plan is not None


def test_401_when_not_authenticated_403_when_not_allowed(client_for: Any) -> None:
    client = client_for(auth_app)
    assert client.get("/admin").status_code == 401
    bob = {"authorization": f"Bearer {_login(client, 'bob', 'builder-pw')}"}
    refused = client.get("/admin", headers=bob)
    assert refused.status_code == 403
    assert refused.json()["detail"] == "Not allowed: refused by guard requires_roles(admin)"
    ada = {"authorization": f"Bearer {_login(client, 'ada', 'lovelace-pw')}"}
    assert client.get("/admin", headers=ada).text == "admin area"


def test_guards_refuse_a_websocket_handshake(client_for: Any) -> None:
    client = client_for(auth_app)
    with pytest.raises(WebSocketDenied) as anonymous:
        client.websocket_connect("/ws/admin").__enter__()
    assert anonymous.value.status_code == 403
    bob = {"authorization": f"Bearer {_login(client, 'bob', 'builder-pw')}"}
    with pytest.raises(WebSocketDenied) as not_admin:
        client.websocket_connect("/ws/admin", headers=bob).__enter__()
    assert not_admin.value.status_code == 403
    ada = {"authorization": f"Bearer {_login(client, 'ada', 'lovelace-pw')}"}
    with client.websocket_connect("/ws/admin", headers=ada) as ws:
        assert ws.receive_text() == "admin ada"


def test_requires_scopes_works_with_any_provider_of_scopes(client_for: Any) -> None:
    class Token:
        def __init__(self, scopes: list[str]) -> None:
            self.scopes = scopes

    def token(request: Request) -> Token:
        return Token(request.headers.get("x-scopes", "").split())

    app = VelociPy()

    @app.get("/w", guards=[requires_scopes(token, "w")])
    async def w() -> str:
        return "written"

    client = client_for(app)
    assert client.get("/w", headers={"x-scopes": "r w"}).text == "written"
    refused = client.get("/w", headers={"x-scopes": "r"})
    assert refused.status_code == 403
    assert refused.headers["www-authenticate"] == 'Bearer error="insufficient_scope", scope="w"'


def test_a_guard_that_is_not_callable_is_refused_at_registration() -> None:
    app = VelociPy()
    with pytest.raises(TypeError, match="is not callable"):

        @app.get("/x", guards=["admin"])  # type: ignore[list-item]
        async def x() -> str:
            return "x"


def test_http_bearer_reprs_hold_no_credentials() -> None:
    assert repr(HTTPBearer()) == "HTTPBearer(scheme_name='HTTPBearer')"


def test_websocket_handler_sees_the_user(client_for: Any) -> None:
    app = VelociPy()

    async def user(websocket: WebSocket) -> str:
        name = websocket.query_params.get("user", "")
        websocket.state.user = name
        return name

    @app.websocket("/ws", guards=[lambda who=Depends(user): who == "ada"])
    async def socket(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text(websocket.state.user)

    client = client_for(app)
    with client.websocket_connect("/ws?user=ada") as ws:
        assert ws.receive_text() == "ada"
    with pytest.raises(WebSocketDenied):
        client.websocket_connect("/ws?user=eve").__enter__()
