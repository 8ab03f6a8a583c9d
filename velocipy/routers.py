"""Route decorators shared by the app and ``APIRouter``, and ``APIRouter`` itself."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypedDict, TypeVar, Unpack

if TYPE_CHECKING:
    from velocipy.dependencies import Depends

__all__ = ["APIRouter", "RouteDecorators", "RouteOptions", "check_route_options"]

F = TypeVar("F", bound=Callable[..., Any])
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"})


class RouteOptions(TypedDict, total=False):
    """What a route may say beyond its path: dependencies, and how OpenAPI describes it."""

    dependencies: Sequence[Depends]  # run before the handler, values unused (auth checks...)
    tags: Sequence[str]
    summary: str  # default: the docstring's first line
    description: str  # default: the rest of the docstring
    response_model: Any  # default: the return annotation
    responses: Mapping[int, Any]  # more status codes: {404: {"description": ...}} or a type
    deprecated: bool
    include_in_schema: bool
    operation_id: str
    receives: Any  # WebSocket routes: the message type receive_json() validates (AsyncAPI too)
    sends: Any  # WebSocket routes: the message type the handler sends (AsyncAPI)


def check_route_options(
    handler: Callable[..., Any], options: Mapping[str, Any], *, websocket: bool = False
) -> None:
    """Refuse an unknown keyword (``status_cod=201``) where the route is registered; the
    accepted keys are ``RouteOptions``'s own, whoever adds to it."""
    from velocipy.registration import check_options

    allowed = RouteOptions.__required_keys__ | RouteOptions.__optional_keys__
    keywords = ("name",) if websocket else ("name", "status_code")
    check_options(handler, options, allowed, keywords)


def merged_options(
    outer_dependencies: Sequence[Depends], outer_tags: Sequence[str], options: RouteOptions
) -> RouteOptions:
    """``options`` with an enclosing router's (or app's) dependencies and tags put first."""
    if not outer_dependencies and not outer_tags:
        return options
    merged = RouteOptions(**options)
    merged["dependencies"] = (*outer_dependencies, *options.get("dependencies", ()))
    merged["tags"] = (*outer_tags, *(t for t in options.get("tags", ()) if t not in outer_tags))
    return merged


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
        **options: Unpack[RouteOptions],
    ) -> None:
        raise NotImplementedError

    def add_websocket_route(
        self,
        path: str,
        handler: Callable[..., Any],
        *,
        name: str | None = None,
        **options: Unpack[RouteOptions],
    ) -> None:
        raise NotImplementedError

    def route(
        self,
        path: str,
        methods: Sequence[str] = ("GET",),
        *,
        name: str | None = None,
        status_code: int | None = None,
        **options: Unpack[RouteOptions],
    ) -> Callable[[F], F]:
        """Register the decorated function for ``methods`` on ``path``."""

        def decorator(handler: F) -> F:
            self.add_route(path, handler, methods, name=name, status_code=status_code, **options)
            return handler

        return decorator

    def get(
        self,
        path: str,
        *,
        name: str | None = None,
        status_code: int | None = None,
        **options: Unpack[RouteOptions],
    ) -> Callable[[F], F]:
        """A GET route (HEAD is answered too, without the body)."""
        return self.route(path, ("GET",), name=name, status_code=status_code, **options)

    def post(
        self,
        path: str,
        *,
        name: str | None = None,
        status_code: int | None = None,
        **options: Unpack[RouteOptions],
    ) -> Callable[[F], F]:
        return self.route(path, ("POST",), name=name, status_code=status_code, **options)

    def put(
        self,
        path: str,
        *,
        name: str | None = None,
        status_code: int | None = None,
        **options: Unpack[RouteOptions],
    ) -> Callable[[F], F]:
        return self.route(path, ("PUT",), name=name, status_code=status_code, **options)

    def patch(
        self,
        path: str,
        *,
        name: str | None = None,
        status_code: int | None = None,
        **options: Unpack[RouteOptions],
    ) -> Callable[[F], F]:
        return self.route(path, ("PATCH",), name=name, status_code=status_code, **options)

    def delete(
        self,
        path: str,
        *,
        name: str | None = None,
        status_code: int | None = None,
        **options: Unpack[RouteOptions],
    ) -> Callable[[F], F]:
        return self.route(path, ("DELETE",), name=name, status_code=status_code, **options)

    def head(
        self,
        path: str,
        *,
        name: str | None = None,
        status_code: int | None = None,
        **options: Unpack[RouteOptions],
    ) -> Callable[[F], F]:
        return self.route(path, ("HEAD",), name=name, status_code=status_code, **options)

    def options(
        self,
        path: str,
        *,
        name: str | None = None,
        status_code: int | None = None,
        **options: Unpack[RouteOptions],
    ) -> Callable[[F], F]:
        return self.route(path, ("OPTIONS",), name=name, status_code=status_code, **options)

    def websocket(
        self, path: str, *, name: str | None = None, **options: Unpack[RouteOptions]
    ) -> Callable[[F], F]:
        """A WebSocket route; the handler takes one ``WebSocket`` argument."""

        def decorator(handler: F) -> F:
            self.add_websocket_route(path, handler, name=name, **options)
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
    options: RouteOptions = field(default_factory=lambda: RouteOptions())


class APIRouter(RouteDecorators):
    """A group of routes under a common ``prefix``, added to an app with ``include_router``."""

    def __init__(
        self,
        prefix: str = "",
        *,
        dependencies: Sequence[Depends] = (),
        tags: Sequence[str] = (),
    ) -> None:
        if prefix and (not prefix.startswith("/") or prefix.endswith("/")):
            raise ValueError(f"router prefix {prefix!r} must start with '/' and not end with '/'")
        self.prefix = prefix
        self.dependencies = tuple(dependencies)
        self.tags = tuple(tags)
        self.definitions: list[RouteDefinition] = []

    def add_route(
        self,
        path: str,
        handler: Callable[..., Any],
        methods: Sequence[str],
        *,
        name: str | None = None,
        status_code: int | None = None,
        **options: Unpack[RouteOptions],
    ) -> None:
        check_route_options(handler, options)
        options = merged_options(self.dependencies, self.tags, options)
        self.definitions.append(
            RouteDefinition(
                "http", self.prefix + path, handler, tuple(methods), name, status_code, options
            )
        )

    def add_websocket_route(
        self,
        path: str,
        handler: Callable[..., Any],
        *,
        name: str | None = None,
        **options: Unpack[RouteOptions],
    ) -> None:
        check_route_options(handler, options, websocket=True)
        options = merged_options(self.dependencies, self.tags, options)
        self.definitions.append(
            RouteDefinition("websocket", self.prefix + path, handler, name=name, options=options)
        )

    def include_router(
        self,
        router: APIRouter,
        *,
        prefix: str = "",
        dependencies: Sequence[Depends] = (),
        tags: Sequence[str] = (),
    ) -> None:
        """Nest another router's routes under this one."""
        register_definitions(self, router.definitions, prefix, dependencies, tags)


def register_definitions(
    target: RouteDecorators,
    definitions: Sequence[RouteDefinition],
    prefix: str,
    dependencies: Sequence[Depends] = (),
    tags: Sequence[str] = (),
) -> None:
    for definition in definitions:
        path = prefix + definition.path
        options = merged_options(dependencies, tags, definition.options)
        if definition.kind == "websocket":
            target.add_websocket_route(path, definition.handler, name=definition.name, **options)
        else:
            target.add_route(
                path,
                definition.handler,
                definition.methods,
                name=definition.name,
                status_code=definition.status_code,
                **options,
            )
