"""The AsyncAPI 3.0 document of an app's WebSocket routes.

Each WebSocket route is a channel: its address is the path template, its parameters the path
parameters, and its ``ws`` binding lists the query parameters and headers the route's plan
reads (its own and its dependencies'). Message types come from the route's declaration,
``@app.websocket(path, receives=Move, sends=Board)``: ``receives`` is also what
``websocket.receive_json()`` validates into, so the document and the checks cannot disagree.
Operations follow AsyncAPI 3.0's point of view, the app's: it *receives* what clients send.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

import msgspec

from velocipy.asyncapi_examples import example_for
from velocipy.openapi import _jsonable, plan_of
from velocipy.params import _unwrap_optional
from velocipy.routing import PathPattern

if TYPE_CHECKING:
    from velocipy.application import Application

__all__ = ["build_asyncapi"]

_REF = "#/components/schemas/{name}"


def build_asyncapi(app: Application) -> dict[str, Any]:
    """The AsyncAPI 3.0 document (a dict ready for JSON) of every WebSocket route in ``app``."""
    routes = [
        route
        for route in app.routes
        if route.kind == "websocket" and (route.options or {}).get("include_in_schema", True)
    ]
    types: list[Any] = []
    for route in routes:
        options = route.options or {}
        types += [options[key] for key in ("receives", "sends") if options.get(key) is not None]
    unique = list(dict.fromkeys(types))
    schemas, components = msgspec.json.schema_components(unique, ref_template=_REF)
    messages: dict[str, Any] = {}
    message_names: dict[Any, str] = {}
    for annotation, schema in zip(unique, schemas, strict=True):
        name = _message_name(annotation, messages)
        message_names[annotation] = name
        messages[name] = {
            "name": name,
            "contentType": "application/json",
            "payload": schema,
            "examples": [{"payload": example_for(schema, components)}],
        }
        doc = inspect.getdoc(annotation) if isinstance(annotation, type) else None
        if doc:
            messages[name]["summary"] = doc.partition("\n")[0]

    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for route in routes:
        options = route.options or {}
        channel_id = route.name
        channel: dict[str, Any] = {"address": _address(route.path)}
        summary, _, description = (inspect.getdoc(route.endpoint) or "").partition("\n")
        if options.get("summary") or summary:
            channel["summary"] = options.get("summary") or summary.strip()
        if options.get("description") or description.strip():
            channel["description"] = options.get("description") or description.strip()
        # a handler that takes only the socket binds nothing (its annotation may not resolve)
        bindings = plan_of(app, route).bindings() if _binds_more(route) else []
        parameters = {
            spec.name: {"description": f"path parameter {spec.name}"}
            for spec in PathPattern.parse(route.path).params
        }
        if parameters:
            channel["parameters"] = parameters
        binding = _ws_binding(bindings)
        if binding:
            channel["bindings"] = {"ws": binding}
        channel_messages: dict[str, Any] = {}
        for key, action in (("receives", "receive"), ("sends", "send")):
            annotation = options.get(key)
            if annotation is None:
                continue
            name = message_names[annotation]
            channel_messages[name] = {"$ref": f"#/components/messages/{name}"}
            operations[f"{channel_id}_{action}"] = {
                "action": action,
                "channel": {"$ref": f"#/channels/{channel_id}"},
                "messages": [{"$ref": f"#/channels/{channel_id}/messages/{name}"}],
            }
        if channel_messages:
            channel["messages"] = channel_messages
        if options.get("tags"):
            channel["tags"] = [{"name": tag} for tag in options["tags"]]
        channels[channel_id] = channel

    info: dict[str, Any] = {"title": app.title, "version": app.version}
    if app.description:
        info["description"] = app.description
    document: dict[str, Any] = {
        "asyncapi": "3.0.0",
        "info": info,
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
    }
    if messages or components:
        document["components"] = {}
        if components:
            document["components"]["schemas"] = dict(sorted(components.items()))
        if messages:
            document["components"]["messages"] = messages
    return document


def _binds_more(route: Any) -> bool:
    from velocipy.dependencies import binds_more_than_the_websocket

    return bool((route.options or {}).get("dependencies")) or binds_more_than_the_websocket(
        route.endpoint
    )


def _message_name(annotation: Any, taken: dict[str, Any]) -> str:
    base = getattr(annotation, "__name__", None) or "Message"
    name, number = base, 2
    while name in taken:
        name, number = f"{base}{number}", number + 1
    return name


def _address(template: str) -> str:
    """``/rooms/{room:str}`` → ``/rooms/{room}``."""
    parts = []
    for part in template.split("/"):
        if part.startswith("{") and ":" in part:
            part = part.split(":", 1)[0] + "}"
        parts.append(part)
    return "/".join(parts)


def _ws_binding(bindings: list[Any]) -> dict[str, Any]:
    """The ``ws`` channel binding: query parameters and headers as JSON Schema objects."""
    found: dict[str, Any] = {}
    for source, key in (("query", "query"), ("header", "headers")):
        chosen = [b for b in bindings if b.source == source]
        if not chosen:
            continue
        properties: dict[str, Any] = {}
        required: list[str] = []
        for binding in chosen:
            inner, optional = _unwrap_optional(binding.annotation)
            try:
                schema = msgspec.json.schema(inner)
            except (TypeError, ValueError):
                schema = {}
            schema.pop("$defs", None)
            default = binding.default
            if default is not inspect.Parameter.empty and _jsonable(default) is not None:
                schema["default"] = _jsonable(default)
            properties[binding.key] = schema
            if binding.required and not optional:
                required.append(binding.key)
        schema_object: dict[str, Any] = {"type": "object", "properties": properties}
        if required:
            schema_object["required"] = required
        found[key] = schema_object
    if found:
        found["bindingVersion"] = "0.1.0"
    return found
