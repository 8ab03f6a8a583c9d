"""Sessions: a dict per client, kept in a signed cookie (readable, not writable, by the client).

The cookie is ``payload.timestamp.signature``: the JSON payload and the signing time in
URL-safe base64, signed with HMAC-SHA256 under a key derived from ``secret_key``. A cookie
whose signature does not match (tampered, or signed with another key), that is older than
``max_age``, or that does not parse gives an empty session, never an error.

Signed with the standard library (``hmac``, ``hashlib``, constant-time ``compare_digest``)
rather than itsdangerous: one keyed hash and a timestamp is all a session cookie needs, and
``import velocipy`` stays free of a dependency used by this one class.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import time
from typing import Any, Literal

from velocipy.middleware.base import CallNext, Middleware
from velocipy.requests import Connection, Request
from velocipy.responses import Response
from velocipy.websockets import WebSocket

__all__ = ["SessionMiddleware"]

# Browsers keep a cookie whose name and value together are at most 4096 bytes (RFC 6265
# section 6.1's minimum, and what Chromium and Firefox enforce); a longer one is dropped.
BROWSER_COOKIE_LIMIT = 4096
logger = logging.getLogger("velocipy")
# PERF: json.dumps(..., separators=...) builds an encoder on every call; this one is reused.
_COMPACT_JSON = json.JSONEncoder(separators=(",", ":"))


class SessionMiddleware(Middleware):
    """``request.session`` (and ``websocket.session``, read-only) from a signed cookie.

    ``max_age`` seconds (default two weeks; ``None`` for a browser-session cookie that is still
    refused after two weeks) is both the cookie's lifetime and the oldest signature accepted.
    A non-empty session is re-sent on each response, which slides its expiry.
    """

    def __init__(
        self,
        secret_key: str | bytes,
        session_cookie: str = "session",
        max_age: int | None = 14 * 24 * 60 * 60,
        path: str = "/",
        same_site: Literal["lax", "strict", "none"] = "lax",
        https_only: bool = False,
        domain: str | None = None,
    ) -> None:
        secret = secret_key.encode() if isinstance(secret_key, str) else secret_key
        if len(secret) < 16:
            raise ValueError("secret_key must be at least 16 bytes; use secrets.token_hex(32)")
        if same_site == "none" and not https_only:
            raise ValueError("same_site='none' needs https_only=True (browsers require Secure)")
        self.key = hmac.new(secret, b"velocipy.session.v1", hashlib.sha256).digest()
        self.cookie_name = session_cookie
        self.max_age = max_age
        self.path = path
        self.same_site = same_site
        self.https_only = https_only
        self.domain = domain
        self.warned_too_large = False

    # --- the cookie format ---------------------------------------------------------------
    def sign(self, data: dict[str, Any], now: float | None = None) -> str:
        payload = _b64encode(_COMPACT_JSON.encode(data).encode())
        stamp = _b64encode(int(time.time() if now is None else now).to_bytes(8, "big"))
        signed = f"{payload}.{stamp}"
        return f"{signed}.{_b64encode(self._signature(signed))}"

    def load(self, cookie: str | None, now: float | None = None) -> dict[str, Any]:
        """The session in ``cookie``, or ``{}`` when it is missing, forged or expired."""
        if not cookie or cookie.count(".") != 2:
            return {}
        signed, _, signature = cookie.rpartition(".")
        try:
            # Compare the encoded forms: decoding would accept a last character whose unused
            # low bits were changed, so a tampered cookie could still verify.
            expected = _b64encode(self._signature(signed))
            if not hmac.compare_digest(signature.encode(), expected.encode()):
                return {}
            payload, _, stamp = signed.partition(".")
            signed_at = int.from_bytes(_b64decode(stamp), "big")
            limit = self.max_age if self.max_age is not None else 14 * 24 * 60 * 60
            if (time.time() if now is None else now) - signed_at > limit:
                return {}
            data = json.loads(_b64decode(payload))
        except (ValueError, binascii.Error):
            return {}
        return data if isinstance(data, dict) else {}

    def _signature(self, signed: str) -> bytes:
        return hmac.new(self.key, signed.encode("ascii", "replace"), hashlib.sha256).digest()

    # --- the hooks ------------------------------------------------------------------------
    def attach(self, connection: Connection) -> dict[str, Any]:
        session = self.load(connection.cookies.get(self.cookie_name))
        connection.session = session
        return session

    async def dispatch(self, request: Request, call_next: CallNext) -> Response:
        had_cookie = self.cookie_name in request.cookies
        session = self.attach(request)
        response = await call_next(request)
        if session:
            cookie = self.sign(dict(session))
            if len(self.cookie_name) + len(cookie) > BROWSER_COOKIE_LIMIT:
                self._warn_too_large(len(self.cookie_name) + len(cookie))
            response.set_cookie(
                self.cookie_name,
                cookie,
                max_age=self.max_age,
                path=self.path,
                domain=self.domain,
                secure=self.https_only,
                httponly=True,
                samesite=self.same_site,
            )
        elif had_cookie:  # emptied, or the cookie was not valid: drop it
            response.delete_cookie(self.cookie_name, path=self.path, domain=self.domain)
        return response

    async def handshake(self, websocket: WebSocket) -> Response | None:
        self.attach(websocket)
        return None

    def _warn_too_large(self, size: int) -> None:
        if not self.warned_too_large:  # once per middleware: the same session shape repeats
            self.warned_too_large = True
            logger.warning(
                "session cookie %r is %d bytes (name and value); browsers drop cookies over "
                "%d bytes, so this session will be lost: keep ids in the session and the "
                "data on the server",
                self.cookie_name,
                size,
                BROWSER_COOKIE_LIMIT,
            )


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
