"""Route decorators shared by the app and ``APIRouter``, and ``APIRouter`` itself."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = ["APIRouter", "RouteDecorators"]

F = TypeVar("F", bound=Callable[..., Any])
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"})


class RouteDecorators:
    """``get``/``post``/.../``route``/``websocket`` on top of two registration methods."""

    def add_route(
        self,
        path: str,
        handler: Callable[..., Any],
        methods: Sequence[str],
        *,
        name: str | None = None,
        status_code: int | None = None,
    ) -> None:
        raise NotImplementedError

    def add_websocket_route(
        self, path: str, handler: Callable[..., Any], *, name: str | None = None
    ) -> None:
        raise NotImplementedError

    def route(
        self,
        path: str,
        methods: Sequence[str] = ("GET",),
        *,
        name: str | None = None,
        status_code: int | None = None,
    ) -> Callable[[F], F]:
        """Register the decorated function for ``methods`` on ``path``."""

        def decorator(handler: F) -> F:
            self.add_route(path, handler, methods, name=name, status_code=status_code)
            return handler

        return decorator

    def get(
        self, path: str, *, name: str | None = None, status_code: int | None = None
    ) -> Callable[[F], F]:
        """A GET route (HEAD is answered too, without the body)."""
        return self.route(path, ("GET",), name=name, status_code=status_code)

    def post(
        self, path: str, *, name: str | None = None, status_code: int | None = None
    ) -> Callable[[F], F]:
        return self.route(path, ("POST",), name=name, status_code=status_code)

    def put(
        self, path: str, *, name: str | None = None, status_code: int | None = None
    ) -> Callable[[F], F]:
        return self.route(path, ("PUT",), name=name, status_code=status_code)

    def patch(
        self, path: str, *, name: str | None = None, status_code: int | None = None
    ) -> Callable[[F], F]:
        return self.route(path, ("PATCH",), name=name, status_code=status_code)

    def delete(
        self, path: str, *, name: str | None = None, status_code: int | None = None
    ) -> Callable[[F], F]:
        return self.route(path, ("DELETE",), name=name, status_code=status_code)

    def head(
        self, path: str, *, name: str | None = None, status_code: int | None = None
    ) -> Callable[[F], F]:
        return self.route(path, ("HEAD",), name=name, status_code=status_code)

    def options(
        self, path: str, *, name: str | None = None, status_code: int | None = None
    ) -> Callable[[F], F]:
        return self.route(path, ("OPTIONS",), name=name, status_code=status_code)

    def websocket(self, path: str, *, name: str | None = None) -> Callable[[F], F]:
        """A WebSocket route; the handler takes one ``WebSocket`` argument."""

        def decorator(handler: F) -> F:
            self.add_websocket_route(path, handler, name=name)
            return handler

        return decorator


@dataclass(frozen=True)
class RouteDefinition:
    """A route recorded by an ``APIRouter`` until an app includes it."""

    kind: str  # "http" or "websocket"
    path: str
    handler: Callable[..., Any]
    methods: tuple[str, ...] = ()
    name: str | None = None
    status_code: int | None = None


class APIRouter(RouteDecorators):
    """A group of routes under a common ``prefix``, added to an app with ``include_router``."""

    def __init__(self, prefix: str = "") -> None:
        if prefix and (not prefix.startswith("/") or prefix.endswith("/")):
            raise ValueError(f"router prefix {prefix!r} must start with '/' and not end with '/'")
        self.prefix = prefix
        self.definitions: list[RouteDefinition] = []

    def add_route(
        self,
        path: str,
        handler: Callable[..., Any],
        methods: Sequence[str],
        *,
        name: str | None = None,
        status_code: int | None = None,
    ) -> None:
        self.definitions.append(
            RouteDefinition("http", self.prefix + path, handler, tuple(methods), name, status_code)
        )

    def add_websocket_route(
        self, path: str, handler: Callable[..., Any], *, name: str | None = None
    ) -> None:
        self.definitions.append(
            RouteDefinition("websocket", self.prefix + path, handler, name=name)
        )

    def include_router(self, router: APIRouter, *, prefix: str = "") -> None:
        """Nest another router's routes under this one."""
        register_definitions(self, router.definitions, prefix)


def register_definitions(
    target: RouteDecorators, definitions: Sequence[RouteDefinition], prefix: str
) -> None:
    for definition in definitions:
        path = prefix + definition.path
        if definition.kind == "websocket":
            target.add_websocket_route(path, definition.handler, name=definition.name)
        else:
            target.add_route(
                path,
                definition.handler,
                definition.methods,
                name=definition.name,
                status_code=definition.status_code,
            )
