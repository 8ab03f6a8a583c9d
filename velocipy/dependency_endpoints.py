"""The endpoints of routes that use dependencies: a route's plan solved per request.

``params.compile_endpoint`` sends an HTTP route here when its handler (or its router or app)
uses ``Depends``; the app sends WebSocket routes the same way. Teardown of what providers
yielded runs after the response was sent (HTTP) or when the handler ends (WebSocket).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from velocipy.background import BackgroundTasks, add_after_response
from velocipy.dependencies import Depends, RoutePlan
from velocipy.dependency_overrides import DependencyOverrides
from velocipy.every_error import plan_errors
from velocipy.json import JSONAdapter
from velocipy.params import Endpoint, _in_thread, _unwrap_optional, response_maker
from velocipy.registration import check_path_placeholders
from velocipy.requests import Request
from velocipy.responses import Response
from velocipy.routing import PathPattern
from velocipy.teardown import close_entered, teardown_after
from velocipy.websockets import WebSocket

__all__ = ["compile_http", "compile_websocket"]


def _typed_pattern(plan: RoutePlan, pattern: PathPattern) -> PathPattern:
    """The route's pattern with converters from every path parameter's annotation in the plan."""
    return pattern.with_converters(
        {
            binding.key: _unwrap_optional(binding.annotation)[0]
            for step in plan.steps
            for binding in step.bindings
            if binding.source == "path"
        }
    )


def compile_http(
    handler: Callable[..., Any],
    pattern: PathPattern,
    json: JSONAdapter,
    status_code: int | None,
    dependencies: Sequence[Depends],
    overrides: DependencyOverrides | None,
) -> tuple[Endpoint, PathPattern]:
    """The endpoint of an HTTP route with dependencies (``compile_endpoint`` sends them here)."""
    plan = RoutePlan(handler, pattern, json, dependencies, overrides=overrides)
    bindings = [binding for step in plan.steps for binding in step.bindings]
    check_path_placeholders(
        handler,
        pattern,
        {binding.key for binding in bindings if binding.source == "path"},
        any(binding.source == "connection" for binding in bindings),
    )
    if overrides is not None:
        overrides.plans.append(plan)
    make_response = response_maker(json.encode, status_code, handler)
    call = handler if inspect.iscoroutinefunction(handler) else _in_thread(handler)

    if not any(step.scope == "function" for step in plan.steps):

        async def endpoint_with_dependencies(request: Request) -> Response:
            entered: list[Any] = []
            try:
                kwargs, tasks = await plan.solve(request, entered)
                response = make_response(await call(**kwargs))
            except BaseException as exc:
                if entered:
                    await close_entered(entered, exc)
                raise
            return _after_response(response, tasks, entered)

        endpoint = Endpoint(endpoint_with_dependencies, plan=plan)
        endpoint.other_errors = plan_errors(plan)
        return endpoint, _typed_pattern(plan, pattern)

    async def endpoint_with_function_scope(request: Request) -> Response:
        entered: list[Any] = []
        function_entered: list[Any] = []  # torn down when the handler returned
        try:
            kwargs, tasks = await plan.solve(request, entered, function_entered)
            try:
                result = await call(**kwargs)
            except BaseException as exc:
                await close_entered(function_entered, exc)
                raise
            await close_entered(function_entered)
            response = make_response(result)
        except BaseException as exc:
            if function_entered:  # a provider or the teardown itself failed
                await close_entered(function_entered, exc)
            if entered:
                await close_entered(entered, exc)
            raise
        return _after_response(response, tasks, entered)

    endpoint = Endpoint(endpoint_with_function_scope, plan=plan)
    endpoint.other_errors = plan_errors(plan)
    return endpoint, _typed_pattern(plan, pattern)


def _after_response(
    response: Response, tasks: BackgroundTasks | None, entered: list[Any]
) -> Response:
    if tasks:  # before teardown, so a task can still use what a provider yielded
        add_after_response(response, tasks)
    if entered:
        teardown_after(response, entered)
    return response


def compile_websocket(
    handler: Callable[..., Any],
    pattern: PathPattern,
    json: JSONAdapter,
    dependencies: Sequence[Depends],
    overrides: DependencyOverrides | None,
) -> tuple[Callable[[WebSocket], Coroutine[Any, Any, None]], PathPattern]:
    """A WebSocket handler with dependencies; teardown runs when the handler ends."""
    plan = RoutePlan(handler, pattern, json, dependencies, websocket=True, overrides=overrides)
    if overrides is not None:
        overrides.plans.append(plan)

    async def websocket_with_dependencies(websocket: WebSocket) -> None:
        entered: list[Any] = []
        try:
            kwargs, _ = await plan.solve(websocket, entered)
            await handler(**kwargs)
        except BaseException as exc:
            if entered:
                await close_entered(entered, exc)
            raise
        if entered:
            await close_entered(entered)

    websocket_with_dependencies.plan = plan  # type: ignore[attr-defined]
    return websocket_with_dependencies, _typed_pattern(plan, pattern)
