"""A test app for authentication and authorization, served in process and by real servers.

Tokens: ``POST /token`` (password flow) and ``POST /client-token`` (client credentials) issue
JWTs; ``/me`` needs ``items:read``, ``POST /items`` is guarded by ``items:write``, ``/admin`` by
the ``admin`` role, ``/public`` needs nothing. Browser side: ``/login`` is a form with a CSRF
token; ``/notes`` takes a CSRF-protected form post.
"""

from __future__ import annotations

import hmac
import os
from typing import Annotated

import msgspec

from velocipy import Depends, Form, HTMLResponse, Request, VelociPy, WebSocket
from velocipy.middleware import SessionMiddleware
from velocipy.security import (
    JWT,
    Claims,
    JWTBearer,
    OAuth2ClientCredentials,
    OAuth2ClientCredentialsRequestForm,
    OAuth2PasswordBearer,
    OAuth2PasswordRequestForm,
    Security,
    oauth2_error,
    requires_roles,
    requires_scopes,
)
from velocipy.security.csrf import CSRFMiddleware, csrf_exempt, csrf_token

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

app = VelociPy(title="Auth app")
app.add_middleware(SessionMiddleware, secret_key=SECRET)
app.add_middleware(CSRFMiddleware)
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


# --- a browser form with CSRF ------------------------------------------------------------
LOGIN_PAGE = """<!doctype html><title>login</title>
<form method="post" action="/notes"><input type="hidden" name="csrf_token" value="{token}">
<input name="note" value="hello"><button id="send">send</button></form>"""


@app.get("/form")
async def form_page(request: Request) -> HTMLResponse:
    return HTMLResponse(LOGIN_PAGE.format(token=csrf_token(request)))


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
