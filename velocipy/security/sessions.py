"""Server-side sessions: a random id in a cookie, the data in a :class:`~velocipy.stores.Store`.

``app.add_middleware(ServerSessionMiddleware, store=RedisStore(url))`` gives every request a
``request.session`` (a :class:`ServerSession`, a dict) and every WebSocket handshake a
read-only one. Unlike the signed-cookie sessions, the client holds only an unguessable id, so
a session can be ended on the server: :meth:`ServerSession.invalidate` at logout makes the id
dead everywhere, and :meth:`ServerSession.rotate` at login gives a new id (an attacker who
planted an id before login never learns the one that is logged in: no session fixation).

* Idle timeout: a session unused for ``idle_timeout`` seconds expires (the store's TTL,
  renewed as the session is used); absolute timeout: it dies ``absolute_timeout`` seconds after
  it was made, however busy.
* The cookie is ``HttpOnly``, ``SameSite=Lax``, and ``Secure`` when the request came over
  HTTPS (directly or, with ``ProxyHeadersMiddleware``, at the proxy); ``secure=True`` forces it.
* The store sees a SHA-256 of the id, never the id: a copy of the store opens no session.
* A store that cannot answer gives ``503`` (fail closed), logged without the id.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import time
from typing import Any, Literal

from velocipy.middleware.base import CallNext, Middleware
from velocipy.requests import Connection, Request
from velocipy.responses import JSONResponse, Response
from velocipy.stores import Store, StoreUnavailable
from velocipy.websockets import WebSocket

__all__ = ["ServerSession", "ServerSessionMiddleware"]

logger = logging.getLogger("velocipy.sessions")


def _new_id() -> str:
    return secrets.token_urlsafe(32)


def _key(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class ServerSession(dict[str, Any]):
    """The session's data (a dict) and its lifecycle: ``rotate()`` at login, ``invalidate()``
    at logout. Changes are saved after the response is made."""

    def __init__(
        self, session_id: str | None, data: dict[str, Any], created: float, touched: float
    ) -> None:
        super().__init__(data)
        self.id = session_id  # None until the session holds something
        self.created = created
        self.touched = touched
        self.dead_ids: list[str] = []  # ids to delete from the store
        self.renewed = False

    @property
    def modified(self) -> bool:
        return self.renewed or bool(self.dead_ids)

    def rotate(self) -> None:
        """A new id for the same data (call it at login): the old id stops working."""
        if self.id is not None:
            self.dead_ids.append(self.id)
        self.id = None
        self.renewed = True

    def invalidate(self) -> None:
        """End the session (call it at logout): its id is dead and its data gone."""
        if self.id is not None:
            self.dead_ids.append(self.id)
        self.id = None
        self.clear()
        self.created = time.time()
        self.renewed = True

    def __repr__(self) -> str:  # never the id
        return f"ServerSession(keys={sorted(self)!r})"

    # dict mutations mark the session for saving
    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        self.renewed = True

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self.renewed = True

    def clear(self) -> None:
        super().clear()
        self.renewed = True

    def pop(self, key: str, *default: Any) -> Any:
        self.renewed = True
        return super().pop(key, *default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        super().update(*args, **kwargs)
        self.renewed = True

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key not in self:
            self.renewed = True
        return super().setdefault(key, default)


class ServerSessionMiddleware(Middleware):
    """``request.session`` kept in ``store`` under an id cookie (see the module description)."""

    def __init__(
        self,
        store: Store,
        *,
        cookie_name: str = "sid",
        idle_timeout: float = 30 * 60,
        absolute_timeout: float = 12 * 60 * 60,
        path: str = "/",
        domain: str | None = None,
        same_site: Literal["lax", "strict", "none"] = "lax",
        secure: bool | None = None,
    ) -> None:
        if idle_timeout <= 0 or absolute_timeout <= 0:
            raise ValueError("idle_timeout and absolute_timeout must be positive (seconds)")
        if same_site == "none" and secure is not True:
            raise ValueError("same_site='none' needs secure=True (browsers require Secure)")
        self.store = store.namespace("session")
        self.cookie_name = cookie_name
        self.idle_timeout = idle_timeout
        self.absolute_timeout = absolute_timeout
        self.path = path
        self.domain = domain
        self.same_site = same_site
        self.secure = secure

    def __repr__(self) -> str:
        return f"ServerSessionMiddleware(cookie_name={self.cookie_name!r})"

    async def load(self, connection: Connection) -> ServerSession:
        """The connection's session (empty and without id when missing, expired or ended)."""
        now = time.time()
        session_id = connection.cookies.get(self.cookie_name)
        if session_id:
            raw = await self.store.get(_key(session_id))
            if raw is not None:
                try:
                    record = json.loads(raw)
                    created, touched, data = record["c"], record["t"], record["d"]
                except (ValueError, KeyError, TypeError):
                    record = None
                if (
                    record is not None
                    and isinstance(data, dict)
                    and now - created < self.absolute_timeout
                    and now - touched < self.idle_timeout
                ):
                    return ServerSession(session_id, data, created, touched)
        return ServerSession(None, {}, now, now)

    async def save(self, session: ServerSession) -> str | None:
        """Write the session if it changed or its idle clock needs renewing; the new id, if any."""
        for dead in session.dead_ids:
            await self.store.delete(_key(dead))
        session.dead_ids.clear()
        now = time.time()
        remaining = self.absolute_timeout - (now - session.created)
        renew = now - session.touched > self.idle_timeout / 10
        if not session or remaining <= 0 or not (session.renewed or renew):
            return None
        made = session.id is None
        if made:
            session.id = _new_id()
        assert session.id is not None
        record = json.dumps({"c": session.created, "t": now, "d": dict(session)})
        await self.store.set(_key(session.id), record.encode(), min(self.idle_timeout, remaining))
        return session.id if made else None

    async def dispatch(self, request: Request, call_next: CallNext) -> Response:
        try:
            session = await self.load(request)
        except StoreUnavailable as exc:
            return self._unavailable(exc)
        had_id = session.id is not None or self.cookie_name in request.cookies
        request.session = session
        response = await call_next(request)
        try:
            new_id = await self.save(session)
        except StoreUnavailable as exc:
            return self._unavailable(exc)
        if new_id is not None:
            response.set_cookie(
                self.cookie_name,
                new_id,
                path=self.path,
                domain=self.domain,
                secure=self.secure if self.secure is not None else request.url.scheme == "https",
                httponly=True,
                samesite=self.same_site,
            )
        elif had_id and session.id is None:  # ended, expired or unknown: drop the cookie
            response.delete_cookie(self.cookie_name, path=self.path, domain=self.domain)
        return response

    async def handshake(self, websocket: WebSocket) -> Response | None:
        try:
            websocket.session = await self.load(websocket)
        except StoreUnavailable as exc:
            return self._unavailable(exc)
        return None

    @staticmethod
    def _unavailable(exc: StoreUnavailable) -> Response:
        logger.warning("session store unavailable: %s", type(exc.__cause__ or exc).__name__)
        return JSONResponse({"detail": "Session store unavailable: try again shortly"}, 503)
