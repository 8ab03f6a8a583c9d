"""Dependencies: ``Depends(provider)`` parameters, planned once when a route is registered.

A route's dependency graph (the handler, its providers, their providers...) is read at
registration into a flat list of steps in call order; each provider appears once unless it
asked for ``use_cache=False``. A cycle, a parameter that cannot be bound, a body on a WebSocket
are ``TypeError`` at startup. Per request the endpoint walks the list: extract each step's
parameters, call the provider, keep its value for the steps after it. Form fields, uploads and
``BackgroundTasks`` bind here as they do on routes without dependencies (one parsed form and one
``BackgroundTasks`` per request, shared by every step that asks).

Providers may be ``async def``, ``def`` (run in a worker thread, like handlers), or generators
(``yield`` once; the code after ``yield`` is the teardown). Teardown runs after the response
was sent, through ``Response.background``; when the handler (or a later provider) raises, the
exception is thrown into each generator, newest first, before the error is answered.

Routes whose handler takes no ``Depends`` and has no router/app dependencies never come here:
they compile to exactly the endpoint they had before (see ``params.compile_endpoint``). The
endpoints of those that do are in ``dependency_endpoints``; ``app.dependency_overrides`` is in
``dependency_overrides``.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import (
    AsyncGenerator,
    Awaitable,
    Callable,
    Generator,
    Sequence,
)
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, TypeAlias, get_origin

from velocipy.appscope import AppScope
from velocipy.background import BackgroundTasks
from velocipy.every_error import body_errors
from velocipy.exceptions import RequestValidationError
from velocipy.form_params import FormBinder, FormField, form_binder, is_upload_annotation
from velocipy.json import JSONAdapter
from velocipy.params import (
    Param,
    _body_extractor,
    _is_body_type,
    _path_extractor,
    _scalar_extractor,
    _split_annotated,
    _unwrap_optional,
    parameter_hints,
    validation_errors,
)
from velocipy.registration import check_query_parameter
from velocipy.requests import Connection, Request
from velocipy.routing import PathPattern
from velocipy.teardown import next_of
from velocipy.websockets import WebSocket

__all__ = ["Depends", "RoutePlan", "binds_more_than_the_websocket", "uses_dependencies"]

_REQUIRED: Any = inspect.Parameter.empty
Extract: TypeAlias = Callable[[Any, list[dict[str, Any]]], Any]
BodyExtract: TypeAlias = Callable[[Any], Awaitable[Any]]


DependencyScope: TypeAlias = Literal["request", "function", "app"]
SCOPES = ("request", "function", "app")


class Depends:
    """A parameter whose value a provider computes: ``Annotated[DB, Depends(get_db)]``.

    ``Depends()`` without a provider uses the annotated type itself (a class) as the provider.
    With ``use_cache=False`` the provider runs again for every parameter that asks for it,
    instead of once per request.

    ``scope`` says how long a provider's value lives: ``"request"`` (the default) for one
    request, a ``yield`` provider's teardown running after the response was sent;
    ``"function"`` as for a request, but the teardown runs as soon as the handler returned,
    before the response is sent, with the handler's exception thrown in at the ``yield`` if it
    raised; ``"app"`` one value per worker, made at start-up or on first use and torn down at
    shutdown (see ``velocipy.appscope``).
    """

    __slots__ = ("dependency", "scope", "scopes", "use_cache")

    def __init__(
        self,
        dependency: Callable[..., Any] | None = None,
        *,
        use_cache: bool = True,
        scope: DependencyScope = "request",
    ) -> None:
        if dependency is not None and not callable(dependency):
            raise TypeError(f"Depends({dependency!r}): the provider must be callable")
        if scope not in SCOPES:
            raise ValueError(
                f"Depends(scope={scope!r}): the scope is one of {', '.join(map(repr, SCOPES))}"
            )
        self.dependency = dependency
        self.use_cache = use_cache
        self.scope = scope
        self.scopes: tuple[str, ...] = ()  # OAuth2 scopes (set by ``Security``)

    def __repr__(self) -> str:
        name = getattr(self.dependency, "__qualname__", repr(self.dependency))
        extra = "" if self.use_cache else ", use_cache=False"
        if self.scope != "request":
            extra += f", scope={self.scope!r}"
        return f"Depends({name}{extra})"


# --- reading a signature ----------------------------------------------------------------------
@dataclass(frozen=True)
class Binding:
    """Where one parameter of a provider or handler comes from (also what OpenAPI describes)."""

    name: str
    source: str  # connection | path | query | header | cookie | body | depends
    key: str  # the name on the wire (query key, header name...); for "depends" unused
    annotation: Any
    default: Any
    extract: Extract | None = None
    body: BodyExtract | None = None
    step: int = -1  # for "depends": index of the step whose value this is
    description: str | None = None  # Query(description=...): for the OpenAPI description

    @property
    def required(self) -> bool:
        return self.default is _REQUIRED


@dataclass
class Step:
    """One call in a plan: a provider (or, last, the handler) and where its arguments come from."""

    provider: Callable[..., Any]
    kind: str  # async | sync | asyncgen | gen
    bindings: list[Binding] = field(default_factory=list)
    scheme: Any = None  # a security helper's OpenAPI description, when the provider is one
    form: FormBinder | None = None  # reads this step's form fields and uploads, if any
    scopes: tuple[str, ...] = ()  # the OAuth2 scopes every ``Security`` above it asked for
    scope: str = "request"  # when a generator's teardown runs (Depends(scope=...))
    reads_body: bool = False  # a body or form parameter: its arguments must be awaited


def _call_kind(provider: Callable[..., Any]) -> str:
    if getattr(provider, "runs_inline", False):  # a plain-def guard: a quick look, no thread
        return "direct"
    target = provider
    if not (inspect.isfunction(target) or inspect.ismethod(target)) and not isinstance(
        target, type
    ):
        target = type(provider).__call__
    target = inspect.unwrap(target)
    if inspect.isasyncgenfunction(target):
        return "asyncgen"
    if inspect.isgeneratorfunction(target):
        return "gen"
    if inspect.iscoroutinefunction(target):
        return "async"
    return "sync"


def _signature_target(provider: Callable[..., Any]) -> Callable[..., Any]:
    """The function whose annotations describe ``provider``'s parameters."""
    if isinstance(provider, type):
        init: Callable[..., Any] = provider.__init__  # type: ignore[misc]
        return init
    if inspect.isfunction(provider) or inspect.ismethod(provider):
        return provider
    return type(provider).__call__


def _depends_of(annotation: Any, default: Any) -> tuple[Any, Depends | None]:
    base, _ = _split_annotated(annotation)
    if isinstance(default, Depends):
        return base, default
    if get_origin(annotation) is Annotated:
        for extra in annotation.__metadata__:
            if isinstance(extra, Depends):
                return base, extra
    return base, None


def uses_dependencies(handler: Callable[..., Any]) -> bool:
    """Whether any parameter of ``handler`` is a ``Depends`` (checked once, at registration)."""
    hints = parameter_hints(handler)
    for name, parameter in inspect.signature(handler).parameters.items():
        if _depends_of(hints.get(name), parameter.default)[1] is not None:
            return True
    return False


def binds_more_than_the_websocket(handler: Callable[..., Any]) -> bool:
    """Whether a WebSocket handler takes parameters besides the connection (or Depends).

    A lone parameter is the connection: its annotation is not read, since it need not resolve
    (a handler may import ``WebSocket`` locally under ``from __future__ import annotations``).
    """
    parameters = inspect.signature(handler).parameters
    if len(parameters) > 1:
        return True
    return any(isinstance(parameter.default, Depends) for parameter in parameters.values())


# --- the plan -----------------------------------------------------------------------------------
class RoutePlan:
    """The steps of one route, in call order; the handler is the last step.

    ``rebuild`` re-reads the graph with the app's current overrides (tests replace providers
    after the routes were registered); the endpoint reads ``steps`` once per request.
    """

    def __init__(
        self,
        handler: Callable[..., Any],
        pattern: PathPattern,
        json: JSONAdapter,
        dependencies: Sequence[Depends] = (),
        *,
        websocket: bool = False,
        overrides: dict[Callable[..., Any], Callable[..., Any]] | None = None,
    ) -> None:
        self.handler = handler
        self.path_names = {p.name for p in pattern.params}
        self.json = json
        self.dependencies = tuple(dependencies)
        self.websocket = websocket
        self.steps: list[Step] = []
        self.tasks_step = -1  # index of the step that makes the request's BackgroundTasks
        # the app's one scope for app-scoped providers (a plan made without an app keeps its own)
        self.app_scope: AppScope = getattr(overrides, "app_scope", None) or AppScope()
        self.rebuild(overrides or {})

    # Building ---------------------------------------------------------------------------
    def rebuild(self, overrides: dict[Callable[..., Any], Callable[..., Any]]) -> None:
        builder = _Builder(self, overrides)
        for depends in self.dependencies:  # route/router/app dependencies: run, value unused
            builder.add_provider(depends, (), self.handler)
        builder.add_step(self.handler, (), cached=False, is_handler=True)
        self.steps = builder.steps
        self.tasks_step = builder.tasks_step

    def bindings(self) -> list[Binding]:
        """Every wire parameter of the route (deduplicated), in the order the plan reads them."""
        seen: set[tuple[str, str]] = set()
        found: list[Binding] = []
        for step in self.steps:
            for binding in step.bindings:
                if binding.source in ("depends", "connection"):
                    continue
                key = (binding.source, binding.key)
                if key not in seen:
                    seen.add(key)
                    found.append(binding)
        return found

    def schemes(self) -> list[tuple[str, dict[str, Any], bool, tuple[str, ...]]]:
        """``(name, Security Scheme Object, required, scopes)`` of each security helper."""
        return [(*step.scheme, step.scopes) for step in self.steps if step.scheme is not None]

    # Running ----------------------------------------------------------------------------
    async def solve(
        self, connection: Any, entered: list[Any], function_entered: list[Any] | None = None
    ) -> tuple[dict[str, Any], BackgroundTasks | None]:
        """Call every provider; return the handler's keyword arguments and the request's
        ``BackgroundTasks`` (``None`` when nothing in the plan takes them).

        Generators that were entered are appended to ``entered`` (the caller tears them down),
        those of ``scope="function"`` providers to ``function_entered`` when given.
        Validation errors of every step are collected into one ``RequestValidationError``.
        """
        steps = self.steps
        values: list[Any] = [None] * len(steps)
        errors: list[dict[str, Any]] = []
        last = len(steps) - 1
        for index, step in enumerate(steps):
            kwargs = _arguments(step, connection, values, errors)
            if step.reads_body:
                await _read_body_arguments(step, connection, kwargs, errors)
            if index == last:
                break
            if errors:
                continue  # keep collecting errors, call nothing more
            if step.kind == "async":  # PERF: the usual provider, without _enter's frame
                values[index] = await step.provider(**kwargs)
                continue
            target = entered
            if function_entered is not None and step.scope == "function":
                target = function_entered
            values[index] = await _enter(step, kwargs, target)
        if errors:
            raise RequestValidationError(errors)
        return kwargs, (values[self.tasks_step] if self.tasks_step >= 0 else None)


def _arguments(
    step: Step, connection: Any, values: list[Any], errors: list[dict[str, Any]]
) -> dict[str, Any]:
    """The step's arguments that need no await: providers' values, path, query, headers...

    PERF: a plain function: most steps read no body, and a coroutine per step cost more
    than the step's own work.
    """
    kwargs: dict[str, Any] = {}
    for binding in step.bindings:
        if binding.step >= 0:
            kwargs[binding.name] = values[binding.step]
        elif binding.extract is not None:
            kwargs[binding.name] = binding.extract(connection, errors)
    return kwargs


async def _read_body_arguments(
    step: Step, connection: Any, kwargs: dict[str, Any], errors: list[dict[str, Any]]
) -> None:
    """Add the step's body or form arguments to ``kwargs`` (after the others: their errors
    come first in the one 422)."""
    for binding in step.bindings:
        if binding.body is not None:
            if errors:  # the body's problems join the others in the one 422
                errors += await body_errors(binding.body, connection)
            else:
                kwargs[binding.name] = await binding.body(connection)
    if step.form is not None and not errors:
        kwargs.update(await step.form(await connection.form(), errors))


async def _enter(step: Step, kwargs: dict[str, Any], entered: list[Any]) -> Any:
    kind, provider = step.kind, step.provider
    if kind == "direct":  # made by the framework, not a user's provider (BackgroundTasks)
        return provider(**kwargs)
    if kind == "async":
        return await provider(**kwargs)
    if kind == "sync":
        return await asyncio.to_thread(provider, **kwargs)
    if kind == "asyncgen":
        agen: AsyncGenerator[Any, None] = provider(**kwargs)
        value = await agen.__anext__()
        entered.append(agen)
        return value
    gen: Generator[Any, None, None] = await asyncio.to_thread(provider, **kwargs)
    value = await asyncio.to_thread(next_of, gen)
    entered.append(gen)
    return value


class _Builder:
    def __init__(
        self, plan: RoutePlan, overrides: dict[Callable[..., Any], Callable[..., Any]]
    ) -> None:
        self.plan = plan
        self.overrides = overrides
        self.steps: list[Step] = []
        # a provider is called once per request and per set of scopes asked of it
        self.cache: dict[tuple[Callable[..., Any], tuple[str, ...]], int] = {}
        self.tasks_step = -1

    def background_tasks(self) -> int:
        """The step that makes the request's one ``BackgroundTasks`` (added when first asked)."""
        if self.tasks_step < 0:
            self.steps.append(Step(BackgroundTasks, "direct"))
            self.tasks_step = len(self.steps) - 1
        return self.tasks_step

    def add_provider(
        self,
        depends: Depends,
        chain: tuple[Callable[..., Any], ...],
        owner: Any,
        scopes: tuple[str, ...] = (),
    ) -> int:
        provider = depends.dependency
        if provider is None:
            raise TypeError(f"{_name(owner)}: Depends() needs a provider (or a class annotation)")
        if provider in chain:
            cycle = " -> ".join(_name(p) for p in (*chain[chain.index(provider) :], provider))
            raise TypeError(f"dependency cycle: {cycle}")
        if depends.scopes:
            from velocipy.security.oauth2 import with_scopes

            scopes = with_scopes(scopes, depends.scopes)
        if depends.use_cache and (provider, scopes) in self.cache:
            return self.cache[provider, scopes]
        if depends.scope == "app":
            effective = self.overrides.get(provider, provider)
            self.steps.append(Step(self.plan.app_scope.register(effective), "async"))
            self.cache[provider, scopes] = len(self.steps) - 1
            return self.cache[provider, scopes]
        return self.add_step(
            provider,
            (*chain, provider),
            cached=depends.use_cache,
            scopes=scopes,
            scope=depends.scope,
        )

    def add_step(
        self,
        original: Callable[..., Any],
        chain: tuple[Callable[..., Any], ...],
        *,
        cached: bool,
        is_handler: bool = False,
        scopes: tuple[str, ...] = (),
        scope: str = "request",
    ) -> int:
        # at registration, never per request
        from velocipy.security.oauth2 import SecurityScopes, scopes_extractor

        provider = original if is_handler else self.overrides.get(original, original)
        target = _signature_target(provider)
        try:
            signature = inspect.signature(provider)
        except (TypeError, ValueError):
            raise TypeError(f"cannot read the parameters of provider {provider!r}") from None
        hints = parameter_hints(target)
        step = Step(
            provider,
            _call_kind(provider),
            scheme=getattr(provider, "openapi_scheme", None),
            scopes=scopes,
            scope=scope,
        )
        if is_handler and step.kind in ("asyncgen", "gen"):
            raise TypeError(f"handler {_name(provider)} cannot be a generator")
        if self.plan.websocket and is_handler and step.kind != "async":
            raise TypeError(f"WebSocket handler {_name(provider)} must be an async function")
        bodies = 0
        form_fields: list[FormField] = []
        for position, (name, parameter) in enumerate(signature.parameters.items()):
            where = (
                f"{'handler' if is_handler else 'provider'} {_name(provider)}, parameter {name!r}"
            )
            if parameter.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
                raise TypeError(f"{where}: *args/**kwargs cannot be bound")
            hint = hints.get(name, str)
            base, depends = _depends_of(hint, parameter.default)
            if depends is not None:
                if depends.dependency is None:
                    if not callable(base) or base is str:
                        raise TypeError(
                            f"{where}: Depends() needs a provider or a class annotation"
                        )
                    depends = Depends(base, use_cache=depends.use_cache, scope=depends.scope)
                index = self.add_provider(depends, chain or (original,), provider, scopes)
                self.check_scopes(step, index, provider)
                step.bindings.append(Binding(name, "depends", name, base, _REQUIRED, step=index))
                continue
            annotation, marker = _split_annotated(hint)
            if annotation is SecurityScopes:  # the scopes asked of this provider, fixed here
                step.bindings.append(
                    Binding(
                        name, "connection", name, annotation, _REQUIRED, scopes_extractor(scopes)
                    )
                )
                continue
            default = parameter.default
            if isinstance(default, Param):
                marker, default = default, default.default
            elif marker is not None and marker.default is not _REQUIRED:
                default = marker.default
            # A WebSocket handler's first parameter, unannotated, is the connection (as without
            # dependencies, where the handler is called with it positionally).
            takes_websocket = (
                self.plan.websocket and is_handler and position == 0 and name not in hints
            )
            if takes_websocket or (
                isinstance(annotation, type) and issubclass(annotation, Connection)
            ):
                served = WebSocket if self.plan.websocket else Request
                if not takes_websocket and not issubclass(served, annotation):
                    raise TypeError(
                        f"{where}: a {served.__name__} route cannot take {annotation.__name__}"
                    )
                step.bindings.append(
                    Binding(name, "connection", name, annotation, _REQUIRED, extract=_take)
                )
            elif annotation is BackgroundTasks:
                if self.plan.websocket:
                    raise TypeError(f"{where}: a WebSocket has no response to run tasks after")
                index = self.background_tasks()
                step.bindings.append(
                    Binding(name, "depends", name, annotation, _REQUIRED, step=index)
                )
            elif (marker is not None and marker.source in ("form", "file")) or (
                marker is None and is_upload_annotation(annotation)
            ):
                if self.plan.websocket:
                    raise TypeError(f"{where}: a WebSocket has no form to read")
                source, alias = (marker.source, marker.alias) if marker else ("file", None)
                required = default is _REQUIRED and not _unwrap_optional(annotation)[1]
                value = None if default is _REQUIRED else default
                form_fields.append(FormField(name, source, alias, annotation, value, required))
                # read by the step's form binder; listed for the OpenAPI description
                step.bindings.append(Binding(name, source, alias or name, annotation, default))
            elif name in self.plan.path_names and marker is None:
                step.bindings.append(
                    Binding(
                        name, "path", name, annotation, _REQUIRED, extract=_path_extractor(name)
                    )
                )
            elif (marker is not None and marker.source == "body") or (
                marker is None and _is_body_type(_unwrap_optional(annotation)[0])
            ):
                if self.plan.websocket:
                    raise TypeError(f"{where}: a WebSocket has no request body")
                bodies += 1
                if bodies > 1:
                    raise TypeError(f"{_name(provider)} declares more than one body parameter")
                step.bindings.append(
                    Binding(
                        name,
                        "body",
                        "body",
                        annotation,
                        default,
                        body=_body_extractor(annotation, default, self.plan.json),
                    )
                )
            else:
                source = marker.source if marker is not None else "query"
                alias = marker.alias if marker is not None else None
                key = alias or (name.replace("_", "-") if source == "header" else name)
                check_query_parameter(provider, name, annotation)
                extract = _scalar_extractor(name, source, alias, annotation, default)
                described = marker.description if marker is not None else None
                step.bindings.append(
                    Binding(name, source, key, annotation, default, extract, description=described)
                )
        if form_fields:
            if bodies:
                raise TypeError(
                    f"{_name(provider)} mixes a JSON body with form fields; a request has one "
                    "body, so declare one or the other"
                )
            step.form = form_binder(form_fields, validation_errors)
        step.reads_body = bodies > 0 or step.form is not None
        self.steps.append(step)
        index = len(self.steps) - 1
        if cached and not is_handler:
            self.cache[original, scopes] = index
        return index

    def check_scopes(self, step: Step, index: int, provider: Callable[..., Any]) -> None:
        """A ``yield`` provider of request scope outlives the handler: it cannot use a value
        whose teardown ran when the handler returned (``scope="function"``)."""
        used = self.steps[index]
        if (
            step.scope == "request"
            and step.kind in ("asyncgen", "gen")
            and used.scope == "function"
            and used.kind in ("asyncgen", "gen")
        ):
            raise TypeError(
                f"provider {_name(provider)} (scope 'request', torn down after the response) "
                f"cannot depend on {_name(used.provider)} (scope 'function', torn down when "
                "the handler returns): give it scope='function' too"
            )


def _take(connection: Any, errors: list[dict[str, Any]]) -> Any:
    return connection


def _name(obj: Any) -> str:
    return str(getattr(obj, "__qualname__", None) or type(obj).__qualname__)
