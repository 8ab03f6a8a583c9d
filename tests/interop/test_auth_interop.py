"""Authentication on real servers: uvicorn, granian RSGI and granian ASGI, with real clients.

``tests/interop/apps/auth_app.py`` runs with its sessions and WebSocket tickets in a real
redis-server. httpx logs in, presents hostile tokens, walks the session and CSRF rules; the
websockets client opens sockets with tickets, headers and first-message credentials. At the end
no token, password or secret may appear in the server's log.
"""

import base64
import contextlib
import json
import re
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httpx
import jwt as pyjwt
import pytest
from openapi_spec_validator import validate
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from tests.channels.redis_server import RedisServer, redis_running
from tests.interop.apps.auth_app import SECRET
from tests.support import REPO_ROOT, ServerProcess, executable, free_port, running, server_argv

pytestmark = [pytest.mark.interop, pytest.mark.slow]

TIMEOUT = 10.0
INVALID = 'Bearer error="invalid_token"'
TOKEN_FIELD = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    with redis_running() as server:
        yield server


@pytest.fixture(scope="module", params=["uvicorn", "granian-rsgi", "granian-asgi"])
def server(request: pytest.FixtureRequest, redis: RedisServer) -> Iterator[ServerProcess]:
    port = free_port()
    argv = server_argv(request.param, "tests.interop.apps.auth_app:app", port)
    env = {"AUTH_APP_STORE": redis.url, "AUTH_APP_WS_DEADLINE": "1"}
    with running(argv, port=port, cwd=REPO_ROOT, env=env) as started:
        started.kind = request.param  # type: ignore[attr-defined]
        yield started


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"sub": "ada", "iss": "auth-app", "aud": "auth-app", "exp": now + 60}
    claims["scope"] = "items:read items:write"
    claims.update(overrides)
    return claims


HOSTILE = {
    "alg none": lambda: (
        _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
        + "."
        + _b64(json.dumps(_claims()).encode())
        + "."
    ),
    "another key": lambda: pyjwt.encode(_claims(), "x" * 48, "HS256"),
    "expired": lambda: pyjwt.encode(_claims(exp=int(time.time()) - 60), SECRET, "HS256"),
    "wrong audience": lambda: pyjwt.encode(_claims(aud="elsewhere"), SECRET, "HS256"),
}


def _token(client: httpx.Client, user: str, password: str) -> str:
    answer = client.post("/token", data={"username": user, "password": password})
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["access_token"]
    return token


def _client(server: ServerProcess) -> httpx.Client:
    return httpx.Client(base_url=server.url, timeout=TIMEOUT)


def test_tokens_scopes_and_guards(server: ServerProcess) -> None:
    with _client(server) as client:
        ada = {"authorization": f"Bearer {_token(client, 'ada', 'lovelace-pw')}"}
        bob = {"authorization": f"Bearer {_token(client, 'bob', 'builder-pw')}"}
        assert client.get("/me", headers=ada).json()["user"] == "ada"
        for case, make in HOSTILE.items():
            token = make()
            refused = client.get("/me", headers={"authorization": f"Bearer {token}"})
            assert refused.status_code == 401, case
            assert refused.headers["www-authenticate"] == INVALID, case
            assert token not in refused.text
        scope = client.post("/items", json={"name": "n"}, headers=bob)
        assert scope.status_code == 403
        assert scope.headers["www-authenticate"].startswith('Bearer error="insufficient_scope"')
        assert client.post("/items", json={"name": "n"}, headers=ada).status_code == 201
        assert client.get("/admin").status_code == 401
        assert client.get("/admin", headers=bob).status_code == 403
        assert client.get("/admin", headers=ada).text == "admin area"
        assert client.get("/public").text == "open to all"


def test_redis_sessions_rotate_at_login_and_die_at_logout(
    server: ServerProcess, redis: RedisServer
) -> None:
    def thief(session_id: str) -> Any:
        answer = httpx.get(
            server.url + "/account", headers={"cookie": f"sid={session_id}"}, timeout=TIMEOUT
        )
        return answer.json()

    with _client(server) as client:
        page = client.get("/login")
        planted = client.cookies["sid"]
        token = TOKEN_FIELD.search(page.text).group(1)  # type: ignore[union-attr]
        login = client.post(
            "/login",
            data={"username": "ada", "password": "lovelace-pw", "csrf_token": token},
        )
        assert login.status_code == 303
        logged_in = client.cookies["sid"]
        assert logged_in != planted
        assert client.get("/account").json() == {"user": "ada"}
        assert thief(planted) == {"user": None}
        assert thief(logged_in) == {"user": "ada"}
        # the data lives in redis, under a hash of the id
        keys = redis.command("KEYS", "velocipy:session:*").decode()
        assert "velocipy:session:" in keys
        assert logged_in not in keys
        csrf = client.get("/csrf").json()["token"]
        assert client.post("/logout", headers={"x-csrf-token": csrf}).status_code == 200
        assert thief(logged_in) == {"user": None}


def test_csrf_on_form_posts(server: ServerProcess) -> None:
    with _client(server) as client, _client(server) as other:
        token = TOKEN_FIELD.search(client.get("/form").text).group(1)  # type: ignore[union-attr]
        foreign = TOKEN_FIELD.search(other.get("/form").text).group(1)  # type: ignore[union-attr]
        missing = client.post("/notes", data={"note": "a"})
        assert missing.status_code == 403
        assert missing.json()["detail"].startswith("CSRF token missing")
        assert client.post("/notes", data={"note": "b", "csrf_token": token}).status_code == 200
        refused = client.post("/notes", data={"note": "c", "csrf_token": foreign})
        assert refused.status_code == 403
        cross = client.post(
            "/notes",
            data={"note": "d", "csrf_token": token},
            headers={"origin": "http://evil.example"},
        )
        assert cross.status_code == 403
        assert cross.json()["detail"].startswith("Cross-site request refused")


def _open(server: ServerProcess, path: str, **kwargs: Any) -> ClientConnection:
    return connect(server.ws_url + path, open_timeout=TIMEOUT, close_timeout=TIMEOUT, **kwargs)


def test_websocket_tickets_are_single_use(server: ServerProcess) -> None:
    with _client(server) as client:
        ada = {"authorization": f"Bearer {_token(client, 'ada', 'lovelace-pw')}"}
        assert client.post("/ws-ticket").status_code == 401
        ticket = client.post("/ws-ticket", headers=ada).json()["ticket"]
    for path in ("/ws/ticket", "/ws/ticket?ticket=forged"):
        with pytest.raises(InvalidStatus) as refused:
            _open(server, path)
        assert refused.value.response.status_code == 403
    with _open(server, f"/ws/ticket?ticket={ticket}") as ws:
        assert ws.recv(timeout=TIMEOUT) == "hello ada (ada)"
        ws.send("hi")
        assert ws.recv(timeout=TIMEOUT) == "ada: hi"
    with pytest.raises(InvalidStatus) as reused:
        _open(server, f"/ws/ticket?ticket={ticket}")
    assert reused.value.response.status_code == 403


def test_websocket_guards_refuse_the_handshake(server: ServerProcess) -> None:
    with _client(server) as client:
        bob = {"authorization": f"Bearer {_token(client, 'bob', 'builder-pw')}"}
        ada = {"authorization": f"Bearer {_token(client, 'ada', 'lovelace-pw')}"}
    for headers in (None, bob):
        with pytest.raises(InvalidStatus) as refused:
            _open(server, "/ws/admin", additional_headers=headers)
        assert refused.value.response.status_code == 403
    with _open(server, "/ws/admin", additional_headers=ada) as ws:
        assert ws.recv(timeout=TIMEOUT) == "admin ada"


def _closed(ws: ClientConnection) -> int | None:
    with contextlib.suppress(ConnectionClosed):
        while True:
            ws.recv(timeout=TIMEOUT)
    return ws.close_code


def test_first_message_authentication_with_a_deadline(server: ServerProcess) -> None:
    rsgi = server.kind == "granian-rsgi"  # type: ignore[attr-defined]
    policy = 1005 if rsgi else 1008  # RSGI sends no close code (rsgi.md)
    with _client(server) as client:
        token = _token(client, "ada", "lovelace-pw")
    with _open(server, "/ws/first") as ws:
        ws.send(json.dumps({"token": token}))
        assert ws.recv(timeout=TIMEOUT) == "hello ada"
        ws.send("again")
        assert ws.recv(timeout=TIMEOUT) == "ada: again"
    with _open(server, "/ws/first") as ws:
        ws.send(json.dumps({"token": HOSTILE["expired"]()}))
        assert _closed(ws) == policy
    with _open(server, "/ws/first") as ws:
        ws.send("not json")
        assert _closed(ws) == policy
    with _open(server, "/ws/first") as silent:  # says nothing: closed after the 1 s deadline
        assert _closed(silent) == policy
    if not rsgi:
        assert silent.close_reason == "authentication timed out: send credentials first"


def test_no_secret_token_or_password_in_the_log(server: ServerProcess) -> None:
    with _client(server) as client:
        token = _token(client, "ada", "lovelace-pw")
        client.get("/me", headers={"authorization": f"Bearer {token}x"})
        client.post("/token", data={"username": "ada", "password": "Tr0ub4dor&3"})
    log = server.output()
    for secret in (SECRET, token, "lovelace-pw", "Tr0ub4dor&3", "robot-secret"):
        assert secret not in log
    assert "Traceback" not in log
    assert server.alive()


def test_the_served_document_validates_and_schemathesis_finds_no_server_error(
    server: ServerProcess, tmp_path: Any
) -> None:
    document = httpx.get(server.url + "/openapi.json", timeout=TIMEOUT).json()
    validate(document)  # openapi-spec-validator
    assert set(document["components"]["securitySchemes"]) == {
        "OAuth2PasswordBearer",
        "OAuth2ClientCredentials",
    }
    with _client(server) as client:
        token = _token(client, "ada", "lovelace-pw")
    argv = [
        executable("schemathesis"),
        "run",
        server.url + "/openapi.json",
        "--checks",
        "not_a_server_error",
        "--header",
        f"Authorization: Bearer {token}",
        "--max-examples",
        "10",
        "--seed",
        "26",
        "--no-color",
    ]
    result = subprocess.run(
        argv, capture_output=True, text=True, timeout=300, cwd=tmp_path, check=False
    )
    report = result.stdout + result.stderr
    assert result.returncode == 0, report + "\n--- server log ---\n" + server.output()
    counts = re.search(r"(\d+) generated, (\d+) passed", report)
    assert counts is not None, report
    assert counts.group(1) == counts.group(2), report
    assert "Traceback" not in server.output()
