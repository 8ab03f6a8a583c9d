"""Server-side sessions (rotation, logout, timeouts, cookie flags) and CSRF, on ASGI and RSGI."""

import re
import time
from typing import Any

import pytest

from velocipy import Request, VelociPy, WebSocket
from velocipy.security import (
    CSRFMiddleware,
    ServerSession,
    ServerSessionMiddleware,
    csrf_exempt,
    csrf_token,
)
from velocipy.stores import Store
from velocipy.stores.memory import MemoryStore

TOKEN_FIELD = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


def _auth_app() -> Any:
    """A fresh copy of the auth app (its notes and memory store start empty)."""
    import importlib

    import tests.interop.apps.auth_app as module

    return importlib.reload(module).app


def _form_token(client: Any, path: str = "/login") -> str:
    page = client.get(path)
    assert page.status_code == 200
    found = TOKEN_FIELD.search(page.text)
    assert found
    return found.group(1)


def _log_in(client: Any, user: str = "ada", password: str = "lovelace-pw") -> Any:
    token = _form_token(client)
    form = {"username": user, "password": password, "csrf_token": token}
    return client.post("/login", data=form, follow_redirects=False)  # the 303 itself


def test_login_rotates_the_session_id_and_logout_kills_it(client_for: Any) -> None:
    app = _auth_app()
    client = client_for(app)
    attacker = client_for(app)
    _form_token(client)  # the login page made a session (it holds the CSRF secret)
    planted = client.cookies["sid"]
    answer = _log_in(client)
    assert (answer.status_code, answer.headers["location"]) == (303, "/account")
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie or "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain http here; https gets Secure (test below)
    logged_in = client.cookies["sid"]
    assert logged_in != planted  # fixation: the id before login is not the one logged in
    assert client.get("/account").json() == {"user": "ada"}
    # The planted id opens nothing now.
    assert attacker.get("/account", cookies={"sid": planted}).json() == {"user": None}
    token = csrf_token_of(client)
    out = client.post("/logout", headers={"x-csrf-token": token})
    assert out.json() == {"logged_out": True}
    assert "sid" not in client.cookies
    # Stolen after logout: the old id is dead.
    assert attacker.get("/account", cookies={"sid": logged_in}).json() == {"user": None}


def csrf_token_of(client: Any) -> str:
    token: str = client.get("/csrf").json()["token"]
    return token


def test_a_wrong_password_logs_nobody_in(client_for: Any) -> None:
    client = client_for(_auth_app())
    answer = _log_in(client, password="not-it")
    assert answer.headers["location"] == "/login?failed=1"
    assert client.get("/account").json() == {"user": None}


def test_csrf_missing_present_and_foreign_tokens(client_for: Any) -> None:
    app = _auth_app()
    client = client_for(app)
    token = _form_token(client, "/form")
    missing = client.post("/notes", data={"note": "a"})
    assert missing.status_code == 403
    assert missing.json() == {
        "detail": "CSRF token missing: send it in the csrf_token form field or the "
        "x-csrf-token header"
    }
    assert client.get("/notes").json() == []  # refused: nothing was saved
    ok = client.post("/notes", data={"note": "b", "csrf_token": token})
    assert ok.json() == {"saved": "b", "count": 1}
    # A second session's token does not fit the first one.
    other = client_for(app)
    foreign = _form_token(other, "/form")
    refused = client.post("/notes", data={"note": "c", "csrf_token": foreign})
    assert refused.status_code == 403
    assert refused.json()["detail"].startswith("CSRF token does not match this session")
    assert foreign not in refused.text
    garbage = client.post("/notes", data={"note": "d", "csrf_token": "zz"})
    assert garbage.status_code == 403
    header = client.post("/notes", data={"note": "e"}, headers={"x-csrf-token": token})
    assert header.status_code == 200
    assert client.get("/notes").json() == ["b", "e"]


def test_each_render_masks_the_token_differently_and_all_work(client_for: Any) -> None:
    client = client_for(_auth_app())
    first, second = _form_token(client, "/form"), _form_token(client, "/form")
    assert first != second
    for token in (first, second):
        assert client.post("/notes", data={"note": "x", "csrf_token": token}).status_code == 200


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"origin": "http://evil.example"}, 403),
        ({"origin": "null"}, 403),
        ({"referer": "http://evil.example/page"}, 403),
        ({"referer": "not a url"}, 403),
        ({"origin": "http://testserver"}, 200),
        ({"referer": "http://testserver/form"}, 200),
        ({"origin": "http://trusted.example"}, 200),
        ({}, 200),
    ],
)
def test_origin_and_referer_checks(
    headers: dict[str, str], status: int, client_for: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTH_APP_TRUSTED", "http://trusted.example")
    client = client_for(_auth_app())
    token = _form_token(client, "/form")
    response = client.post("/notes", data={"note": "x", "csrf_token": token}, headers=headers)
    assert response.status_code == status, response.text
    if status == 403:
        assert response.json()["detail"].startswith("Cross-site request refused")


def test_bearer_requests_and_exempt_routes_need_no_csrf_token(client_for: Any) -> None:
    client = client_for(_auth_app())
    _form_token(client)  # a session cookie now rides along on every request
    token = client.post("/token", data={"username": "ada", "password": "lovelace-pw"})
    assert token.status_code == 200  # @csrf_exempt
    bearer = {"authorization": f"Bearer {token.json()['access_token']}"}
    assert client.post("/items", json={"name": "n"}, headers=bearer).status_code == 201
    assert client.post("/items", json={"name": "n"}).status_code == 403  # cookie, no token


def _session_app(store: Store, **options: Any) -> VelociPy:
    app = VelociPy()
    app.add_middleware(ServerSessionMiddleware, store=store, **options)

    @app.post("/set/{value}")
    @csrf_exempt
    async def set_value(request: Request, value: str) -> str:
        request.session["value"] = value
        return "set"

    @app.get("/get")
    async def get_value(request: Request) -> str:
        return str(request.session.get("value"))

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text(str(websocket.session.get("value")))

    return app


def test_idle_and_absolute_timeouts(client_for: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    store = MemoryStore()
    client = client_for(_session_app(store, idle_timeout=100, absolute_timeout=300))
    now = [1_000_000.0]
    monkeypatch.setattr(time, "time", lambda: now[0])
    assert client.post("/set/a").text == "set"
    now[0] += 99  # just inside the idle timeout: still there (and renewed: >10% went by)
    assert client.get("/get").text == "a"
    now[0] += 99
    assert client.get("/get").text == "a"
    now[0] += 101  # idle too long
    assert client.get("/get").text == "None"
    assert client.post("/set/b").text == "set"
    for _ in range(5):  # busy, but the absolute timeout counts from creation
        now[0] += 59
        assert client.get("/get").text == "b"
    now[0] += 6  # 301 s after it was made
    assert client.get("/get").text == "None"


def test_the_store_holds_no_session_id_and_websockets_read_the_session(client_for: Any) -> None:
    store = MemoryStore()
    client = client_for(_session_app(store))
    client.post("/set/v")
    session_id = client.cookies["sid"]
    keys = list(store._data)
    assert keys
    assert all(session_id not in key for key in keys)
    assert all(key.startswith("session:") for key in keys)
    with client.websocket_connect("/ws") as ws:
        assert ws.receive_text() == "v"


def test_https_gets_a_secure_cookie(client_for: Any) -> None:
    client = client_for(_session_app(MemoryStore()), base_url="https://testserver")
    answer = client.post("/set/x")
    assert "Secure" in answer.headers["set-cookie"]


def test_an_unchanged_session_is_not_rewritten_and_sets_no_cookie(client_for: Any) -> None:
    store = MemoryStore()
    client = client_for(_session_app(store))
    client.post("/set/x")
    writes = store._writes
    answer = client.get("/get")
    assert "set-cookie" not in answer.headers
    assert store._writes == writes


def test_a_session_holds_no_secret_in_its_repr() -> None:
    session = ServerSession("the-id", {"user": "ada"}, 0.0, 0.0)
    assert repr(session) == "ServerSession(keys=['user'])"


def test_csrf_needs_a_session_middleware_and_says_so(
    client_for: Any, caplog: pytest.LogCaptureFixture
) -> None:
    app = VelociPy()
    app.add_middleware(CSRFMiddleware)

    @app.get("/t")
    async def t(request: Request) -> str:
        return csrf_token(request)

    response = client_for(app, raise_server_exceptions=False).get("/t")
    assert response.status_code == 500
    assert "request.session needs the session middleware" in caplog.text


def test_templates_write_the_csrf_field_and_the_form_posts(client_for: Any, tmp_path: Any) -> None:
    from velocipy.templating import Jinja2Templates

    (tmp_path / "form.html").write_text(
        '<form method="post">{{ csrf_input() }}<input name="note"></form>'
        '<meta name="csrf" content="{{ csrf_token() }}">'
    )
    templates = Jinja2Templates(tmp_path)
    app = VelociPy()
    app.add_middleware(ServerSessionMiddleware, store=MemoryStore())
    app.add_middleware(CSRFMiddleware)

    @app.get("/form")
    async def form(request: Request) -> Any:
        return templates.TemplateResponse(request, "form.html")

    @app.post("/form")
    async def post(request: Request) -> str:
        return "posted"

    client = client_for(app)
    page = client.get("/form").text
    field = re.search(r'<input type="hidden" name="csrf_token" value="([0-9a-f]{128})">', page)
    meta = re.search(r'<meta name="csrf" content="([0-9a-f]{128})">', page)
    assert field is not None
    assert meta is not None
    assert client.post("/form", data={"csrf_token": field.group(1)}).text == "posted"
    assert client.post("/form", headers={"x-csrf-token": meta.group(1)}).text == "posted"
    assert client.post("/form", data={"note": "x"}).status_code == 403


def test_a_store_that_cannot_answer_is_a_503_without_the_id_in_the_log(
    client_for: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.support import free_port
    from velocipy.stores.redis import RedisStore

    store = RedisStore(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    client = client_for(_session_app(store))
    answer = client.get("/get", cookies={"sid": "a-session-id-of-someone"})
    assert answer.status_code == 503
    assert answer.json() == {"detail": "Session store unavailable: try again shortly"}
    assert "a-session-id-of-someone" not in caplog.text
    assert "session store unavailable" in caplog.text
