"""Strawberry GraphQL on VelociPy: ``app.mount("/graphql", GraphQL(schema))``.

:class:`GraphQL` is Strawberry's own ASGI app (queries and mutations over HTTP, subscriptions
over graphql-transport-ws and graphql-ws), mounted like any ASGI app, so it runs on uvicorn,
granian ASGI and granian RSGI. Its resolvers' ``info.context`` also holds VelociPy's side of
the connection: ``connection`` (the VelociPy ``Request`` or ``WebSocket``: headers, cookies,
session, ``state``), and ``app`` (the VelociPy app: ``app.state``, Channels kept there).

Needs the ``graphql`` extra (``pip install -e '.[graphql]'`` in a clone of VelociPy).
"""

from __future__ import annotations

from typing import Any

from velocipy.mounts import CONNECTION_KEY

try:
    from strawberry.asgi import GraphQL as StrawberryGraphQL
except ImportError as exc:  # pragma: no cover - the message is the point
    raise ImportError(
        "velocipy.contrib.strawberry needs Strawberry GraphQL: install the graphql extra "
        "(pip install -e '.[graphql]' in a clone of VelociPy, or add strawberry-graphql "
        "to your project)"
    ) from exc

__all__ = ["GraphQL"]


class GraphQL(StrawberryGraphQL[dict[str, Any], Any]):
    """Strawberry's ASGI GraphQL app, with VelociPy's request and app in the context.

    Override ``get_context`` and call ``super()`` to add your own keys.
    """

    async def get_context(self, request: Any, response: Any) -> dict[str, Any]:
        connection = request.scope.get(CONNECTION_KEY)
        return {
            "request": request,  # Strawberry's (Starlette's) request or WebSocket
            "response": response,
            "connection": connection,
            "app": getattr(connection, "app", None),
        }
