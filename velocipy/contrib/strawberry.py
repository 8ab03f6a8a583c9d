"""Strawberry GraphQL on VelociPy: ``app.mount("/graphql", GraphQL(schema))``.

:class:`GraphQL` is Strawberry's own ASGI app (queries and mutations over HTTP, subscriptions
over graphql-transport-ws and graphql-ws), mounted like any ASGI app, so it runs on uvicorn,
granian ASGI and granian RSGI. Its resolvers' ``info.context`` also holds VelociPy's side of
the connection: ``connection`` (the VelociPy ``Request`` or ``WebSocket``: headers, cookies,
session, ``state``), ``app`` (the VelociPy app: ``app.state``, Channels kept there), and what
``context_getter`` returns: an ``async def`` whose parameters are bound like a handler's
(``Depends``, headers, cookies, query), planned once per kind of connection. A ``yield``
provider's teardown runs when the GraphQL request (or subscription connection) ended; an
``HTTPException`` from a provider answers the request (a 401, say) or refuses the WebSocket.

Needs the ``graphql`` extra (``pip install -e '.[graphql]'`` in a clone of VelociPy).
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from typing import Any

from velocipy.dependencies import RoutePlan
from velocipy.exceptions import HTTPException
from velocipy.mounts import CONNECTION_KEY
from velocipy.routing import PathPattern
from velocipy.teardown import close_entered
from velocipy.websockets import WebSocket

try:
    from strawberry.asgi import GraphQL as StrawberryGraphQL
except ImportError as exc:  # pragma: no cover - the message is the point
    raise ImportError(
        "velocipy.contrib.strawberry needs Strawberry GraphQL: install the graphql extra "
        "(pip install -e '.[graphql]' in a clone of VelociPy, or add strawberry-graphql "
        "to your project)"
    ) from exc

__all__ = ["GraphQL"]

_ENTERED = "velocipy.entered"  # the scope key of the yield providers to close at the end


class GraphQL(StrawberryGraphQL[dict[str, Any], Any]):
    """Strawberry's ASGI GraphQL app, with VelociPy's request, app and dependencies in the
    context. Override ``get_context`` and call ``super()`` to add keys of your own."""

    def __init__(
        self,
        schema: Any,
        *,
        context_getter: Callable[..., Any] | None = None,
        **options: Any,
    ) -> None:
        super().__init__(schema, **options)
        if context_getter is not None and not inspect.iscoroutinefunction(context_getter):
            raise TypeError("context_getter must be an async function")
        self.context_getter = context_getter
        self._plans: dict[bool, RoutePlan] = {}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self.context_getter is None or scope["type"] not in ("http", "websocket"):
            await super().__call__(scope, receive, send)
            return
        entered: list[Any] = []
        try:
            await super().__call__({**scope, _ENTERED: entered}, receive, send)
        except HTTPException as exc:  # a provider refused the request
            await _refuse(scope, send, exc)
        finally:
            await close_entered(entered)

    async def get_context(self, request: Any, response: Any) -> dict[str, Any]:
        connection = request.scope.get(CONNECTION_KEY)
        context = {
            "request": request,  # Strawberry's (Starlette's) request or WebSocket
            "response": response,
            "connection": connection,
            "app": getattr(connection, "app", None),
        }
        if self.context_getter is not None and connection is not None:
            plan = self._plan_for(connection)
            kwargs, _ = await plan.solve(connection, request.scope[_ENTERED])
            context.update(await self.context_getter(**kwargs))
        return context

    def _plan_for(self, connection: Any) -> RoutePlan:
        websocket = isinstance(connection, WebSocket)
        plan = self._plans.get(websocket)
        if plan is None:
            assert self.context_getter is not None
            pattern = PathPattern.parse("/")
            plan = RoutePlan(self.context_getter, pattern, connection.app.json, websocket=websocket)
            self._plans[websocket] = plan
        return plan


async def _refuse(scope: Any, send: Any, exc: HTTPException) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008})  # before accept: a 403
        return
    body = json.dumps({"detail": exc.detail}, default=str).encode()
    headers = [(b"content-type", b"application/json")]
    headers += [(k.encode("latin-1"), v.encode()) for k, v in (exc.headers or {}).items()]
    await send({"type": "http.response.start", "status": exc.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": body})
