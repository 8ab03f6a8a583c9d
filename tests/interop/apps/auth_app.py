"""A test app for authentication and authorization, served in process and by real servers.

Tokens: ``POST /token`` (password flow) and ``POST /client-token`` (client credentials) issue
JWTs; ``/me`` needs ``items:read``, ``POST /items`` is guarded by ``items:write``, ``/admin`` by
the ``admin`` role, ``/public`` needs nothing. Browser side: server-side sessions (in memory, or
in Redis when ``AUTH_APP_STORE`` is a redis URL), ``/login`` is a form with a CSRF token,
``/notes`` takes a CSRF-protected form post. WebSockets: ``POST /ws-ticket`` (bearer) issues a
ticket for ``/ws/ticket?ticket=...``; ``/ws/first`` wants a token in its first message.
"""

from __future__ import annotations

import hmac
import os
from typing import Annotated

import msgspec

from velocipy import Depends, Form, HTMLResponse, RedirectResponse, Request, VelociPy, WebSocket
from velocipy.security import (
    JWT,
    Claims,
    CSRFMiddleware,
    InvalidToken,
    JWTBearer,
    OAuth2ClientCredentials,
    OAuth2ClientCredentialsRequestForm,
    OAuth2PasswordBearer,
    OAuth2PasswordRequestForm,
    Security,
    ServerSession,
    ServerSessionMiddleware,
    WebSocketTickets,
    authenticate_first_message,
    csrf_exempt,
    csrf_token,
    oauth2_error,
    requires_roles,
    requires_scopes,
)
from velocipy.stores import store_from_url

SECRET = os.environ.get("AUTH_APP_SECRET", "test-secret-that-is-long-enough-for-hs256!")
SCOPES = {"items:read": "Read items", "items:write": "Create items"}
USERS = {  # name: (password, scopes granted, roles)
    "ada": ("lovelace-pw", ("items:read", "items:write"), ["admin"]),
    "bob": ("builder-pw", ("items:read",), []),
}
CLIENTS = {"robot": ("robot-secret", ("items:read",))}

jwt = JWT(
    secret=SECRET, algorithms=["HS256"], issuer="auth-app", audience="auth-app", expires_in=300
)
password_flow = OAuth2PasswordBearer("/token", scopes=SCOPES)
client_flow = OAuth2ClientCredentials("/client-token", scopes=SCOPES)
user_token = JWTBearer(jwt, scheme=password_flow)
client_token = JWTBearer(jwt, scheme=client_flow)

store = store_from_url(os.environ.get("AUTH_APP_STORE", "memory://"))
tickets = WebSocketTickets(store, ttl=30)


async def close_store() -> None:
    await store.close()


app = VelociPy(title="Auth app", on_shutdown=[close_store])
app.add_middleware(ServerSessionMiddleware, store=store, idle_timeout=600)
app.add_middleware(CSRFMiddleware, trusted_origins=os.environ.get("AUTH_APP_TRUSTED", "").split())
notes: list[str] = []


class Token(msgspec.Struct):
    access_token: str
    token_type: str = "bearer"
    expires_in: int = 300
    scope: str = ""


class Item(msgspec.Struct):
    name: str


def _granted(asked: list[str], allowed: tuple[str, ...]) -> list[str]:
    if not asked:
        return list(allowed)
    refused = [scope for scope in asked if scope not in allowed]
    if refused:
        raise oauth2_error("invalid_scope", f"scope(s) not granted: {' '.join(refused)}")
    return asked


@app.post("/token")
@csrf_exempt
async def token(form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> Token:
    """Log in with a user name and password (the OAuth2 password flow)."""
    user = USERS.get(form.username)
    if user is None or not hmac.compare_digest(user[0].encode(), form.password.encode()):
        raise oauth2_error("invalid_grant", "unknown user name or wrong password")
    scopes = _granted(form.scopes, user[1])
    issued = jwt.issue(form.username, scopes=scopes, claims={"roles": user[2]})
    return Token(issued, scope=" ".join(scopes))


@app.post("/client-token")
@csrf_exempt
async def client_credentials(
    form: Annotated[OAuth2ClientCredentialsRequestForm, Depends()],
) -> Token:
    """A token for a program (the OAuth2 client-credentials flow)."""
    client = CLIENTS.get(form.client_id or "")
    secret = (form.client_secret or "").encode()
    if client is None or not hmac.compare_digest(client[0].encode(), secret):
        raise oauth2_error("invalid_client", "unknown client or wrong secret", 401)
    scopes = _granted(form.scopes, client[1])
    return Token(jwt.issue(f"client:{form.client_id}", scopes=scopes), scope=" ".join(scopes))


@app.get("/me")
async def me(
    claims: Annotated[Claims, Security(user_token, scopes=["items:read"])],
) -> dict[str, object]:
    """Who the token says you are."""
    return {"user": claims.subject, "scopes": claims.scopes}


@app.get("/robot")
async def robot(claims: Annotated[Claims, Security(client_token, scopes=["items:read"])]) -> str:
    return f"hello {claims.subject}"


@app.post("/items", status_code=201, guards=[requires_scopes(user_token, "items:write")])
async def create_item(item: Item, request: Request) -> dict[str, str]:
    claims: Claims = request.state.user
    return {"created": item.name, "by": claims.subject or ""}


@app.get("/admin", guards=[requires_roles(user_token, "admin")])
async def admin() -> str:
    return "admin area"


@app.get("/public")
async def public() -> str:
    return "open to all"


@app.websocket("/ws/admin", guards=[requires_roles(user_token, "admin")])
async def admin_socket(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text(f"admin {websocket.state.user.subject}")


# --- sessions and forms with CSRF --------------------------------------------------------
LOGIN_PAGE = """<!doctype html><title>login</title>
<form method="post" action="/login"><input type="hidden" name="csrf_token" value="{token}">
<input name="username" id="username"><input name="password" id="password" type="password">
<button id="login">log in</button></form>"""
NOTE_PAGE = """<!doctype html><title>note</title>
<form method="post" action="/notes"><input type="hidden" name="csrf_token" value="{token}">
<input name="note" id="note" value="hello"><button id="send">send</button></form>"""


@app.get("/login")
async def login_page(request: Request) -> HTMLResponse:
    return HTMLResponse(LOGIN_PAGE.format(token=csrf_token(request)))


@app.post("/login")
async def login(
    request: Request, username: Annotated[str, Form()], password: Annotated[str, Form()]
) -> RedirectResponse:
    user = USERS.get(username)
    if user is None or not hmac.compare_digest(user[0].encode(), password.encode()):
        return RedirectResponse("/login?failed=1", 303)
    session: ServerSession = request.session  # type: ignore[assignment]
    session.rotate()  # a new id for the logged-in session: no fixation
    session["user"] = username
    return RedirectResponse("/account", 303)


@app.get("/account")
async def account(request: Request) -> dict[str, object]:
    return {"user": request.session.get("user")}


@app.post("/logout")
async def logout(request: Request) -> dict[str, bool]:
    session: ServerSession = request.session  # type: ignore[assignment]
    session.invalidate()
    return {"logged_out": True}


@app.get("/form")
async def form_page(request: Request) -> HTMLResponse:
    return HTMLResponse(NOTE_PAGE.format(token=csrf_token(request)))


@app.get("/csrf")
async def fresh_token(request: Request) -> dict[str, str]:
    return {"token": csrf_token(request)}


@app.post("/notes")
async def add_note(note: Annotated[str, Form()]) -> dict[str, object]:
    notes.append(note)
    return {"saved": note, "count": len(notes)}


@app.get("/notes")
async def list_notes() -> list[str]:
    return notes


# --- WebSocket authentication ------------------------------------------------------------
@app.post("/ws-ticket")
async def ws_ticket(claims: Annotated[Claims, Depends(user_token)]) -> dict[str, str]:
    """A single-use ticket for opening /ws/ticket (30 seconds)."""
    return {"ticket": await tickets.issue({"user": claims.subject})}


@app.websocket("/ws/ticket")
async def ticket_socket(
    websocket: WebSocket, user: Annotated[dict[str, str], Depends(tickets)]
) -> None:
    await websocket.accept()
    await websocket.send_text(f"hello {user['user']} ({websocket.state.user['user']})")
    async for text in websocket.iter_text():
        await websocket.send_text(f"{user['user']}: {text}")


async def _token_of(message: object) -> Claims:
    if not isinstance(message, dict) or not isinstance(message.get("token"), str):
        raise ValueError("no token")
    try:
        return await jwt.verify(message["token"])
    except InvalidToken:
        raise ValueError("bad token") from None


@app.websocket("/ws/first")
async def first_message_socket(websocket: WebSocket) -> None:
    claims = await authenticate_first_message(
        websocket, _token_of, timeout=float(os.environ.get("AUTH_APP_WS_DEADLINE", "2"))
    )
    await websocket.send_text(f"hello {claims.subject}")
    async for text in websocket.iter_text():
        await websocket.send_text(f"{claims.subject}: {text}")
