"""What dispatch runs for a registered HTTP route, built at registration.

``compile_endpoint`` (velocipy/params.py) binds the handler's parameters; around the compiled
endpoint come the route's response cache, its rate limit and its own middleware, each only when
the route asks for it. Route hooks (the development loop watch, Server-Timing) see the handler
before it is compiled and the compiled endpoint before anything wraps it, so a route of an app
without hooks runs the handler as written. A hook added after routes exist has every route
built again (:func:`add_route_hook`): all of it happens at registration, never per request.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from velocipy.middleware.chain import build_route_endpoint
from velocipy.params import Endpoint, compile_endpoint
from velocipy.routing import PathPattern

if TYPE_CHECKING:
    from velocipy.application import Application
    from velocipy.dependencies import Depends
    from velocipy.routers import RouteOptions

__all__ = [
    "HTTPRegistration",
    "RouteHook",
    "add_route_hook",
    "build_http_endpoint",
    "run_before",
]


class RouteHook:
    """Sees every HTTP route of an app as it is built; both steps do nothing unless overridden."""

    def wrap_handler(self, handler: Callable[..., Any]) -> Callable[..., Any]:
        """The handler the route compiles instead of ``handler`` (keep its signature:
        ``functools.wraps``, and ``async def`` for an ``async def``)."""
        return handler

    def compiled(self, endpoint: Endpoint) -> None:
        """Called with the compiled endpoint before the route's cache, rate limit and
        middleware wrap it (its ``invoke`` may be replaced here)."""


@dataclass(frozen=True, slots=True)
class HTTPRegistration:
    """One ``add_route`` call, kept so the route can be built again."""

    path: str
    handler: Callable[..., Any]
    methods: tuple[str, ...]  # as registered: GET's implicit HEAD is not among them
    status_code: int | None
    options: RouteOptions  # merged with the app's and the routers' dependencies and guards


def build_http_endpoint(
    app: Application, registration: HTTPRegistration
) -> tuple[Endpoint, PathPattern]:
    """The endpoint dispatch runs for ``registration`` and the path pattern typed by it."""
    handler = registration.handler
    for hook in app._route_hooks:
        handler = hook.wrap_handler(handler)
    options = registration.options
    endpoint, pattern = compile_endpoint(
        handler,
        PathPattern.parse(registration.path),
        app.json,
        registration.status_code,
        run_before(options),
        app.dependency_overrides,
    )
    for hook in app._route_hooks:
        hook.compiled(endpoint)
    if options.get("cache") is not None or options.get("etag"):
        from velocipy.caching import cached_endpoint

        endpoint = cached_endpoint(endpoint, registration.methods, options, app.json)
    if options.get("rate_limit"):
        from velocipy.ratelimit import limited_endpoint, limits_of

        scope = f"{','.join(registration.methods)} {registration.path}"
        endpoint = limited_endpoint(endpoint, limits_of(options["rate_limit"]), scope)
    if options.get("middleware"):  # the route's (and its routers') own middleware
        endpoint = build_route_endpoint(app, endpoint, options["middleware"])
    return endpoint, pattern


def add_route_hook(app: Application, hook: RouteHook) -> None:
    """Build every route registered from now on with ``hook``, and those registered already."""
    app._route_hooks.append(hook)
    for index, (registration, old) in enumerate(app._http_registrations):
        new, pattern = build_http_endpoint(app, registration)
        entry = app._http.entry_for(pattern)
        for method, endpoint in entry.endpoints.items():
            if endpoint is old:  # its methods, and HEAD when it came with GET
                entry.endpoints[method] = new
        app._routes[:] = [
            route._replace(compiled=new) if route.compiled is old else route
            for route in app._routes
        ]
        app._http_registrations[index] = (registration, new)


def run_before(options: RouteOptions) -> tuple[Depends, ...]:
    """A route's dependencies, then its guards (as dependencies): for HTTP and WebSocket routes."""
    dependencies = tuple(options.get("dependencies", ()))
    guards = options.get("guards", ())
    if not guards:
        return dependencies
    from velocipy.security.guards import guard_dependencies

    return (*dependencies, *guard_dependencies(guards))
