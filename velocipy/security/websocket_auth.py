"""WebSocket authentication that works on ASGI and RSGI alike.

Browsers cannot set headers on a WebSocket, and RSGI cannot send a subprotocol back, so the
"token in ``Sec-WebSocket-Protocol``" trick is out. Two patterns work everywhere:

* **Tickets** (:class:`WebSocketTickets`): an authenticated HTTP route issues a short-lived,
  single-use ticket; the page opens ``/ws?ticket=...``; the route's dependency redeems it
  before the handshake is accepted, so a missing, expired or reused ticket refuses the handshake
  (``403``). A ticket in a URL may be logged by a proxy, which is why it dies on first use and
  after ``ttl`` seconds.
* **First message** (:func:`authenticate_first_message`): accept, then require the first
  message to carry the credentials within ``timeout`` seconds; otherwise close with 1008.

Either way the user is ``websocket.state.user`` for the handler and for Channels code that
receives the socket.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import secrets
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from velocipy.exceptions import HTTPException, WebSocketException
from velocipy.json import JSONDecodeError
from velocipy.stores import Store
from velocipy.websockets import WebSocket

__all__ = ["WebSocketTickets", "authenticate_first_message"]

T = TypeVar("T")
CLOSE_POLICY_VIOLATION = 1008


class WebSocketTickets:
    """Issue tickets with :meth:`issue` (from an authenticated HTTP route) and redeem them as a
    dependency of the WebSocket route: ``user: Annotated[dict, Depends(tickets)]``.

    With a memory store tickets work within one worker; give a Redis store when several
    workers or machines serve the app.
    """

    def __init__(self, store: Store, *, ttl: float = 30.0, query_param: str = "ticket") -> None:
        if ttl <= 0:
            raise ValueError("ttl must be positive (seconds)")
        self.store = store.namespace("ws-ticket")
        self.ttl = ttl
        self.query_param = query_param

    def __repr__(self) -> str:
        return f"WebSocketTickets(ttl={self.ttl!r})"

    async def issue(self, user: Any) -> str:
        """A new ticket for ``user`` (anything JSON can hold: a name, a dict of claims)."""
        ticket = secrets.token_urlsafe(32)
        key = hashlib.sha256(ticket.encode()).hexdigest()
        await self.store.set(key, json.dumps(user).encode(), self.ttl)
        return ticket

    async def redeem(self, ticket: str) -> Any:
        """The user of ``ticket``, once; ``LookupError`` if unknown, expired or already used."""
        key = hashlib.sha256(ticket.encode()).hexdigest()
        raw = await self.store.get(key)
        # Only the caller whose delete removed the key wins: a ticket serves one socket even
        # when two handshakes race with it.
        if raw is None or not await self.store.delete(key):
            raise LookupError("unknown, expired or already used ticket")
        return json.loads(raw)

    async def __call__(self, websocket: WebSocket) -> Any:
        ticket = websocket.query_params.get(self.query_param)
        if not ticket:
            raise HTTPException(403, f"WebSocket refused: no {self.query_param} in the URL")
        try:
            user = await self.redeem(ticket)
        except LookupError:
            raise HTTPException(403, "WebSocket refused: the ticket is not valid") from None
        websocket.state.user = user  # type: ignore[attr-defined]
        return user


async def authenticate_first_message(
    websocket: WebSocket,
    verify: Callable[[Any], Awaitable[T | None] | T | None],
    *,
    timeout: float = 5.0,
) -> T:
    """Accept, read the first (JSON) message within ``timeout`` seconds, ``verify`` it.

    ``verify(message)`` returns the user, or ``None`` (or raises ``ValueError``/``LookupError``)
    to refuse. A refusal or a silent client is closed with 1008 and a short reason (RSGI sends
    no close code: there the client sees the connection end). The user is also stored as
    ``websocket.state.user``.
    """
    if not websocket.accepted:
        await websocket.accept()
    try:
        async with asyncio.timeout(timeout):
            text = await websocket.receive_text()
    except TimeoutError:
        raise WebSocketException(
            CLOSE_POLICY_VIOLATION, "authentication timed out: send credentials first"
        ) from None
    try:  # not receive_json: the route's receives= type is for the messages after this one
        message = websocket.app.json.decode(text)
    except JSONDecodeError:
        raise WebSocketException(
            CLOSE_POLICY_VIOLATION, "authentication failed: the first message must be JSON"
        ) from None
    try:
        result = verify(message)
        user = await result if inspect.isawaitable(result) else result
    except (ValueError, LookupError):
        user = None
    if user is None:
        raise WebSocketException(CLOSE_POLICY_VIOLATION, "authentication failed")
    websocket.state.user = user  # type: ignore[attr-defined]
    return user
