"""Handler parameters: markers (``Query``, ``Header``, ``Cookie``, ``Body``) and the binder.

A handler's signature is read once, when the route is registered, into a list of small
extractor functions. Per request the endpoint runs those extractors, collects every error
into one 422, calls the handler and turns its return value into a ``Response``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import inspect
import logging
import re
import types
import typing
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeAlias, Union, get_args, get_origin

import msgspec

from velocipy.background import BackgroundTasks, add_after_response
from velocipy.every_error import body_errors, field_errors
from velocipy.exceptions import HTTPException, RequestValidationError
from velocipy.form_params import FormBinder, FormField, form_binder, is_upload_annotation
from velocipy.json import JSONAdapter, JSONDecodeError
from velocipy.registration import (
    check_handler,
    check_path_placeholders,
    check_query_parameter,
    described_as,
)
from velocipy.requests import Request, invalid_json_error
from velocipy.responses import Response
from velocipy.routing import PathPattern, converter_for_annotation

if typing.TYPE_CHECKING:
    from velocipy.dependencies import Depends
    from velocipy.dependency_overrides import DependencyOverrides

__all__ = ["Body", "Cookie", "File", "Form", "Header", "Query", "compile_endpoint"]

_REQUIRED: Any = inspect.Parameter.empty
logger = logging.getLogger("velocipy")


def _unchanged(response: Response) -> Response:
    return response


class Endpoint:
    """What dispatch runs for one route and method: ``respond(await invoke(request))``.

    PERF: where nothing has to be awaited before the handler runs (no body, no dependencies),
    ``invoke`` is a plain function that hands back the handler's own coroutine, and ``respond``
    turns its result into a Response: such a request passes through no coroutine of ours but
    dispatch. A handler without parameters is ``invoke`` itself, called without the request
    (``takes_request`` is False): no function of ours between dispatch and the handler.
    Endpoints that build their Response themselves leave ``respond`` as it is.
    """

    __slots__ = ("invoke", "other_errors", "plan", "respond", "takes_request")

    def __init__(
        self,
        invoke: Callable[..., Awaitable[Any]],
        respond: Callable[[Any], Response] = _unchanged,
        plan: Any = None,
        *,
        takes_request: bool = True,
    ) -> None:
        self.invoke = invoke
        self.respond = respond
        self.plan = plan  # the dependency plan, for OpenAPI (velocipy/dependencies.py)
        self.takes_request = takes_request
        # Failure path only: the errors of everything but the path, for a request whose path
        # parameter did not convert (every problem in one 422). None: nothing else is read.
        self.other_errors: Callable[[Request], Awaitable[list[dict[str, Any]]]] | None = None


class Param:
    """Where a parameter comes from; build with :func:`Query`, :func:`Header`, ..."""

    __slots__ = ("alias", "default", "description", "source")

    def __init__(
        self, source: str, default: Any, alias: str | None, description: str | None = None
    ) -> None:
        self.source = source
        self.default = default
        self.alias = alias
        self.description = description  # shown in the OpenAPI description of the parameter

    def __repr__(self) -> str:
        return f"{self.source.title()}(default={self.default!r}, alias={self.alias!r})"


def Query(
    default: Any = _REQUIRED, *, alias: str | None = None, description: str | None = None
) -> Any:
    """A query-string parameter (``?name=value``); ``list[T]`` collects repeats."""
    return Param("query", default, alias, description)


def Header(
    default: Any = _REQUIRED, *, alias: str | None = None, description: str | None = None
) -> Any:
    """A request header; ``user_agent`` reads ``user-agent`` unless ``alias`` says otherwise."""
    return Param("header", default, alias, description)


def Cookie(
    default: Any = _REQUIRED, *, alias: str | None = None, description: str | None = None
) -> Any:
    """A cookie sent by the client."""
    return Param("cookie", default, alias, description)


def Body(default: Any = _REQUIRED) -> Any:
    """The JSON request body, decoded and validated into the annotated type."""
    return Param("body", default, None)


def Form(default: Any = _REQUIRED, *, alias: str | None = None) -> Any:
    """A form field (urlencoded or multipart); on a Struct, the Struct is filled from the form."""
    return Param("form", default, alias)


def File(default: Any = _REQUIRED, *, alias: str | None = None) -> Any:
    """An uploaded file of a multipart form (``UploadFile``, ``list[UploadFile]`` or ``bytes``)."""
    return Param("file", default, alias)


Extractor: TypeAlias = Callable[[Request, list[dict[str, Any]]], Any]


def _is_body_type(annotation: Any) -> bool:
    if isinstance(annotation, type):
        if issubclass(annotation, msgspec.Struct) or dataclasses.is_dataclass(annotation):
            return True
        return typing.is_typeddict(annotation)
    return False


def _unwrap_optional(annotation: Any) -> tuple[Any, bool]:
    origin = get_origin(annotation)
    if origin is Union or origin is types.UnionType:
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1 and len(get_args(annotation)) == 2:
            return args[0], True
    return annotation, False


def _split_annotated(annotation: Any) -> tuple[Any, Param | None]:
    if get_origin(annotation) is Annotated:
        base, *extras = get_args(annotation)
        for extra in extras:
            if isinstance(extra, Param):
                return base, extra
        return base, None
    return annotation, None


def compile_endpoint(
    handler: Callable[..., Any],
    pattern: PathPattern,
    json: JSONAdapter,
    status_code: int | None = None,
    dependencies: typing.Sequence[Depends] = (),
    overrides: DependencyOverrides | None = None,
) -> tuple[Endpoint, PathPattern]:
    """Build the per-request callable for ``handler``; also return the pattern typed by it."""
    # --- dependencies: a route using Depends is planned in velocipy/dependencies.py ----------
    from velocipy.dependencies import uses_dependencies

    hints = parameter_hints(handler)
    check_handler(handler, pattern, hints)
    if dependencies or uses_dependencies(handler):
        from velocipy.dependency_endpoints import compile_http

        return compile_http(handler, pattern, json, status_code, dependencies, overrides)
    # --- end dependencies: everything below is the plain path, unchanged -------------------
    signature = inspect.signature(handler)
    path_names = {p.name for p in pattern.params}
    pattern = pattern.with_converters(
        {n: _unwrap_optional(_split_annotated(hints[n])[0])[0] for n in path_names if n in hints}
    )

    extractors: list[tuple[str, Extractor]] = []
    bound_from_path: set[str] = set()
    body_extractors: list[tuple[str, Callable[[Request], Awaitable[Any]]]] = []
    form_fields: list[FormField] = []
    tasks_name: str | None = None
    for name, parameter in signature.parameters.items():
        if parameter.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            raise TypeError(f"handler {handler.__qualname__}: *args/**kwargs cannot be bound")
        annotation, marker = _split_annotated(hints.get(name, str))
        default = parameter.default
        if isinstance(default, Param):
            marker, default = default, default.default
        elif marker is not None and marker.default is not _REQUIRED:
            default = marker.default
        if isinstance(annotation, type) and issubclass(annotation, Request):
            extractors.append((name, _take_request))
        # --- forms, uploads, background tasks (logic in form_params.py, background.py) ---
        elif annotation is BackgroundTasks:
            tasks_name = name
        elif (marker is not None and marker.source in ("form", "file")) or (
            marker is None and is_upload_annotation(annotation)
        ):
            source, alias = (marker.source, marker.alias) if marker else ("file", None)
            required = default is _REQUIRED and not _unwrap_optional(annotation)[1]
            value = None if default is _REQUIRED else default
            form_fields.append(FormField(name, source, alias, annotation, value, required))
        # --- end of forms, uploads, background tasks ---
        elif name in path_names and marker is None:
            extractors.append((name, _path_extractor(name)))
            bound_from_path.add(name)
        elif (marker is not None and marker.source == "body") or (
            marker is None and _is_body_type(_unwrap_optional(annotation)[0])
        ):
            body_extractors.append((name, _body_extractor(annotation, default, json)))
        else:
            check_query_parameter(handler, name, annotation)
            source = marker.source if marker is not None else "query"
            alias = marker.alias if marker is not None else None
            extractors.append((name, _scalar_extractor(name, source, alias, annotation, default)))
    check_path_placeholders(
        handler,
        pattern,
        bound_from_path,
        any(extract is _take_request for _, extract in extractors),
    )
    if len(body_extractors) > 1:
        raise TypeError(
            f"handler {handler.__qualname__} declares {len(body_extractors)} body parameters; "
            "a request has one JSON body, so declare one parameter (a Struct with every field)"
        )
    other_errors = _other_errors(
        [extract for name, extract in extractors if name not in bound_from_path],
        body_extractors[0][1] if body_extractors else None,
    )
    is_async = inspect.iscoroutinefunction(handler)
    make_response = response_maker(json.encode, status_code, handler)
    call = handler if is_async else _in_thread(handler)

    if form_fields or tasks_name is not None:
        if form_fields and body_extractors:
            raise TypeError(
                f"handler {handler.__qualname__} mixes a JSON body with form fields; "
                "a request has one body, so declare one or the other"
            )
        binder = form_binder(form_fields, validation_errors) if form_fields else None
        body = body_extractors[0] if body_extractors else None
        invoke = _form_or_tasks_endpoint(extractors, body, binder, tasks_name, call, make_response)
        return _checked(Endpoint(invoke), other_errors), pattern

    if not extractors and not body_extractors:
        return _checked(Endpoint(call, make_response, takes_request=False), other_errors), pattern

    if len(extractors) == 1 and extractors[0][1] is _take_request and not body_extractors:
        return _checked(Endpoint(call, make_response), other_errors), pattern

    takes_only_path_params = bound_from_path == path_names == {name for name, _ in extractors}
    if takes_only_path_params and not body_extractors:
        if (
            len(extractors) == 1
            and signature.parameters[extractors[0][0]].kind is not inspect.Parameter.KEYWORD_ONLY
        ):
            only = extractors[0][0]

            def invoke_with_path_param(request: Request) -> Awaitable[Any]:
                # PERF: passed by position: a call with **values costs about 1k instructions more
                return call(request._path_params[only])

            return _checked(Endpoint(invoke_with_path_param, make_response), other_errors), pattern

        def invoke_with_path_params(request: Request) -> Awaitable[Any]:
            return call(**request._path_params)  # PERF: set by dispatch

        return _checked(Endpoint(invoke_with_path_params, make_response), other_errors), pattern

    body = body_extractors[0] if body_extractors else None

    async def invoke_with_values(request: Request) -> Any:
        errors: list[dict[str, Any]] = []
        kwargs = {name: extract(request, errors) for name, extract in extractors}
        if body is not None:
            if errors:  # the body's problems join the others in the one 422
                errors += await body_errors(body[1], request)
            else:
                kwargs[body[0]] = await body[1](request)
        if errors:
            raise RequestValidationError(errors)
        return await call(**kwargs)

    return _checked(Endpoint(invoke_with_values, make_response), other_errors), pattern


def _other_errors(
    extractors: list[Extractor], body: Callable[[Request], Awaitable[Any]] | None
) -> Callable[[Request], Awaitable[list[dict[str, Any]]]] | None:
    """What ``Endpoint.other_errors`` runs: every extractor but the path's, then the body."""
    if not extractors and body is None:
        return None

    async def other_errors(request: Request) -> list[dict[str, Any]]:
        errors: list[dict[str, Any]] = []
        for extract in extractors:
            extract(request, errors)
        if body is not None:
            errors += await body_errors(body, request)
        return errors

    return other_errors


def _checked(
    endpoint: Endpoint, other_errors: Callable[[Request], Awaitable[list[dict[str, Any]]]] | None
) -> Endpoint:
    endpoint.other_errors = other_errors
    return endpoint


def _form_or_tasks_endpoint(
    extractors: list[tuple[str, Extractor]],
    body: tuple[str, Callable[[Request], Awaitable[Any]]] | None,
    binder: FormBinder | None,
    tasks_name: str | None,
    call: Callable[..., Awaitable[Any]],
    make_response: Callable[[Any], Response],
) -> Callable[[Request], Awaitable[Response]]:
    """The endpoint of a handler with form/file parameters or a ``BackgroundTasks`` parameter.

    Uploaded files are closed once the handler returned (or raised); the tasks are attached to
    the response after anything it already carries.
    """

    async def endpoint(request: Request) -> Response:
        errors: list[dict[str, Any]] = []
        kwargs = {name: extract(request, errors) for name, extract in extractors}
        form = None
        try:
            if binder is not None and not errors:
                form = await request.form()
                kwargs.update(await binder(form, errors))
            elif body is not None:
                if errors:  # the body's problems join the others in the one 422
                    errors += await body_errors(body[1], request)
                else:
                    kwargs[body[0]] = await body[1](request)
            if errors:
                raise RequestValidationError(errors)
            tasks = None
            if tasks_name is not None:
                tasks = kwargs[tasks_name] = BackgroundTasks()
            response = make_response(await call(**kwargs))
        finally:
            if form is not None:
                await form.close()
        if tasks:
            add_after_response(response, tasks)
        return response

    return endpoint


class _AnnotationsOf:
    """What ``typing.get_type_hints`` needs to resolve a function's parameter annotations only."""

    def __init__(self, annotations: dict[str, Any], globalns: dict[str, Any]) -> None:
        self.__annotations__ = annotations
        self.__globals__ = globalns


def parameter_hints(handler: Callable[..., Any]) -> dict[str, Any]:
    """Resolved parameter annotations (the return annotation is never needed, so never read)."""
    target = inspect.unwrap(handler)
    annotations = {
        name: value
        for name, value in getattr(target, "__annotations__", {}).items()
        if name != "return"
    }
    try:
        return typing.get_type_hints(
            _AnnotationsOf(annotations, getattr(target, "__globals__", {})), include_extras=True
        )
    except NameError as exc:
        raise TypeError(
            f"cannot resolve a parameter annotation of {handler.__qualname__}: {exc}; "
            "import that name at module level"
        ) from None


def _in_thread(handler: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    """Run a plain ``def`` handler in a worker thread so it cannot block the event loop."""

    @functools.wraps(handler)
    async def run(*args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(handler, *args, **kwargs)

    return run


def _take_request(request: Request, errors: list[dict[str, Any]]) -> Request:
    return request


def _path_extractor(name: str) -> Extractor:
    def extract(request: Request, errors: list[dict[str, Any]]) -> Any:
        return request.path_params[name]

    return extract


def _scalar_extractor(
    name: str, source: str, alias: str | None, annotation: Any, default: Any
) -> Extractor:
    key = alias or (name.replace("_", "-") if source == "header" else name)
    inner, optional = _unwrap_optional(annotation)
    if optional and default is _REQUIRED:
        default = None
    many = get_origin(inner) in (list, tuple, set, frozenset)
    item_type = get_args(inner)[0] if many and get_args(inner) else str
    converter = converter_for_annotation(item_type if many else inner)
    convert, error_type = converter.convert, converter.error_type
    required = default is _REQUIRED

    def values(request: Request) -> list[str]:
        if source == "query":
            return request.query_params.get_list(key)
        if source == "header":
            return request.headers.get_list(key)
        cookie = request.cookies.get(key)
        return [] if cookie is None else [cookie]

    def extract(request: Request, errors: list[dict[str, Any]]) -> Any:
        found = values(request)
        if not found:
            if required:
                errors.append({"loc": [source, key], "msg": "Field required", "type": "missing"})
            return None if required else default
        try:
            if many:
                return [convert(v) for v in found]
            return convert(found[0])
        except ValueError as exc:
            errors.append({"loc": [source, key], "msg": str(exc), "type": error_type})
            return None

    return extract


_JSON_MEDIA = re.compile(r"^application/(?:[\w.+-]+\+)?json\s*(?:;|$)", re.IGNORECASE)
_LOCATION = re.compile(r" - at `\$(.*)`$")
_LOC_PART = re.compile(r"\.([^.\[]+)|\[(\d+)\]")


def validation_errors(exc: msgspec.ValidationError, prefix: str = "body") -> list[dict[str, Any]]:
    """msgspec's message as our ``detail`` list: ``loc`` from its ``$.a[0].b`` path."""
    message = str(exc)
    loc: list[str | int] = [prefix]
    match = _LOCATION.search(message)
    if match:
        message = message[: match.start()]
        for key, index in _LOC_PART.findall(match.group(1)):
            loc.append(int(index) if index else key)
    kind = "missing" if message.startswith("Object missing required field") else "value_error"
    return [{"loc": loc, "msg": message, "type": kind}]


def _body_extractor(
    annotation: Any, default: Any, json: JSONAdapter
) -> Callable[[Request], Awaitable[Any]]:
    target, optional = _unwrap_optional(annotation)
    if optional and default is _REQUIRED:
        default = None

    async def extract(request: Request) -> Any:
        content_type = request.header("content-type")
        if (
            content_type is not None
            and content_type != "application/json"  # PERF: the usual one, without the pattern
            and not _JSON_MEDIA.match(content_type)
        ):
            raise HTTPException(
                415, f"Unsupported media type {content_type!r}: send the body as application/json"
            )
        body = await request.body()
        if not body:
            if default is not _REQUIRED:
                return default
            raise RequestValidationError(
                [{"loc": ["body"], "msg": "Field required", "type": "missing"}]
            )
        try:
            data = json.decode(body)
        except JSONDecodeError as exc:
            raise invalid_json_error(exc) from None
        try:
            return msgspec.convert(data, target)
        except msgspec.ValidationError as exc:  # every field's error, found on this path only
            errors = field_errors(data, target, ["body"], validation_errors(exc))
            raise RequestValidationError(errors) from None

    return extract


_TEXT = ("content-type", "text/plain; charset=utf-8")
_JSON = ("content-type", "application/json")
_OCTETS = ("content-type", "application/octet-stream")
_new_response = Response.__new__


def _plain(body: bytes, status: int, headers: list[tuple[str, str]]) -> Response:
    response = _new_response(Response)
    response.body = body
    response.status_code = status
    response.raw_headers = headers
    response.background = None
    return response


def response_maker(
    encode: Callable[[Any], bytes],
    status_code: int | None,
    handler: Callable[..., Any] | None = None,
) -> Callable[[Any], Response]:
    """Turn what a handler returned into a Response (decided per value, cheapest checks first).

    A value that cannot be encoded is one log line naming ``handler`` and a 500.
    """
    ok = status_code or 200

    def make_response(result: Any) -> Response:
        kind = type(result)
        if kind is dict or kind is list:  # PERF: the usual JSON result, built inline
            response = _new_response(Response)
            response.body = encode(result)  # failing: see unencodable_result_response
            response.status_code = ok
            response.raw_headers = [_JSON]
            response.background = None
            return response
        if isinstance(result, Response):
            return result
        if kind is str:
            return _plain(result.encode("utf-8"), ok, [_TEXT])
        if result is None:
            return _plain(b"", status_code or 204, [])
        if kind is bytes:
            return _plain(result, ok, [_OCTETS])
        return _plain(encode(result), ok, [_JSON])

    make_response.handler = handler  # type: ignore[attr-defined]
    return make_response


# PERF: no try in make_response (about 20 instructions a request): an encoding error raised
# there is recognised afterwards, on the error path, by the function it was raised in.
_MAKE_RESPONSE_CODE = response_maker(bytes, None).__code__


def unencodable_result_response(exc: BaseException) -> Response | None:
    """For a ``TypeError``/``ValueError`` raised while a handler's return value was encoded
    by ``make_response``: the one log line and the 500; None for any other error."""
    if not isinstance(exc, TypeError | ValueError):
        return None
    tb, caller = exc.__traceback__, None
    if tb is None:
        return None
    while tb.tb_next is not None:
        caller, tb = tb, tb.tb_next
    if tb.tb_frame.f_code is not _MAKE_RESPONSE_CODE or caller is None:
        return None
    # The caller (dispatch, or an endpoint with dependencies) holds the make_response it
    # called; that function knows its handler.
    handler = next(
        (
            value.handler
            for value in caller.tb_frame.f_locals.values()
            if getattr(value, "__code__", None) is _MAKE_RESPONSE_CODE
        ),
        None,
    )
    return unencodable_result(handler, tb.tb_frame.f_locals.get("result"), exc)


def unencodable_result(handler: Callable[..., Any] | None, result: Any, exc: Exception) -> Response:
    """Log one line that says which handler returned what, and what it may return; a 500."""
    who = described_as(handler) if handler is not None else "a handler"
    logger.error(
        "%s returned %s, which cannot be encoded as JSON (%s); return dict, list, str, bytes, "
        "None, a msgspec.Struct, a dataclass or a Response",
        who,
        type(result).__qualname__,
        exc,
    )
    return _plain(b'{"detail":"Internal Server Error"}', 500, [_JSON])
