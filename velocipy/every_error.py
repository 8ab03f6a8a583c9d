"""Every problem of a request in one 422, found on the failure path only.

msgspec stops at the first error of a body, which keeps the success path fast. When it fails,
the body is validated again here, field by field (nested Structs, dataclasses and TypedDicts
too), so the 422 lists every field that does not fit; and a request whose path, query, header
or cookie already failed still has its body checked, so the answer lists those together.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Union, get_args, get_origin

import msgspec

from velocipy.exceptions import HTTPException, RequestValidationError

__all__ = ["body_errors", "field_errors", "plan_errors"]

ErrorList = list[dict[str, Any]]


async def body_errors(read_body: Callable[[Any], Awaitable[Any]], connection: Any) -> ErrorList:
    """The body's validation errors, for a request that already failed elsewhere.

    A body that is not JSON at all (415, invalid JSON) adds nothing: the errors found so far
    are the answer.
    """
    try:
        await read_body(connection)
    except RequestValidationError as exc:
        return exc.errors if exc.status_code == 422 else []
    except HTTPException:
        return []
    return []


def plan_errors(plan: Any) -> Callable[[Any], Awaitable[ErrorList]]:
    """A dependency plan's ``Endpoint.other_errors``: every binding's errors but the path's,
    read without calling any provider (the steps are read per call: overrides re-plan)."""

    async def other_errors(request: Any) -> ErrorList:
        errors: ErrorList = []
        for step in plan.steps:
            for binding in step.bindings:
                if binding.source in ("query", "header", "cookie") and binding.extract:
                    binding.extract(request, errors)
                elif binding.body is not None:
                    errors += await body_errors(binding.body, request)
        return errors

    return other_errors


def field_errors(data: Any, target: Any, loc: list[str | int], first: ErrorList) -> ErrorList:
    """Every error of ``data`` against ``target``; ``first`` (msgspec's own) if none is found
    field by field (a ``__post_init__`` check, an unknown field...)."""
    found = _errors(data, target, loc)
    return found or first


def _errors(data: Any, target: Any, loc: list[str | int]) -> ErrorList:
    fields = _fields(_bare(target))
    if fields is None or not isinstance(data, dict):
        return []
    errors: ErrorList = []
    for key, annotation, required in fields:
        if key not in data:
            if required:  # located at the object, as msgspec (and form fields) do
                errors.append(
                    {
                        "loc": list(loc),
                        "msg": f"Object missing required field `{key}`",
                        "type": "missing",
                    }
                )
            continue
        try:
            msgspec.convert(data[key], annotation)
        except msgspec.ValidationError as exc:
            from velocipy.params import validation_errors

            nested = _errors(data[key], annotation, [*loc, key])
            if nested:
                errors += nested
                continue
            for error in validation_errors(exc):
                error["loc"] = [*loc, key, *error["loc"][1:]]
                errors.append(error)
    return errors


def _bare(annotation: Any) -> Any:
    """``Annotated[X | None, ...]`` → ``X`` (a nested object may be optional)."""
    if get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if get_origin(annotation) in (Union, types.UnionType):
        members = [m for m in get_args(annotation) if m is not type(None)]
        if len(members) == 1:
            return members[0]
    return annotation


def _required_removed(hint: Any) -> Any:
    """``NotRequired[X]`` / ``Required[X]`` (kept by ``include_extras``) → ``X``."""
    if get_origin(hint) in (typing.Required, typing.NotRequired):
        return get_args(hint)[0]
    return hint


def _fields(target: Any) -> list[tuple[str, Any, bool]] | None:
    """(wire name, annotation, required) of a Struct, dataclass or TypedDict; else None."""
    if not isinstance(target, type):
        return None
    if issubclass(target, msgspec.Struct):
        return [
            (field.encode_name, field.type, field.required)
            for field in msgspec.structs.fields(target)
        ]
    if dataclasses.is_dataclass(target):
        hints = typing.get_type_hints(target, include_extras=True)
        return [
            (
                field.name,
                hints.get(field.name, Any),
                field.default is dataclasses.MISSING
                and field.default_factory is dataclasses.MISSING,
            )
            for field in dataclasses.fields(target)
            if field.init
        ]
    if typing.is_typeddict(target):
        hints = typing.get_type_hints(target, include_extras=True)
        required = getattr(target, "__required_keys__", frozenset(hints))
        return [(name, _required_removed(hint), name in required) for name, hint in hints.items()]
    return None
