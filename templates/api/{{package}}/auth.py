"""Logging in: the OAuth2 password flow at `/token`, the caller at `/me`, and who may write.

`POST /token` takes a user name and password (a form, as OAuth2 and Swagger UI's *Authorize*
button send it) and answers a signed JWT. Reading items is open; creating, replacing and
deleting them needs a token with the `items:write` scope (`can_write`, a guard on those routes).

Replace `USERS` with your user table: keep password hashes (scrypt here), never passwords.
Set `API_SECRET_KEY` (32+ random bytes) in production: without it each process makes its own,
so tokens do not survive a restart and are not shared between workers.
"""

import hashlib
import hmac
import logging
import os
import secrets
from typing import Annotated

import msgspec
from velocipy import APIRouter, Depends
from velocipy.security import (
    JWT,
    Claims,
    JWTBearer,
    OAuth2PasswordBearer,
    OAuth2PasswordRequestForm,
    Security,
    oauth2_error,
    requires_scopes,
)

logger = logging.getLogger(__name__)
SCOPES = {"items:read": "Read items", "items:write": "Create, replace and delete items"}


def hash_password(password: str, salt: bytes) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)


def _user(password: str, scopes: list[str]) -> tuple[bytes, bytes, list[str]]:
    salt = secrets.token_bytes(16)
    return salt, hash_password(password, salt), scopes


# Demo accounts: replace with your users (name -> salt, scrypt hash, scopes).
USERS = {
    "demo": _user("demo-password", ["items:read", "items:write"]),
    "reader": _user("reader-password", ["items:read"]),
}


def _secret() -> str:
    secret = os.environ.get("API_SECRET_KEY")
    if secret:
        return secret
    logger.warning("API_SECRET_KEY is not set: tokens are signed with a key of this process only")
    return secrets.token_urlsafe(32)


jwt = JWT(secret=_secret(), algorithms=["HS256"], issuer="items-api", expires_in=30 * 60)
login = OAuth2PasswordBearer("/token", scopes=SCOPES)
current_user = JWTBearer(jwt, scheme=login)
can_write = requires_scopes(current_user, "items:write")

router = APIRouter(tags=["auth"])


class Token(msgspec.Struct):
    access_token: str
    token_type: str = "bearer"
    expires_in: int = 30 * 60
    scope: str = ""


class Me(msgspec.Struct):
    user: str
    scopes: list[str]


BAD_LOGIN = {400: "Unknown user, wrong password or a scope the user does not have"}


@router.post("/token", responses=BAD_LOGIN)
async def token(form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> Token:
    """Log in with a user name and password; answers a bearer token."""
    known = USERS.get(form.username)
    if known is None or not hmac.compare_digest(
        known[1], hash_password(form.password, known[0])
    ):
        raise oauth2_error("invalid_grant", "unknown user name or wrong password")
    granted = form.scopes or known[2]
    refused = [scope for scope in granted if scope not in known[2]]
    if refused:
        raise oauth2_error("invalid_scope", f"not granted: {' '.join(refused)}")
    return Token(jwt.issue(form.username, scopes=granted), scope=" ".join(granted))


@router.get("/me")
async def me(claims: Annotated[Claims, Security(current_user)]) -> Me:
    """Who the bearer token says you are, and what it lets you do."""
    return Me(user=claims.subject or "", scopes=claims.scopes)
