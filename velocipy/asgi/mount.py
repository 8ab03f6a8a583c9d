"""ASGI: hand a connection to a mounted ASGI application (the server's own receive and send)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from velocipy.mounts import CONNECTION_KEY

if TYPE_CHECKING:
    from velocipy.asgi.http import ASGIRequest
    from velocipy.mounts import ASGIAppResponse, MountedASGIApp
    from velocipy.requests import Connection


def mounted_scope(
    scope: dict[str, Any], mount: MountedASGIApp, connection: Connection
) -> dict[str, Any]:
    """The scope a mounted app sees: ``root_path`` grows by the mount's prefix, ``path``
    stays the full path (as uvicorn's ``--root-path`` and Starlette's ``Mount`` give it)."""
    return {
        **scope,
        "path": mount.scope_path(scope["path"]),
        "root_path": scope.get("root_path", "") + mount.prefix,
        "state": mount.scope_state(),
        CONNECTION_KEY: connection,
    }


async def forward_http(response: ASGIAppResponse, request: ASGIRequest, send: Any) -> None:
    """Run the mounted app on this request; our middleware's headers join its own."""
    receive = request._receive
    body = getattr(request, "_body", None)
    if body is not None:  # middleware read the body already: the app gets it again
        receive = _replay(body, receive)
    extra = [(name.encode("latin-1"), value.encode()) for name, value in response.raw_headers]
    if extra:
        send = _adding_headers(send, extra)
    scope = mounted_scope(request._scope, response.mount, request)
    await response.mount.app(scope, receive, send)


def _replay(body: bytes, receive: Any) -> Any:
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replayed() -> Any:
        return pending.pop() if pending else await receive()

    return replayed


def _adding_headers(send: Any, extra: list[tuple[bytes, bytes]]) -> Any:
    async def send_with_headers(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", ()), *extra]}
        await send(message)

    return send_with_headers
