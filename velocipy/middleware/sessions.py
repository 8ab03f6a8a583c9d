"""Sessions: a dict per client, kept in a signed cookie (readable, not writable, by the client).

The cookie is ``payload.timestamp.signature``: the JSON payload and the signing time in
URL-safe base64, signed with HMAC-SHA256 under a key derived from ``secret_key``. A cookie
whose signature does not match (tampered, or signed with another key), that is older than
``max_age``, or that does not parse gives an empty session, never an error.

Signed with the standard library (``hashlib``, constant-time ``hmac.compare_digest``) rather
than itsdangerous: one keyed hash and a timestamp is all a session cookie needs, and
``import velocipy`` stays free of a dependency used by this one class. The payload is JSON
written and read by msgspec, as the app's default JSON is.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import logging
import time
from typing import Any, Literal

import msgspec

from velocipy.datastructures import check_header, format_cookie
from velocipy.middleware.base import CallNext, Middleware
from velocipy.requests import Connection, Request
from velocipy.responses import Response
from velocipy.websockets import WebSocket

__all__ = ["SessionMiddleware"]

# Browsers keep a cookie whose name and value together are at most 4096 bytes (RFC 6265
# section 6.1's minimum, and what Chromium and Firefox enforce); a longer one is dropped.
BROWSER_COOKIE_LIMIT = 4096
logger = logging.getLogger("velocipy")
# PERF: msgspec reads and writes the small payload about ten times faster than json does.
_encode_json = msgspec.json.Encoder().encode
_decode_json = msgspec.json.Decoder().decode


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
        self._signer = HmacSha256(self.key)
        self.cookie_name = session_cookie
        self.max_age = max_age
        self.path = path
        self.same_site = same_site
        self.https_only = https_only
        self.domain = domain
        self.warned_too_large = False
        self._set_cookie_around = _cookie_template(
            session_cookie,
            max_age=max_age,
            path=path,
            domain=domain,
            secure=https_only,
            httponly=True,
            samesite=same_site,
        )

    # --- the cookie format ---------------------------------------------------------------
    def sign(self, data: dict[str, Any], now: float | None = None) -> str:
        payload = _b64encode(_encode_json(data))
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
            data = _decode_json(_b64decode(payload))
        except (ValueError, binascii.Error, msgspec.DecodeError):
            return {}
        return data if isinstance(data, dict) else {}

    def _signature(self, signed: str) -> bytes:
        return self._signer.digest(signed.encode("ascii", "replace"))

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
            before, after = self._set_cookie_around
            # the value is base64url and dots, the rest checked once: no per-response check
            response.raw_headers.append(("set-cookie", f"{before}{cookie}{after}"))
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


def _cookie_template(name: str, **attributes: Any) -> tuple[str, str]:
    """What comes before and after the value in this middleware's ``Set-Cookie`` header.

    PERF: the attributes are the same on every response, so the header is written once here
    (and checked once) by the code ``Response.set_cookie`` uses; a response only puts the
    signed value, which needs no quoting, between the two parts.
    """
    from http.cookies import CookieError

    try:
        header = format_cookie(name, _PLACEHOLDER, **attributes)
    except CookieError:  # a reserved word (path, expires...) or a character a name cannot hold
        header = ""
    before, found, after = header.partition(_PLACEHOLDER)
    if not found or before != f"{name}=":
        raise ValueError(
            f"session_cookie {name!r} is not a usable cookie name: use letters, digits and "
            "!#$%&'*+-.^_`|~: and not an attribute's name (path, domain, expires...)"
        )
    check_header("set-cookie", header)  # path and domain: no control characters
    return before, after


_PLACEHOLDER = "VALUE-PLACEHOLDER"


class HmacSha256:
    """HMAC-SHA256 (RFC 2104) under one key, with the key's two padded blocks hashed once.

    PERF: ``hmac.new`` sets the key up again for every message: half of what signing a
    session cookie costs. This keeps the two hashes that follow from the key and copies them
    per message, as the standard library's own pure-Python HMAC does.
    """

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes) -> None:
        if len(key) > _SHA256_BLOCK:
            key = hashlib.sha256(key).digest()
        block = key.ljust(_SHA256_BLOCK, b"\0")
        self._inner = hashlib.sha256(block.translate(_XOR_36))
        self._outer = hashlib.sha256(block.translate(_XOR_5C))

    def digest(self, message: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()


_SHA256_BLOCK = 64
_XOR_36 = bytes(byte ^ 0x36 for byte in range(256))
_XOR_5C = bytes(byte ^ 0x5C for byte in range(256))
# URL-safe base64 (RFC 4648 section 5) through binascii directly: base64's wrappers add a
# Python call and a type check to each of the four codings of a request.
_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")
_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")


def _b64encode(data: bytes) -> str:
    encoded: bytes = binascii.b2a_base64(data, newline=False)
    return encoded.translate(_TO_URLSAFE).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    padded = (text + "=" * (-len(text) % 4)).encode("ascii")
    return binascii.a2b_base64(padded.translate(_FROM_URLSAFE))
