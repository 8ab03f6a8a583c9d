"""Small value types shared by requests, WebSockets and responses."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, NamedTuple, TypeVar, overload
from urllib.parse import parse_qsl

__all__ = ["URL", "Address", "Headers", "MutableHeaders", "QueryParams", "State"]

_Default = TypeVar("_Default")


class Address(NamedTuple):
    host: str
    port: int


class URL(NamedTuple):
    """The request URL, built from structured parts (never re-parsed from the Host header)."""

    scheme: str
    host: str
    port: int | None
    path: str
    query: str

    @property
    def netloc(self) -> str:
        default_port = {"http": 80, "https": 443, "ws": 80, "wss": 443}.get(self.scheme)
        if self.port is None or self.port == default_port:
            return self.host
        return f"{self.host}:{self.port}"

    def __str__(self) -> str:
        query = f"?{self.query}" if self.query else ""
        return f"{self.scheme}://{self.netloc}{self.path}{query}"


class _MultiMapping(Mapping[str, str]):
    """A read-only multi-dict: ``m[key]`` is the first value, ``get_list(key)`` all of them."""

    __slots__ = ("_index", "_items")

    _items: list[tuple[str, str]]
    _index: dict[str, list[str]] | None

    def _normalize(self, key: str) -> str:
        return key

    def _lookup(self) -> dict[str, list[str]]:
        index = self._index
        if index is None:
            index = {}
            for key, value in self._items:
                index.setdefault(key, []).append(value)
            self._index = index
        return index

    def __getitem__(self, key: str) -> str:
        return self._lookup()[self._normalize(key)][0]

    @overload
    def get(self, key: str) -> str | None: ...

    @overload
    def get(self, key: str, default: str | _Default) -> str | _Default: ...

    def get(self, key: str, default: Any = None) -> Any:
        """The first value of ``key``, or ``default``.

        PERF: Mapping.get goes through __getitem__ and catches its KeyError: an absent header
        (most of them, most of the time) cost a raised exception.
        """
        values = self._lookup().get(self._normalize(key))
        return default if values is None else values[0]

    def get_list(self, key: str) -> list[str]:
        """Every value given for ``key``, in order (empty if none)."""
        return list(self._lookup().get(self._normalize(key), ()))

    getlist = get_list

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._normalize(key) in self._lookup()

    def __iter__(self) -> Iterator[str]:
        return iter(self._lookup())

    def __len__(self) -> int:
        return len(self._lookup())

    def multi_items(self) -> list[tuple[str, str]]:
        """Every (key, value) pair, duplicates included, in order."""
        return list(self._items)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _MultiMapping):
            return sorted(self._items) == sorted(other._items)
        return super().__eq__(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._items!r})"


class Headers(_MultiMapping):
    """Request headers: names answer case-insensitively; repeated headers keep every value."""

    __slots__ = ()

    def __init__(self, items: Sequence[tuple[str, str]] = ()) -> None:
        self._items = [(name.lower(), value) for name, value in items]
        self._index = None

    @classmethod
    def _from_lowercase(cls, items: list[tuple[str, str]]) -> Headers:
        """Build from pairs whose names are already lower-case (what servers hand us)."""
        headers = cls.__new__(cls)
        headers._items = items
        headers._index = None
        return headers

    def _normalize(self, key: str) -> str:
        return key.lower()


class QueryParams(_MultiMapping):
    """Query parameters: for ``?tag=a&tag=b``, ``params["tag"]`` is "a"; ``get_list`` has both."""

    __slots__ = ()

    def __init__(self, query: str | Sequence[tuple[str, str]] = "") -> None:
        if isinstance(query, str):
            self._items = parse_qsl(query, keep_blank_values=True)
        else:
            self._items = list(query)
        self._index = None


# RFC 9110 5.1 and 5.5: a field name is a token; a field value is visible characters (and
# obs-text, which non-ASCII becomes once UTF-8 encoded) with single spaces or tabs inside,
# none at either end. So no control character (CR, LF, NUL, \x01, DEL...) can reach a server.
_FIELD_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# PERF: the value rule is checked as "no forbidden character": compiling the allowed class,
# which spans all of Unicode, took 1.8 ms of every `import velocipy`.
_FIELD_VALUE_FORBIDDEN = re.compile(r"[\x00-\x08\n-\x1f\x7f]")


def check_header(name: str, value: str) -> None:
    """Refuse a response header that breaks RFC 9110's grammar (``ValueError``, a 500).

    uvicorn would drop the connection, granian ASGI answer its own 500 and granian RSGI
    silently drop the header: refusing it here gives one clear error on every server.
    """
    if not (isinstance(name, str) and name in _CHECKED_NAMES):
        if not isinstance(name, str) or not _FIELD_NAME.fullmatch(name):
            raise ValueError(f"invalid response header name {name!r}: use letters, digits, -")
        if len(_CHECKED_NAMES) < 1024:  # PERF: an app sets the same few names again and again
            _CHECKED_NAMES.add(name)
    if type(value) is str and value in _CHECKED_VALUES:
        return  # PERF: and the same few values ("gzip", "true", its origins): one lookup
    if not isinstance(value, str):
        raise TypeError(f"response header {name!r} must be a str, not {type(value).__name__}")
    if _FIELD_VALUE_FORBIDDEN.search(value):
        raise ValueError(
            f"invalid characters (CR, LF, NUL or another control character) in response "
            f"header {name!r}"
        )
    if value != value.strip(" \t"):
        raise ValueError(f"response header {name!r} starts or ends with whitespace")
    if len(value) <= 128 and len(_CHECKED_VALUES) < 1024:  # bounded: clients send origins
        _CHECKED_VALUES.add(value)


_CHECKED_NAMES: set[str] = set()
_CHECKED_VALUES: set[str] = set()


class MutableHeaders:
    """A live, case-insensitive view over a response's header list."""

    __slots__ = ("_items",)

    def __init__(self, items: list[tuple[str, str]]) -> None:
        self._items = items

    def __getitem__(self, key: str) -> str:
        key = key.lower()
        for name, value in self._items:
            if name == key:
                return value
        raise KeyError(key)

    def get(self, key: str, default: str | None = None) -> str | None:
        key = key.lower()  # PERF: a loop, not self[key]: a missing header raised KeyError
        for name, value in self._items:
            if name == key:
                return value
        return default

    def get_list(self, key: str) -> list[str]:
        key = key.lower()
        return [value for name, value in self._items if name == key]

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        key = key.lower()
        for name, _ in self._items:  # noqa: SIM110 - PERF: any() of a generator is slower
            if name == key:
                return True
        return False

    def __setitem__(self, key: str, value: str) -> None:
        """Replace every value of ``key`` with one."""
        key = key.lower()
        check_header(key, value)
        items = self._items
        for name, _ in items:
            if name == key:  # PERF: the list is rebuilt only when the header is there
                items[:] = [(name, v) for name, v in items if name != key]
                break
        items.append((key, value))

    def append(self, key: str, value: str) -> None:
        """Add a value, keeping existing ones (``set-cookie``, ``vary``...)."""
        key = key.lower()
        check_header(key, value)
        self._items.append((key, value))

    def setdefault(self, key: str, value: str) -> str:
        existing = self.get(key)
        if existing is None:
            self.append(key, value)
            return value
        return existing

    def __delitem__(self, key: str) -> None:
        key = key.lower()
        self._items[:] = [(name, v) for name, v in self._items if name != key]

    def items(self) -> list[tuple[str, str]]:
        return list(self._items)

    def keys(self) -> list[str]:
        return [name for name, _ in self._items]

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"MutableHeaders({self._items!r})"


def parse_cookies(header_values: Sequence[str]) -> dict[str, str]:
    """Parse ``Cookie`` headers leniently: malformed pairs are skipped, never an error."""
    cookies: dict[str, str] = {}
    for header in header_values:
        for chunk in header.split(";"):
            name, sep, value = chunk.partition("=")
            name = name.strip()
            if not sep or not name:
                continue
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            cookies.setdefault(name, value)
    return cookies


# A cookie value the standard library leaves unquoted (``http.cookies._LegalChars``), and the
# attribute names it refuses as cookie names.
_PLAIN_COOKIE = re.compile(r"[A-Za-z0-9!#$%&'*+\-.^_`|~:]+")
_COOKIE_ATTRIBUTES = frozenset(
    ("expires", "path", "comment", "domain", "max-age", "secure", "httponly", "version", "samesite")
)


def format_cookie(name: str, value: str, **attributes: Any) -> str:
    """A ``Set-Cookie`` value, quoted as the standard library's ``http.cookies`` quotes it.

    PERF: a plain name and value without ``expires`` (a session's, a token's) are written
    here in the standard library's exact form, attributes in its order, without building a
    ``SimpleCookie``, which cost 8 us per cookie; anything else goes through it.
    """
    if (
        attributes.get("expires") is None
        and isinstance(value, str)
        and _PLAIN_COOKIE.fullmatch(name)
        and _PLAIN_COOKIE.fullmatch(value)
        and name.lower() not in _COOKIE_ATTRIBUTES
        and attributes.keys() <= _PLAIN_ATTRIBUTES
    ):
        parts = [f"{name}={value}"]
        domain = attributes.get("domain")
        if domain:
            parts.append(f"Domain={domain}")
        if attributes.get("httponly"):
            parts.append("HttpOnly")
        max_age = attributes.get("max_age")
        if max_age is not None and max_age is not False and max_age != "":
            parts.append(
                f"Max-Age={max_age:d}" if isinstance(max_age, int) else f"Max-Age={max_age}"
            )
        path = attributes.get("path")
        if path:
            parts.append(f"Path={path}")
        samesite = attributes.get("samesite")
        if samesite:
            parts.append(f"SameSite={samesite}")
        if attributes.get("secure"):
            parts.append("Secure")
        return "; ".join(parts)
    from http.cookies import SimpleCookie  # PERF: only unusual cookies need it

    jar = SimpleCookie()
    jar[name] = value
    morsel = jar[name]
    for key, attr in attributes.items():
        if attr is None or attr is False:
            continue
        morsel[key.replace("_", "-")] = attr
    return morsel.OutputString()


_PLAIN_ATTRIBUTES = frozenset(
    ("max_age", "expires", "path", "domain", "secure", "httponly", "samesite")
)


class State:
    """A plain namespace for app-wide values (``app.state.db = ...``)."""

    def __init__(self, values: Mapping[str, Any] | None = None) -> None:
        if values:
            self.__dict__.update(values)

    def __repr__(self) -> str:
        return f"State({self.__dict__!r})"
