"""Route decorators shared by the app and ``APIRouter``, and ``APIRouter`` itself."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypedDict, TypeVar, Unpack

if TYPE_CHECKING:
    from velocipy.caching import ResponseCache
    from velocipy.dependencies import Depends
    from velocipy.ratelimit import RateLimit
    from velocipy.requests import Request
    from velocipy.security.guards import Guard

__all__ = ["APIRouter", "RouteDecorators", "RouteOptions", "check_route_options"]

F = TypeVar("F", bound=Callable[..., Any])
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"})


class RouteOptions(TypedDict, total=False):
    """What a route may say beyond its path: dependencies, and how OpenAPI describes it."""

    dependencies: Sequence[Depends]  # run before the handler, values unused (auth checks...)
    guards: Sequence[Guard]  # decide before the handler: False -> 403 (velocipy.security.guards)
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
    rate_limit: RateLimit | Sequence[RateLimit]  # HTTP: requests; WebSocket: handshakes
    message_rate_limit: RateLimit  # WebSocket: messages per connection (token bucket; 1008)
    cache: ResponseCache  # GET/HEAD routes: answer from the cache (velocipy/caching.py)
    etag: bool | Callable[[Request], Any]  # weak ETag from the body, or from a version function
    middleware: Sequence[Any]  # this route's own: Middleware (or class) or async functions


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
    outer_dependencies: Sequence[Depends],
    outer_tags: Sequence[str],
    options: RouteOptions,
    outer_guards: Sequence[Guard] = (),
) -> RouteOptions:
    """``options`` with an enclosing router's (or app's) dependencies, guards and tags first."""
    if not outer_dependencies and not outer_tags and not outer_guards:
        return options
    merged = RouteOptions(**options)
    merged["dependencies"] = (*outer_dependencies, *options.get("dependencies", ()))
    if outer_guards or "guards" in options:
        merged["guards"] = (*outer_guards, *options.get("guards", ()))
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
        rate_limit: RateLimit | Sequence[RateLimit] = (),
        guards: Sequence[Guard] = (),
        middleware: Sequence[Any] = (),
    ) -> None:
        if prefix and (not prefix.startswith("/") or prefix.endswith("/")):
            raise ValueError(f"router prefix {prefix!r} must start with '/' and not end with '/'")
        self.prefix = prefix
        self.dependencies = tuple(dependencies)
        self.tags = tuple(tags)
        self.guards = tuple(guards)
        #: Run around this router's routes only (after routing), outside each route's own.
        self.middleware = tuple(middleware)
        self.definitions: list[RouteDefinition] = []
        self.rate_limits: tuple[RateLimit, ...] = ()
        if rate_limit:  # one budget for all of this router's routes (unless a limit is named)
            from velocipy.ratelimit import limits_of

            scope = f"router {prefix or '/'} {id(self):x}"
            self.rate_limits = tuple(limit.named(scope) for limit in limits_of(rate_limit))

    def _with_middleware(self, options: RouteOptions) -> RouteOptions:
        if not self.middleware:
            return options
        middleware = (*self.middleware, *options.get("middleware", ()))
        return RouteOptions(**{**options, "middleware": middleware})

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
        options = self._with_middleware(
            self._with_rate_limits(
                merged_options(self.dependencies, self.tags, options, self.guards)
            )
        )
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
        options = self._with_middleware(
            self._with_rate_limits(
                merged_options(self.dependencies, self.tags, options, self.guards)
            )
        )
        self.definitions.append(
            RouteDefinition("websocket", self.prefix + path, handler, name=name, options=options)
        )

    def _with_rate_limits(self, options: RouteOptions) -> RouteOptions:
        if not self.rate_limits:
            return options
        from velocipy.ratelimit import limits_of

        merged = RouteOptions(**options)
        merged["rate_limit"] = (*self.rate_limits, *limits_of(options.get("rate_limit", ())))
        return merged

    def include_router(
        self,
        router: APIRouter,
        *,
        prefix: str = "",
        dependencies: Sequence[Depends] = (),
        tags: Sequence[str] = (),
        guards: Sequence[Guard] = (),
    ) -> None:
        """Nest another router's routes under this one."""
        register_definitions(self, router.definitions, prefix, dependencies, tags, guards)


def register_definitions(
    target: RouteDecorators,
    definitions: Sequence[RouteDefinition],
    prefix: str,
    dependencies: Sequence[Depends] = (),
    tags: Sequence[str] = (),
    guards: Sequence[Guard] = (),
) -> None:
    for definition in definitions:
        path = prefix + definition.path
        options = merged_options(dependencies, tags, definition.options, guards)
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
