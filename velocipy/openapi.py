"""The OpenAPI 3.1 document of an app, built from the route plans the dispatcher uses.

Every HTTP route is read through :class:`velocipy.dependencies.RoutePlan`: a route with
dependencies documents the very plan its endpoint runs; a plain route is read by the same
code (its endpoint is the fast path of ``params.compile_endpoint``, which binds parameters by
the same rules). Types become JSON Schema through ``msgspec.json.schema_components``, one call
for the whole document, so shared Structs land once in ``components/schemas``.

Extension point: :data:`REQUEST_BODY_MEDIA` maps a binding's ``source`` to the media type and
schema of the request body, :data:`BODY_ERRORS` to the errors its reader answers; JSON bodies
are there, forms and uploads add their own entries.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import msgspec

from velocipy.dependencies import Binding, RoutePlan
from velocipy.form_params import is_form_model, is_upload_annotation
from velocipy.params import _unwrap_optional
from velocipy.registration import defined_at
from velocipy.responses import Response
from velocipy.routing import PathPattern, RouteInfo

if TYPE_CHECKING:
    from velocipy.application import Application

__all__ = ["BODY_ERRORS", "REQUEST_BODY_MEDIA", "build_openapi", "plan_of"]

_REF = "#/components/schemas/{name}"
_PATH_CONVERTER_SCHEMAS = {
    "int": {"type": "integer"},
    "float": {"type": "number"},
    "bool": {"type": "boolean"},
}


class ValidationErrorItem(msgspec.Struct):
    """One problem with the request: where (``loc``), what (``msg``) and its kind (``type``)."""

    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorBody(msgspec.Struct):
    """The 422 answer: every problem found in the request."""

    detail: list[ValidationErrorItem]


class ErrorBody(msgspec.Struct):
    """An error answer: detail says what went wrong."""

    detail: Any


def _json_body(binding: Binding, schema: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
    target = _unwrap_optional(binding.annotation)[0]
    return {"application/json": {"schema": schema(target)}}


BODY_ERRORS: dict[str, dict[str, str]] = {
    "body": {"400": "The body is not valid JSON", "415": "The body is not JSON"},
    "form": {
        "400": "The form body is malformed",
        "413": "The form is over a limit (size, fields, files)",
        "415": "The body is not a form",
    },
}
"""``binding.source`` → the error answers its body reader gives besides 422."""


REQUEST_BODY_MEDIA: dict[
    str, Callable[[Binding, Callable[[Any], dict[str, Any]]], dict[str, Any]]
] = {"body": _json_body}
"""``binding.source`` → the ``content`` of the request body (``{media type: {schema}}``)."""


def plan_of(app: Application, route: RouteInfo) -> RoutePlan:
    """The plan a route runs (with dependencies) or reads the same way (without)."""
    plan = getattr(route.compiled, "plan", None)  # an Endpoint's dependency plan, if any
    if isinstance(plan, RoutePlan):
        return plan
    return RoutePlan(
        route.endpoint,
        PathPattern.parse(route.path),
        app.json,
        websocket=route.kind == "websocket",
    )


class _Schemas:
    """Types collected while operations are built; resolved in one msgspec call at the end."""

    def __init__(self) -> None:
        self.types: list[Any] = []
        self.slots: list[dict[str, Any]] = []

    def __call__(self, annotation: Any) -> dict[str, Any]:
        """A placeholder dict filled with the schema of ``annotation`` by :meth:`resolve`."""
        slot: dict[str, Any] = {}
        try:
            msgspec.json.schema(annotation)
        except (TypeError, ValueError):
            return slot  # not describable (a custom class): any value
        self.types.append(annotation)
        self.slots.append(slot)
        return slot

    def type_of(self, slot: Any) -> Any:
        """The annotation a placeholder stands for (``None``: not one of ours)."""
        return next((t for t, s in zip(self.types, self.slots, strict=True) if s is slot), None)

    def resolve(self) -> dict[str, Any]:
        schemas, components = msgspec.json.schema_components(self.types, ref_template=_REF)
        for slot, schema in zip(self.slots, schemas, strict=True):
            slot.update(schema)
        return dict(sorted(components.items()))


def build_openapi(app: Application) -> dict[str, Any]:
    """The OpenAPI 3.1 document (a dict ready for JSON) of every HTTP route in ``app``."""
    schemas = _Schemas()
    paths: dict[str, dict[str, Any]] = {}
    security_schemes: dict[str, Any] = {}
    operation_ids: set[str] = set()
    tags_seen: list[str] = []
    for route in app.routes:
        options = dict(route.options or {})
        if route.kind != "http" or not options.get("include_in_schema", True):
            continue
        methods = [m for m in route.methods if m != "HEAD" or "GET" not in route.methods]
        try:
            plan = plan_of(app, route)
        except Exception as exc:
            raise _undescribable(route, methods, exc) from exc
        path = _openapi_path(route.path)
        for method in methods:
            try:
                operation = _operation(route, method, plan, options, schemas, operation_ids)
            except Exception as exc:
                raise _undescribable(route, [method], exc) from exc
            if options.get("rate_limit"):
                operation["responses"].setdefault(
                    "429", _error_response("Too many requests: wait Retry-After seconds", schemas)
                )
            if options.get("etag") and method in ("GET", "HEAD"):
                operation["responses"].setdefault(
                    "304", {"description": "Not Modified: the If-None-Match ETag still matches"}
                )
            if app.problem_details:
                _as_problems(operation["responses"], schemas)
            for name, scheme, _, _ in plan.schemes():
                security_schemes[name] = scheme
            for tag in operation.get("tags", ()):
                if tag not in tags_seen:
                    tags_seen.append(tag)
            paths.setdefault(path, {})[method.lower()] = operation
    info: dict[str, Any] = {"title": app.title, "version": app.version}
    if app.description:
        info["description"] = app.description
    document: dict[str, Any] = {"openapi": "3.1.0", "info": info, "paths": paths}
    components: dict[str, Any] = {}
    resolved = schemas.resolve()
    if resolved:
        components["schemas"] = resolved
    if security_schemes:
        components["securitySchemes"] = security_schemes
    if components:
        document["components"] = components
    tags = list(app.openapi_tags or [])
    known = {tag["name"] for tag in tags}
    tags += [{"name": tag} for tag in tags_seen if tag not in known]
    if tags:
        document["tags"] = tags
    return document


def _undescribable(route: RouteInfo, methods: list[str], exc: Exception) -> ValueError:
    """One line: which route (and where) the OpenAPI document cannot describe, and why."""
    return ValueError(
        f"{defined_at(route.endpoint)}: {' '.join(methods)} {route.path} cannot be described "
        f"in OpenAPI: {exc}"
    )


def _openapi_path(template: str) -> str:
    """``/items/{item_id:int}`` → ``/items/{item_id}``."""
    pattern = PathPattern.parse(template)
    parts = [
        segment if isinstance(segment, str) else "{" + segment.name + "}"
        for segment in pattern.segments
    ]
    return "/" + "/".join(parts) if parts else template


def _operation(
    route: RouteInfo,
    method: str,
    plan: RoutePlan,
    options: dict[str, Any],
    schemas: _Schemas,
    operation_ids: set[str],
) -> dict[str, Any]:
    handler = route.endpoint
    summary, description = _doc_parts(handler)
    operation: dict[str, Any] = {}
    if options.get("tags"):
        operation["tags"] = list(options["tags"])
    operation["summary"] = options.get("summary") or summary or _title(route.name)
    if options.get("description") or description:
        operation["description"] = options.get("description") or description
    operation_id = options.get("operation_id") or route.name
    if operation_id in operation_ids:
        operation_id = f"{operation_id}_{method.lower()}"
    operation_ids.add(operation_id)
    operation["operationId"] = operation_id
    pattern = PathPattern.parse(route.path)
    converters = {spec.name: spec.converter.name for spec in pattern.params if spec.explicit}
    parameters = [
        _parameter(binding, converters, schemas)
        for binding in plan.bindings()
        if binding.source in ("path", "query", "header", "cookie")
    ]
    bound = {p["name"] for p in parameters if p["in"] == "path"}
    parameters[:0] = [  # path parameters no function reads are still part of the path
        {"name": spec.name, "in": "path", "required": True, "schema": _path_schema(spec)}
        for spec in pattern.params
        if spec.name not in bound
    ]
    if parameters:
        operation["parameters"] = parameters
    bodies = [b for b in plan.bindings() if b.source in REQUEST_BODY_MEDIA]
    fields = [b for b in plan.bindings() if b.source in ("form", "file")]
    if fields:
        operation["requestBody"] = _form_body(fields, schemas)
    elif bodies:
        body = bodies[0]
        operation["requestBody"] = {
            "required": body.required,
            "content": REQUEST_BODY_MEDIA[body.source](body, schemas),
        }
    validates = bool(parameters or bodies or fields)
    operation["responses"] = _responses(route, options, validates, schemas)
    body_source = "form" if fields else (bodies[0].source if bodies else "")
    for code, text in BODY_ERRORS.get(body_source, {}).items():
        operation["responses"].setdefault(code, _error_response(text, schemas))
    if plan.schemes():
        operation["security"] = _security(plan.schemes())
        for code, text in (("401", "Not authenticated"), ("403", "Not allowed")):
            operation["responses"].setdefault(code, _error_response(text, schemas))
    if options.get("deprecated"):
        operation["deprecated"] = True
    return operation


_FILE_SCHEMA = {"type": "string", "format": "binary"}


def _form_body(fields: list[Binding], schemas: _Schemas) -> dict[str, Any]:
    """Form fields and uploads as one request body: multipart when a file is among them."""
    uploads = False
    properties: dict[str, Any] = {}
    required: list[str] = []
    model: dict[str, Any] | None = None
    for binding in fields:
        inner, optional = _unwrap_optional(binding.annotation)
        many = typing.get_origin(inner) in (list, tuple, set, frozenset)
        item = typing.get_args(inner)[0] if many and typing.get_args(inner) else inner
        if is_upload_annotation(binding.annotation) or binding.source == "file":
            uploads = True
            schema: dict[str, Any] = dict(_FILE_SCHEMA)
        elif is_form_model(inner):
            model = schemas(inner)  # the form's fields are the model's fields
            continue
        else:
            schema = schemas(item)
        properties[binding.key] = {"type": "array", "items": schema} if many else schema
        if binding.required and not optional:
            required.append(binding.key)
    if model is not None and not properties:
        schema = model
    else:
        schema = {"type": "object", "properties": properties}
        if required:
            schema["required"] = required
    media = "multipart/form-data" if uploads else "application/x-www-form-urlencoded"
    return {"required": bool(required) or model is not None, "content": {media: {"schema": schema}}}


def _security(
    schemes: list[tuple[str, dict[str, Any], bool, tuple[str, ...]]],
) -> list[dict[str, list[str]]]:
    """Security Requirements: every required scheme together; else any optional one, or none.

    Each scheme lists the OAuth2 scopes the route asks of it (``Security(..., scopes=[...])``).
    """
    scopes: dict[str, list[str]] = {}
    for name, _, _, asked in schemes:
        known = scopes.setdefault(name, [])
        known.extend(scope for scope in asked if scope not in known)
    required = {name: scopes[name] for name, _, needed, _ in schemes if needed}
    if required:
        return [required]
    return [{}, *({name: scopes[name]} for name in scopes)]


def _parameter(binding: Binding, converters: dict[str, str], schemas: _Schemas) -> dict[str, Any]:
    inner = _unwrap_optional(binding.annotation)[0]
    if binding.source == "path" and converters.get(binding.name) in _PATH_CONVERTER_SCHEMAS:
        schema = dict(_PATH_CONVERTER_SCHEMAS[converters[binding.name]])
    else:
        schema = schemas(inner)
    required = binding.source == "path" or (
        binding.required and not _unwrap_optional(binding.annotation)[1]
    )
    if not required and binding.default is not inspect.Parameter.empty:
        default = _jsonable(binding.default)
        if default is not None:
            schema["default"] = default  # kept when the slot is filled in
    parameter = {"name": binding.key, "in": binding.source, "required": required}
    if binding.description:
        parameter["description"] = binding.description
    parameter["schema"] = schema
    return parameter


def _path_schema(spec: Any) -> dict[str, Any]:
    return dict(_PATH_CONVERTER_SCHEMAS.get(spec.converter.name, {"type": "string"}))


def _jsonable(value: Any) -> Any:
    try:
        return msgspec.json.decode(msgspec.json.encode(value))
    except (TypeError, ValueError):
        return None


def _responses(
    route: RouteInfo, options: dict[str, Any], validates: bool, schemas: _Schemas
) -> dict[str, Any]:
    model = options["response_model"] if "response_model" in options else _return_hint(route)
    status = route.status_code
    responses: dict[str, Any] = {}
    if model is None or model is type(None):
        responses[str(status or 204)] = {"description": "No content"}
    elif isinstance(model, type) and issubclass(model, Response):
        media = model.media_type or "application/octet-stream"
        responses[str(status or 200)] = {
            "description": "Successful response",
            "content": {media: {}},
        }
    elif model is inspect.Parameter.empty:
        responses[str(status or 200)] = {"description": "Successful response"}
    else:
        media = "text/plain" if model is str else "application/json"
        if model is bytes:
            media = "application/octet-stream"
        responses[str(status or 200)] = {
            "description": "Successful response",
            "content": {media: {"schema": schemas(model)}},
        }
    if validates:
        responses["422"] = {
            "description": "Validation error",
            "content": {"application/json": {"schema": schemas(ValidationErrorBody)}},
        }
    for code, extra in (options.get("responses") or {}).items():
        responses[str(int(code))] = _extra_response(extra, schemas)
    return responses


def _extra_response(extra: Any, schemas: _Schemas) -> dict[str, Any]:
    """``responses={404: ...}``: a Response Object dict, a description, or a body type."""
    if isinstance(extra, dict):
        return extra
    if isinstance(extra, str):
        return _error_response(extra, schemas)
    return {
        "description": getattr(extra, "__name__", "Response"),
        "content": {"application/json": {"schema": schemas(extra)}},
    }


def _error_response(description: str, schemas: _Schemas) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": schemas(ErrorBody)}},
    }


def _as_problems(responses: dict[str, Any], schemas: _Schemas) -> None:
    """With ``problem_details=True`` every error answer is an RFC 9457 problem document."""
    from velocipy.problems import PROBLEM_MEDIA_TYPE, ProblemBody, ValidationProblemBody

    for code, response in responses.items():
        if not code.isdigit() or int(code) < 400 or not isinstance(response, dict):
            continue
        content = response.get("content", {})
        if set(content) != {"application/json"}:
            continue  # a response the route described itself in another media type
        described = schemas.type_of(content["application/json"].get("schema"))
        if described not in (ErrorBody, ValidationErrorBody):
            continue  # the route's own error model: left as declared
        body = ValidationProblemBody if code == "422" else ProblemBody
        response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": schemas(body)}}


def _return_hint(route: RouteInfo) -> Any:
    handler = inspect.unwrap(route.endpoint)
    try:
        hints = typing.get_type_hints(handler, include_extras=True)
    except Exception:  # an unresolvable annotation documents nothing rather than failing
        return inspect.Parameter.empty
    return hints.get("return", inspect.Parameter.empty)


def _doc_parts(handler: Callable[..., Any]) -> tuple[str, str]:
    doc = inspect.getdoc(handler) or ""
    first, _, rest = doc.partition("\n")
    return first.strip(), rest.strip()


def _title(name: str) -> str:
    return " ".join(word.capitalize() for word in name.split("_") if word)
