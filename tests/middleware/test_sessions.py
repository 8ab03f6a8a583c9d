"""SessionMiddleware on both protocols: round trip, tampering, expiry, foreign keys, WebSockets."""

from __future__ import annotations

import base64
import datetime
import hmac
import json
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from velocipy import Request, Response, VelociPy, WebSocket
from velocipy.middleware import SessionMiddleware
from velocipy.middleware.sessions import HmacSha256
from velocipy.testing import TestClient

ClientFactory = Callable[..., TestClient]
SECRET = "a-test-secret-of-enough-length"


def make_app(**options: Any) -> VelociPy:
    app = VelociPy()
    app.add_middleware(SessionMiddleware, secret_key=options.pop("secret_key", SECRET), **options)

    @app.post("/login/{name}")
    async def login(request: Request, name: str) -> str:
        request.session["user"] = name
        return "ok"

    @app.get("/me")
    async def me(request: Request) -> dict[str, Any]:
        return dict(request.session)

    @app.post("/logout")
    async def logout(request: Request) -> str:
        request.session.clear()
        return "bye"

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_json(dict(websocket.session))
        await websocket.close()

    return app


def test_round_trip_and_websocket(make_client: ClientFactory) -> None:
    client = make_client(make_app())
    assert client.get("/me").json() == {}
    login = client.post("/login/ali")
    cookie = login.headers["set-cookie"]
    for part in ("HttpOnly", "SameSite=lax", "Path=/"):
        assert part in cookie
    assert "Max-Age=1209600" in cookie
    assert client.get("/me").json() == {"user": "ali"}
    with client.websocket_connect("/ws") as session:
        assert session.receive_json() == {"user": "ali"}
    logout = client.post("/logout")
    assert "Max-Age=0" in logout.headers["set-cookie"]
    assert client.get("/me").json() == {}


def signed_cookie(client: TestClient) -> str:
    client.post("/login/ali")
    return client.cookies["session"]


@pytest.mark.parametrize("position", [0, 5, -3, -1])
def test_one_tampered_byte_gives_an_empty_session(client_for: ClientFactory, position: int) -> None:
    client = client_for(make_app())
    cookie = signed_cookie(client)
    index = position % len(cookie)
    flipped = "B" if cookie[index] != "B" else "C"
    tampered = cookie[:index] + flipped + cookie[index + 1 :]
    response = client.get("/me", cookies={"session": tampered})
    assert (response.status_code, response.json()) == (200, {})
    assert "Max-Age=0" in response.headers["set-cookie"]  # the bad cookie is dropped


def test_expired_cookie_gives_an_empty_session(client_for: ClientFactory) -> None:
    middleware = SessionMiddleware(secret_key=SECRET, max_age=60)
    old = middleware.sign({"user": "ali"}, now=time.time() - 61)
    fresh = middleware.sign({"user": "ali"}, now=time.time() - 30)
    client = client_for(make_app(max_age=60))
    assert client.get("/me", cookies={"session": old}).json() == {}
    assert client.get("/me", cookies={"session": fresh}).json() == {"user": "ali"}


def test_cookie_signed_with_another_key_gives_an_empty_session(
    client_for: ClientFactory,
) -> None:
    foreign = SessionMiddleware(secret_key="some-other-secret-key-here").sign({"user": "admin"})
    client = client_for(make_app())
    assert client.get("/me", cookies={"session": foreign}).json() == {}


@pytest.mark.parametrize("junk", ["", "abc", "a.b.c", "...", "é.é.é", "x" * 5000])
def test_garbage_cookies_give_an_empty_session(
    client_for: ClientFactory, junk: str, caplog: pytest.LogCaptureFixture
) -> None:
    client = client_for(make_app())
    with caplog.at_level(logging.ERROR):
        assert client.get("/me", cookies={"session": junk}).json() == {}
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_options_reach_the_cookie(client_for: ClientFactory) -> None:
    app = make_app(
        session_cookie="sid",
        path="/app",
        domain="example.com",
        same_site="strict",
        https_only=True,
        max_age=None,
    )
    cookie = client_for(app).post("/login/ali").headers["set-cookie"]
    assert cookie.startswith("sid=")
    for part in ("Path=/app", "Domain=example.com", "SameSite=strict", "Secure", "HttpOnly"):
        assert part in cookie
    assert "Max-Age" not in cookie


def test_session_without_middleware_is_a_clear_error(
    client_for: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    app = VelociPy(debug=False)

    @app.get("/")
    async def home(request: Request) -> str:
        return str(request.session)

    with caplog.at_level(logging.ERROR, logger="velocipy"):
        assert client_for(app).get("/").status_code == 500
    assert any("app.add_middleware(SessionMiddleware" in str(r.exc_info) for r in caplog.records)


def test_weak_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        SessionMiddleware(secret_key="short")
    with pytest.raises(ValueError, match="https_only"):
        SessionMiddleware(secret_key=SECRET, same_site="none")


def test_the_session_is_json_datetimes_come_back_as_text_and_objects_fail(
    client_for: ClientFactory,
) -> None:
    """What docs/middleware.md promises of the values a session keeps."""
    app = make_app()
    moment = datetime.datetime(2026, 12, 7, 21, 0, tzinfo=datetime.UTC)
    ident = uuid.UUID(int=7)

    @app.post("/keep")
    async def keep(request: Request) -> str:
        request.session.update(n=1.5, flag=True, none=None, items=[1, "a"], at=moment, id=ident)
        return "kept"

    @app.post("/object")
    async def keep_object(request: Request) -> str:
        request.session["thing"] = object()
        return "never sent"

    client = client_for(app, raise_server_exceptions=False)
    assert client.post("/keep").status_code == 200
    assert client.get("/me").json() == {
        "n": 1.5,
        "flag": True,
        "none": None,
        "items": [1, "a"],
        "at": "2026-12-07T21:00:00Z",
        "id": str(ident),
    }
    assert client.post("/object").status_code == 500


@pytest.mark.parametrize("key_size", [1, 16, 32, 63, 64, 65, 200])
def test_the_signature_is_the_standard_hmac_sha256(key_size: int) -> None:
    """The precomputed HMAC gives the standard library's bytes, for keys shorter than, equal
    to and longer than SHA-256's 64-byte block (hashed first, as RFC 2104 says)."""
    key = bytes((7 * n + key_size) % 256 for n in range(key_size))
    signer = HmacSha256(key)
    for message in (b"", b"a", b"payload.stamp", bytes(range(256)) * 5):
        assert signer.digest(message) == hmac.digest(key, message, "sha256")


def test_a_cookie_is_json_payload_timestamp_and_hmac() -> None:
    """The cookie's format, read with nothing but the standard library: what a cookie signed
    before this release (with the json module and base64) must still be."""
    middleware = SessionMiddleware(secret_key=SECRET)
    cookie = middleware.sign({"user": "ali", "cart": [1, 2], "seen": None}, now=1_700_000_000)
    payload, stamp, signature = cookie.split(".")

    def unpadded(text: str) -> bytes:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))

    assert json.loads(unpadded(payload)) == {"user": "ali", "cart": [1, 2], "seen": None}
    assert int.from_bytes(unpadded(stamp), "big") == 1_700_000_000
    expected = hmac.digest(middleware.key, f"{payload}.{stamp}".encode(), "sha256")
    assert unpadded(signature) == expected
    legacy_payload = base64.urlsafe_b64encode(b'{"user":"bo"}').rstrip(b"=").decode()
    legacy = f"{legacy_payload}.{stamp}"
    legacy_signature = hmac.digest(middleware.key, legacy.encode(), "sha256")
    legacy += "." + base64.urlsafe_b64encode(legacy_signature).rstrip(b"=").decode()
    assert middleware.load(legacy, now=1_700_000_100) == {"user": "bo"}


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"max_age": None},
        {"max_age": 60, "path": "/app", "domain": "example.com"},
        {"same_site": "none", "https_only": True},
        {"same_site": "strict", "session_cookie": "sid"},
    ],
)
def test_the_set_cookie_header_is_what_set_cookie_writes(
    client_for: ClientFactory, options: dict[str, Any]
) -> None:
    """The header written from the middleware's template is byte for byte the one
    Response.set_cookie writes with the same options."""
    client = client_for(make_app(**options))
    header = client.post("/login/ali").headers["set-cookie"]
    name = options.get("session_cookie", "session")
    value = header.partition(";")[0].removeprefix(f"{name}=")
    expected = Response(b"")
    expected.set_cookie(
        name,
        value,
        max_age=options.get("max_age", 14 * 24 * 60 * 60),
        path=options.get("path", "/"),
        domain=options.get("domain"),
        secure=options.get("https_only", False),
        httponly=True,
        samesite=options.get("same_site", "lax"),
    )
    assert header == expected.headers["set-cookie"]


@pytest.mark.parametrize("name", ["bad name", "path", "Expires", "a=b", "s;x", ""])
def test_a_cookie_name_that_cannot_be_written_is_refused_at_start_up(name: str) -> None:
    with pytest.raises(ValueError, match="not a usable cookie name"):
        SessionMiddleware(secret_key=SECRET, session_cookie=name)


def test_a_control_character_in_the_cookie_path_is_refused_at_start_up() -> None:
    with pytest.raises(ValueError, match="control character"):
        SessionMiddleware(secret_key=SECRET, path="/app\r\nSet-Cookie: x=1")


def test_no_single_character_change_of_a_cookie_verifies() -> None:
    """Every position, signature's last character included (its low bits carry no data)."""
    middleware = SessionMiddleware(secret_key=SECRET)
    for n in range(40):
        cookie = middleware.sign({"user": "ali", "n": n})
        for index, char in enumerate(cookie):
            for replacement in "AB_-w":
                if replacement != char and char != ".":
                    tampered = cookie[:index] + replacement + cookie[index + 1 :]
                    assert middleware.load(tampered) == {}, (cookie, index, replacement)


@pytest.mark.parametrize(("extra", "warned"), [(-1, False), (0, False), (1, True)])
def test_a_cookie_larger_than_browsers_keep_warns_once(
    client_for: ClientFactory, caplog: pytest.LogCaptureFixture, extra: int, warned: bool
) -> None:
    """Name and value over 4096 bytes: one WARNING per middleware, at, below and above."""
    user = "u" * 2900
    value_size = len(SessionMiddleware(SECRET).sign({"user": user}))
    name = "s" * (4096 - value_size + extra)  # the name sets the total to 4095, 4096, 4097
    client = client_for(make_app(session_cookie=name))
    with caplog.at_level(logging.WARNING, logger="velocipy"):
        for _ in range(3):
            response = client.post(f"/login/{user}")
            set_cookie = response.headers["set-cookie"]
            assert len(set_cookie.partition(";")[0]) == 4096 + extra + 1  # name=value
    messages = [r.getMessage() for r in caplog.records if r.name == "velocipy"]
    if warned:
        assert messages == [
            f"session cookie {name!r} is 4097 bytes (name and value); browsers drop cookies "
            "over 4096 bytes, so this session will be lost: keep ids in the session and the "
            "data on the server"
        ]
    else:
        assert messages == []
