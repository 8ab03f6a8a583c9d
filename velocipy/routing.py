"""Route tables: one dict lookup for static paths, a segment tree for paths with parameters.

Everything is decided when a route is registered: the path is parsed, converters are chosen,
conflicts are refused. Matching then costs one dict lookup per path segment, whatever the
number of routes.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, NamedTuple, TypeVar
from urllib.parse import quote

import msgspec

from velocipy.exceptions import RequestValidationError

__all__ = [
    "CONVERTERS",
    "Converter",
    "ParamSpec",
    "PathPattern",
    "PathValidationError",
    "RouteInfo",
    "RouteTable",
]

E = TypeVar("E")


class Converter(NamedTuple):
    """Turns one path parameter from text into a value (``ValueError`` with a message if not)."""

    name: str
    convert: Callable[[str], Any]
    error_type: str


_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


def _to_int(text: str) -> int:
    if not (text.isdigit() and text.isascii()):  # PERF: plain ASCII digits, the usual case
        digits = text[1:] if text.startswith("-") else text
        # int() alone would also take "1_0", " 1" and non-ASCII digits.
        if not (digits.isascii() and digits.isdigit()):
            raise ValueError(f"'{text}' is not a whole number")
    try:
        return int(text)
    except ValueError:  # over sys.get_int_max_str_digits(): Python's advice is not the client's
        limit = sys.get_int_max_str_digits()
        count = len(text.lstrip("-"))
        message = f"a whole number of {count} digits is longer than the limit of {limit}"
        raise ValueError(message) from None


def _to_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"'{text}' is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"'{text}' is not a finite number")
    return value


def _to_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"'{text}' is not a boolean (use true/false, 1/0, yes/no or on/off)")


def _to_str(text: str) -> str:
    return text


CONVERTERS: dict[str, Converter] = {
    "int": Converter("int", _to_int, "int_parsing"),
    "float": Converter("float", _to_float, "float_parsing"),
    "bool": Converter("bool", _to_bool, "bool_parsing"),
    "str": Converter("str", _to_str, "string_type"),
    "path": Converter("path", _to_str, "string_type"),
}
_BY_ANNOTATION: dict[Any, Converter] = {
    int: CONVERTERS["int"],
    float: CONVERTERS["float"],
    bool: CONVERTERS["bool"],
    str: CONVERTERS["str"],
}


def converter_for_annotation(annotation: Any) -> Converter:
    """The converter a handler's annotation asks for (msgspec handles the rest: UUID, Enum...)."""
    known = _BY_ANNOTATION.get(annotation)
    if known is not None:
        return known

    def convert(text: str) -> Any:
        try:
            return msgspec.convert(text, annotation, strict=False)
        except msgspec.ValidationError as exc:
            raise ValueError(f"'{text}' is not valid: {exc}") from None

    return Converter(getattr(annotation, "__name__", str(annotation)), convert, "value_error")


@dataclass(frozen=True)
class ParamSpec:
    name: str
    converter: Converter
    explicit: bool  # the template named the converter ({id:int}); else the annotation may


_PARAM = re.compile(r"^\{([A-Za-z_][A-Za-z0-9_]*)(?::([A-Za-z_]+))?\}$")


@dataclass(frozen=True)
class PathPattern:
    """A parsed path template such as ``/users/{id:int}/files/{rest:path}``."""

    template: str
    segments: tuple[str | ParamSpec, ...]
    params: tuple[ParamSpec, ...]

    @classmethod
    def parse(cls, template: str) -> PathPattern:
        if not template.startswith("/"):
            raise ValueError(f"route path {template!r} must start with '/'")
        segments: list[str | ParamSpec] = []
        params: list[ParamSpec] = []
        raw_segments = template[1:].split("/")
        for position, raw in enumerate(raw_segments):
            if "{" not in raw and "}" not in raw:
                segments.append(raw)
                continue
            match = _PARAM.match(raw)
            if not match:
                raise ValueError(
                    f"route path {template!r}: segment {raw!r} must be a whole parameter like "
                    "'{name}' or '{name:int}'"
                )
            name, conv_name = match.groups()
            if conv_name is not None and conv_name not in CONVERTERS:
                raise ValueError(
                    f"route path {template!r}: unknown converter {conv_name!r} "
                    f"(use one of {', '.join(CONVERTERS)})"
                )
            if any(p.name == name for p in params):
                raise ValueError(f"route path {template!r} uses parameter {name!r} twice")
            if conv_name == "path" and position != len(raw_segments) - 1:
                raise ValueError(f"route path {template!r}: a path parameter must come last")
            spec = ParamSpec(name, CONVERTERS[conv_name or "str"], conv_name is not None)
            segments.append(spec)
            params.append(spec)
        return cls(template, tuple(segments), tuple(params))

    @property
    def is_static(self) -> bool:
        return not self.params

    def with_converters(self, annotations: dict[str, Any]) -> PathPattern:
        """Let handler annotations type the parameters the template left untyped."""
        if not any(not p.explicit and p.name in annotations for p in self.params):
            return self
        specs = {
            p.name: ParamSpec(p.name, converter_for_annotation(annotations[p.name]), True)
            if not p.explicit and p.name in annotations
            else p
            for p in self.params
        }
        segments = tuple(specs[s.name] if isinstance(s, ParamSpec) else s for s in self.segments)
        return PathPattern(self.template, segments, tuple(specs[p.name] for p in self.params))

    def convert(self, values: Sequence[str]) -> dict[str, Any]:
        """Convert matched text values; a 422 names every parameter that does not fit."""
        try:
            if len(values) == 1:  # PERF: one parameter, the usual case, without zip
                spec = self.params[0]
                return {spec.name: spec.converter.convert(values[0])}
            return {
                spec.name: spec.converter.convert(text)
                for spec, text in zip(self.params, values, strict=True)
            }
        except ValueError:
            pass
        converted: dict[str, Any] = {}
        errors: list[dict[str, Any]] = []
        for spec, text in zip(self.params, values, strict=True):
            try:
                converted[spec.name] = spec.converter.convert(text)
            except ValueError as exc:
                errors.append(
                    {"loc": ["path", spec.name], "msg": str(exc), "type": spec.converter.error_type}
                )
        if errors:
            raise PathValidationError(errors)
        return converted

    def build(self, params: dict[str, Any]) -> str:
        """The path for these parameter values (``url_for``)."""
        missing = [p.name for p in self.params if p.name not in params]
        if missing:
            raise ValueError(f"{self.template!r} needs parameter(s): {', '.join(missing)}")
        extra = sorted(set(params) - {p.name for p in self.params})
        if extra:
            raise ValueError(f"{self.template!r} has no parameter(s): {', '.join(extra)}")
        parts: list[str] = []
        for segment in self.segments:
            if isinstance(segment, str):
                parts.append(segment)
                continue
            value = params[segment.name]
            if isinstance(value, bool):
                value = "true" if value else "false"
            safe = "/" if segment.converter.name == "path" else ""
            parts.append(quote(str(value), safe=safe))
        return "/" + "/".join(parts)

    @property
    def shape(self) -> str:
        """The template with parameter names erased: two patterns of one shape collide."""
        return "/" + "/".join(
            s if isinstance(s, str) else ("{:path}" if s.converter.name == "path" else "{}")
            for s in self.segments
        )


class PathValidationError(RequestValidationError):
    """A path parameter that does not convert; ``entry`` is the route it was matched to, so the
    answer can list the request's other errors with it (see ``every_error``)."""

    entry: Any = None


class RouteInfo(NamedTuple):
    """A registered route, as ``app.routes`` lists it."""

    kind: str  # "http" or "websocket"
    path: str
    methods: tuple[str, ...]
    name: str
    endpoint: Callable[..., Any]  # the handler as written
    options: Mapping[str, Any] | None = None  # RouteOptions: dependencies, tags, summary...
    compiled: Any = None  # what dispatch runs: an HTTP Endpoint (its .plan) or a WS handler
    status_code: int | None = None


@dataclass
class RouteEntry(Generic[E]):
    """Everything registered under one path pattern: an endpoint per method."""

    pattern: PathPattern
    endpoints: dict[str, E] = field(default_factory=dict)
    handlers: dict[str, Callable[..., Any]] = field(default_factory=dict)
    allow: str = ""


class _Node(Generic[E]):
    __slots__ = ("catch_all", "entry", "param", "static")

    def __init__(self) -> None:
        self.static: dict[str, _Node[E]] = {}
        self.param: _Node[E] | None = None
        self.catch_all: RouteEntry[E] | None = None
        self.entry: RouteEntry[E] | None = None


class RouteTable(Generic[E]):
    """Maps a path to the entry registered for it, plus the raw parameter values."""

    def __init__(self) -> None:
        self.static: dict[str, RouteEntry[E]] = {}
        # PERF: patterns whose only parameter is their last segment ("/users/{id}"), keyed by
        # the static part before it ("/users"), with that parameter's name and converter: one
        # dict lookup instead of the tree walk.
        self._last_param: dict[str, tuple[RouteEntry[E], str, Callable[[str], Any]]] = {}
        self._root: _Node[E] = _Node()
        self._by_shape: dict[str, RouteEntry[E]] = {}

    def entry_for(self, pattern: PathPattern) -> RouteEntry[E]:
        """The entry for ``pattern``, creating it; refuses a pattern that collides with another."""
        existing = self._by_shape.get(pattern.shape)
        if existing is not None:
            if existing.pattern.template != pattern.template:
                raise ValueError(
                    f"route {pattern.template!r} conflicts with {existing.pattern.template!r}: "
                    "they match the same paths. Use one template (same parameter names and "
                    "converters) for both."
                )
            if existing.pattern.params != pattern.params:
                raise ValueError(
                    f"route {pattern.template!r}: handlers on this path type its parameters "
                    "differently; give the converter in the template (e.g. '{id:int}') or "
                    "annotate the parameter the same way in every handler"
                )
            return existing
        entry: RouteEntry[E] = RouteEntry(pattern)
        self._by_shape[pattern.shape] = entry
        if pattern.is_static:
            self.static[pattern.template] = entry
        else:
            self._insert(entry)
            last = pattern.segments[-1]
            if (
                len(pattern.params) == 1
                and isinstance(last, ParamSpec)
                and last.converter.name != "path"
            ):
                head = "".join(f"/{segment}" for segment in pattern.segments[:-1])
                self._last_param[head] = (entry, last.name, last.converter.convert)
        return entry

    def _insert(self, entry: RouteEntry[E]) -> None:
        node = self._root
        for segment in entry.pattern.segments:
            if isinstance(segment, str):
                node = node.static.setdefault(segment, _Node())
            elif segment.converter.name == "path":
                node.catch_all = entry
                return
            else:
                if node.param is None:
                    node.param = _Node()
                node = node.param
        node.entry = entry

    def match(self, path: str) -> tuple[RouteEntry[E], list[str]] | None:
        """Find the entry for ``path``: static segments win over parameters, then catch-alls."""
        entry = self.static.get(path)
        if entry is not None:
            return entry, []
        return self.match_params(path)

    def match_params(self, path: str) -> tuple[RouteEntry[E], list[str]] | None:
        """:meth:`match` for a path already known not to be a static route."""
        # The tree prefers static segments, so a pattern with one trailing parameter after
        # static segments is what the walk would find too (a static route is never in the way:
        # those were looked up first).
        head, _, last = path.rpartition("/")
        if last:
            found = self._last_param.get(head)
            if found is not None:
                return found[0], [last]
        return self._walk_tree(path)

    def lookup_params(self, path: str) -> tuple[RouteEntry[E], dict[str, Any]] | None:
        """:meth:`match_params` with the values converted (``RequestValidationError``: a 422)."""
        head, _, last = path.rpartition("/")
        if last:
            found = self._last_param.get(head)
            if found is not None:
                entry, name, convert = found
                try:  # PERF: one parameter converted here, without building the values list
                    return entry, {name: convert(last)}
                except ValueError:
                    return entry, _converted_or_raise(entry, [last])  # the precise 422
        matched = self._walk_tree(path)
        if matched is None:
            return None
        try:
            return matched[0], matched[0].pattern.convert(matched[1])
        except PathValidationError as exc:
            exc.entry = matched[0]
            raise

    def _walk_tree(self, path: str) -> tuple[RouteEntry[E], list[str]] | None:
        segments = path[1:].split("/")
        values: list[str] = []
        # PERF: follow the preferred branch (static, then parameter, then catch-all) without
        # recursion; only when that dead-ends does the full backtracking walk run.
        node: _Node[E] | None = self._root
        for index, segment in enumerate(segments):
            assert node is not None
            child = node.static.get(segment)
            if child is None and segment and node.param is not None:
                values.append(segment)
                child = node.param
            if child is None:
                if node.catch_all is not None:
                    values.append("/".join(segments[index:]))
                    return node.catch_all, values
                break
            node = child
        else:
            if node is not None and node.entry is not None:
                return node.entry, values
        values = []
        found = _walk(self._root, segments, 0, values)
        if found is None:
            return None
        return found, values

    def __bool__(self) -> bool:
        return bool(self._by_shape)


def _converted_or_raise(entry: RouteEntry[E], values: list[str]) -> dict[str, Any]:
    try:
        return entry.pattern.convert(values)
    except PathValidationError as exc:
        exc.entry = entry
        raise


def _walk(
    node: _Node[E], segments: list[str], index: int, values: list[str]
) -> RouteEntry[E] | None:
    if index == len(segments):
        return node.entry
    segment = segments[index]
    child = node.static.get(segment)
    if child is not None:
        found = _walk(child, segments, index + 1, values)
        if found is not None:
            return found
    if node.param is not None and segment:
        values.append(segment)
        found = _walk(node.param, segments, index + 1, values)
        if found is not None:
            return found
        values.pop()
    if node.catch_all is not None:
        values.append("/".join(segments[index:]))
        return node.catch_all
    return None
