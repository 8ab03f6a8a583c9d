"""Security helpers: 401 with the scheme's WWW-Authenticate, credentials parsed (both protocols)."""

import base64
from typing import Annotated, Any

import pytest

from velocipy import Depends, VelociPy, WebSocket
from velocipy.security import (
    APIKeyCookie,
    APIKeyHeader,
    APIKeyQuery,
    HTTPAuthorizationCredentials,
    HTTPBasic,
    HTTPBasicCredentials,
    HTTPBearer,
    forbidden,
)
from velocipy.testing import WebSocketDenied

bearer = HTTPBearer()
basic = HTTPBasic(realm="admin area")
header_key = APIKeyHeader(name="X-API-Key")
query_key = APIKeyQuery(name="api_key")
cookie_key = APIKeyCookie(name="session")
optional_bearer = HTTPBearer(auto_error=False)


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def make_app() -> VelociPy:
    app = VelociPy()

    @app.get("/bearer")
    async def with_bearer(
        creds: Annotated[HTTPAuthorizationCredentials, Depends(bearer)],
    ) -> str:
        if creds.credentials != "good":
            raise forbidden("token not valid")
        return f"{creds.scheme} {creds.credentials}"

    @app.get("/basic")
    async def with_basic(creds: Annotated[HTTPBasicCredentials, Depends(basic)]) -> str:
        return f"{creds.username}:{creds.password}"

    @app.get("/keys")
    async def with_keys(
        h: Annotated[str, Depends(header_key)],
        q: Annotated[str, Depends(query_key)],
        c: Annotated[str, Depends(cookie_key)],
    ) -> str:
        return f"{h} {q} {c}"

    @app.get("/maybe")
    async def maybe(
        creds: Annotated[HTTPAuthorizationCredentials | None, Depends(optional_bearer)],
    ) -> str:
        return "anonymous" if creds is None else creds.credentials

    @app.websocket("/ws")
    async def ws(websocket: WebSocket, key: Annotated[str, Depends(query_key)]) -> None:
        await websocket.accept()
        await websocket.send_text(key)

    return app


def test_bearer(client_for: Any) -> None:
    client = client_for(make_app())
    missing = client.get("/bearer")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert "Bearer" in missing.json()["detail"]
    # RFC 6750 section 3.1: another scheme is "no authentication", so no error code.
    for other in ("Token abc", "Basic YTpi"):
        wrong_scheme = client.get("/bearer", headers={"authorization": other})
        assert wrong_scheme.status_code == 401
        assert wrong_scheme.headers["www-authenticate"] == "Bearer"
    empty_token = client.get("/bearer", headers={"authorization": "Bearer "})
    assert empty_token.status_code == 401
    assert empty_token.headers["www-authenticate"] == 'Bearer error="invalid_request"'
    assert client.get("/bearer", headers={"authorization": "Bearer bad"}).status_code == 403
    assert client.get("/bearer", headers={"authorization": "bearer good"}).text == "bearer good"


def test_basic(client_for: Any) -> None:
    client = client_for(make_app())
    missing = client.get("/basic")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == 'Basic realm="admin area"'
    garbled = client.get("/basic", headers={"authorization": "Basic %%%"})
    assert garbled.status_code == 401
    assert "base64" in garbled.json()["detail"]
    ok = client.get("/basic", headers={"authorization": _basic("ada", "p:w")})
    assert ok.text == "ada:p:w"


def test_api_keys_in_header_query_and_cookie(client_for: Any) -> None:
    client = client_for(make_app())
    missing = client.get("/keys", params={"api_key": "q"}, headers={"cookie": "session=c"})
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "APIKey"
    assert "'X-API-Key'" in missing.json()["detail"]
    ok = client.get(
        "/keys", params={"api_key": "q"}, headers={"x-api-key": "h", "cookie": "session=c"}
    )
    assert ok.text == "h q c"


def test_auto_error_false_lets_anonymous_users_in(client_for: Any) -> None:
    client = client_for(make_app())
    assert client.get("/maybe").text == "anonymous"
    assert client.get("/maybe", headers={"authorization": "Bearer t"}).text == "t"


def test_helpers_guard_websockets(client_for: Any) -> None:
    client = client_for(make_app())
    with client.websocket_connect("/ws?api_key=k") as ws:
        assert ws.receive_text() == "k"
    with pytest.raises(WebSocketDenied) as denied:
        client.websocket_connect("/ws").__enter__()
    assert denied.value.status_code == 403
