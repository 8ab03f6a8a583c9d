"""Registration checks: a route that cannot work is refused when it is registered.

Each refusal is one line that names the handler's file and line, what is wrong, and the fix,
so the mistake stops the app at import (``velocipy run`` shows that line) instead of answering
wrong in production. Everything here runs once per route, never per request.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Annotated, Any, Union, get_args, get_origin

import msgspec

__all__ = [
    "RouteDefinitionError",
    "check_handler",
    "check_options",
    "check_path_placeholders",
    "check_query_parameter",
    "defined_at",
    "described_as",
]


class RouteDefinitionError(TypeError):
    """A route that cannot work as written; the message is one line: ``file:line: ... fix``."""


def defined_at(handler: Callable[..., Any]) -> str:
    """``path/to/file.py:12``: where ``handler`` is defined (relative to the working folder)."""
    target = inspect.unwrap(handler)
    code = getattr(target, "__code__", None)
    if code is None:
        return getattr(target, "__module__", None) or "<unknown>"
    filename = code.co_filename
    try:
        relative = os.path.relpath(filename)
        if not relative.startswith(".."):
            filename = relative
    except ValueError:  # another drive (Windows)
        pass
    return f"{filename}:{code.co_firstlineno}"


def described_as(handler: Callable[..., Any]) -> str:
    """``handler read_item (main.py:12)``: how messages name a handler."""
    name = getattr(handler, "__qualname__", None) or type(handler).__qualname__
    return f"handler {name} ({defined_at(handler)})"


def _refuse(handler: Callable[..., Any], message: str) -> RouteDefinitionError:
    name = getattr(handler, "__qualname__", None) or type(handler).__qualname__
    return RouteDefinitionError(f"{defined_at(handler)}: {name}: {message}")


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    import difflib  # only when a route is refused

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


# --- route options ---------------------------------------------------------------------------
def check_options(
    handler: Callable[..., Any],
    options: Mapping[str, Any],
    allowed: Iterable[str],
    keywords: Iterable[str] = ("name", "status_code"),
) -> None:
    """Refuse keyword arguments a route decorator does not know (``status_cod=201``).

    ``allowed`` is the set of ``RouteOptions`` keys, read from the TypedDict itself so that a
    key added there is accepted here without a second list.
    """
    known = set(allowed)
    unknown = [key for key in options if key not in known]
    if not unknown:
        return
    key = unknown[0]
    choices = sorted({*known, *keywords})
    raise _refuse(
        handler,
        f"unknown route option {key}={options[key]!r}{_did_you_mean(key, choices)}; "
        f"a route takes: {', '.join(choices)}",
    )


# --- the handler itself ---------------------------------------------------------------------
def check_handler(handler: Callable[..., Any], pattern: Any, hints: Mapping[str, Any]) -> None:
    """What an HTTP handler's definition alone rules out: a generator, a return annotation
    that cannot be encoded, a path parameter typed against its template's converter."""
    target = inspect.unwrap(handler)
    if inspect.isasyncgenfunction(target) or inspect.isgeneratorfunction(target):
        kind = "an async generator" if inspect.isasyncgenfunction(target) else "a generator"
        raise _refuse(
            handler,
            f"a handler cannot be {kind} (it yields); return "
            "StreamingResponse(gen()) to stream a body, or EventSourceResponse(gen()) for "
            "server-sent events",
        )
    _check_return(handler, target)
    for spec in pattern.params:
        if spec.explicit and spec.name in hints:
            _check_converter(handler, pattern.template, spec, hints[spec.name])


def _check_return(handler: Callable[..., Any], target: Callable[..., Any]) -> None:
    raw = getattr(target, "__annotations__", {}).get("return", inspect.Parameter.empty)
    if raw is inspect.Parameter.empty:
        return
    try:
        annotation = typing.get_type_hints(target, include_extras=True).get("return")
    except Exception:  # an annotation that does not resolve documents nothing; not our call
        return
    offending = _unencodable(annotation)
    if offending is None:
        return
    shown = getattr(offending, "__qualname__", None) or repr(offending)
    advice = (
        f"make {shown} a msgspec.Struct (or a dataclass / TypedDict)"
        if _looks_like_a_model(offending)
        else "return dict, list, str, bytes, None, a msgspec.Struct, a dataclass or a Response"
    )
    raise _refuse(handler, f"the return annotation {shown} cannot be encoded as JSON; {advice}")


def _unencodable(annotation: Any) -> Any:
    """The class in a return annotation that is neither a Response nor encodable, or None."""
    from velocipy.responses import Response

    if get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if annotation in (None, type(None), Any, object):
        return None
    if get_origin(annotation) in (Union, types.UnionType):
        for member in get_args(annotation):
            found = _unencodable(member)
            if found is not None:
                return found
        return None
    if isinstance(annotation, type) and issubclass(annotation, Response):
        return None
    origin = get_origin(annotation)
    if origin is not None and isinstance(origin, type) and issubclass(origin, Response):
        return None
    try:
        info = msgspec.inspect.type_info(annotation)
    except (TypeError, ValueError):
        return annotation
    for cls in _custom_classes(info, set()):
        if cls is not object and not issubclass(cls, Response):
            return cls
    return None


def _custom_classes(info: Any, seen: set[int]) -> Iterable[type]:
    """Every ``CustomType`` class inside a ``msgspec.inspect`` type, depth first."""
    if id(info) in seen:
        return
    seen.add(id(info))
    if isinstance(info, msgspec.inspect.CustomType):
        yield info.cls
        return
    for name in getattr(info, "__struct_fields__", ()):
        value = getattr(info, name)
        for item in value if isinstance(value, tuple) else (value,):
            if isinstance(item, msgspec.inspect.Field):
                item = item.type
            if isinstance(item, msgspec.inspect.Type):
                yield from _custom_classes(item, seen)


def _looks_like_a_model(annotation: Any) -> bool:
    """A plain class with annotated fields: probably meant as a Struct."""
    return (
        isinstance(annotation, type)
        and bool(getattr(annotation, "__annotations__", None))
        and not dataclasses.is_dataclass(annotation)
    )


def _check_converter(
    handler: Callable[..., Any], template: str, spec: Any, annotation: Any
) -> None:
    from velocipy.routing import converter_for_annotation

    base = _bare(annotation)
    if base in (Any, object):
        return
    wanted = "str" if spec.converter.name == "path" else spec.converter.name
    got = converter_for_annotation(base).name
    if got == wanted:
        return
    shown = getattr(base, "__name__", repr(base))
    raise _refuse(
        handler,
        f"path parameter {spec.name!r} is {{{spec.name}:{spec.converter.name}}} in "
        f"{template!r} but annotated {shown}; annotate it {wanted}, or write {{{spec.name}}} "
        f"and let the annotation type it",
    )


def _bare(annotation: Any) -> Any:
    """``Annotated[X | None, ...]`` → ``X``."""
    if get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if get_origin(annotation) in (Union, types.UnionType):
        members = [m for m in get_args(annotation) if m is not type(None)]
        if len(members) == 1:
            return members[0]
    return annotation


# --- parameters ------------------------------------------------------------------------------
def check_path_placeholders(
    handler: Callable[..., Any], pattern: Any, bound: Iterable[str], takes_request: bool
) -> None:
    """Every ``{name}`` of the path must be some parameter (of the handler or a dependency).

    A handler (or provider) that takes the ``Request`` may read ``request.path_params``
    itself, so it is left alone.
    """
    if takes_request:
        return
    names = set(bound)
    for spec in pattern.params:
        if spec.name in names:
            continue
        import difflib  # only when a route is refused

        parameters = list(inspect.signature(handler).parameters)
        close = difflib.get_close_matches(spec.name, parameters, n=1, cutoff=0.6)
        hint = f" (did you mean to name {close[0]!r} {spec.name!r}?)" if close else ""
        raise _refuse(
            handler,
            f"the path {pattern.template!r} has {{{spec.name}}} but no parameter is called "
            f"{spec.name!r}{hint}; add a parameter {spec.name} to the handler",
        )


def check_query_parameter(handler: Callable[..., Any], name: str, annotation: Any) -> None:
    """A parameter read from the query, a header or a cookie must convert from text.

    Anything else is a mistake: a body class that forgot ``msgspec.Struct``, or a resource
    (a database session...) that forgot ``Depends``.
    """
    base = _bare(annotation)
    if get_origin(base) in (list, tuple, set, frozenset) and get_args(base):
        base = _bare(get_args(base)[0])
    try:
        custom = isinstance(msgspec.inspect.type_info(base), msgspec.inspect.CustomType)
    except (TypeError, ValueError):
        custom = True
    if not custom:
        return
    shown = getattr(base, "__name__", None) or repr(base)
    if _looks_like_a_model(base):
        fix = (
            f"to read it from the JSON body, declare `class {shown}(msgspec.Struct)` "
            "(or make it a dataclass or a TypedDict)"
        )
    else:
        fix = (
            f"if a provider makes it, write `{name}: Annotated[{shown}, Depends(provider)]` "
            f"(or `{name}: {shown} = Depends(provider)`)"
        )
    raise _refuse(
        handler,
        f"parameter {name!r}: {shown} cannot be read from the query string, a header "
        f"or a cookie; {fix}",
    )
