"""Protocol-neutral descriptions of what the test client sends and what the app answers.

The client builds a ``RequestSpec``; a driver (ASGI or RSGI) turns it into its protocol's scope,
runs the app and reports back a ``ResponseData`` or a stream of WebSocket events.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field


@dataclass(slots=True)
class RequestSpec:
    """One request as the server would see it on the wire."""

    method: str
    scheme: str  # "http" or "https"; the ASGI driver says "ws"/"wss" for WebSockets itself
    server: tuple[str, int]
    client: tuple[str, int]
    path: str  # percent-decoded
    raw_path: bytes  # as sent, still percent-encoded
    query_string: bytes
    headers: list[tuple[str, str]]  # lower-case names, in wire order
    body: list[bytes] = field(default_factory=list)  # chunks as they arrive, none empty
    subprotocols: list[str] = field(default_factory=list)


@dataclass(slots=True)
class ResponseData:
    """A complete HTTP response as the client received it."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


class Headers(Mapping[str, str]):
    """Case-insensitive, multi-value response headers; ``h[name]`` is the first value."""

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._items = [(name.lower(), value) for name, value in items]

    def __getitem__(self, name: str) -> str:
        key = name.lower()
        for item_name, value in self._items:
            if item_name == key:
                return value
        raise KeyError(name)

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        key = name.lower()
        return any(item_name == key for item_name, _ in self._items)

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(name for name, _ in self._items))

    def __len__(self) -> int:
        return len({name for name, _ in self._items})

    def get_list(self, name: str) -> list[str]:
        """Every value of ``name``, in order (e.g. several ``set-cookie``)."""
        key = name.lower()
        return [value for item_name, value in self._items if item_name == key]

    def multi_items(self) -> list[tuple[str, str]]:
        """All (name, value) pairs, duplicates included, in order."""
        return list(self._items)

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"


# WebSocket events the server side reports to the test session.


@dataclass(frozen=True, slots=True)
class Accepted:
    subprotocol: str | None
    headers: list[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class Denied:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Message:
    data: str | bytes


@dataclass(frozen=True, slots=True)
class Closed:
    code: int
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Finished:
    """The app's WebSocket handler ended; what the server did because of that, if anything."""

    error: BaseException | None = None
    close: Closed | None = None  # the close the server sent for the app (it returned or raised)
    denied: Denied | None = None  # the handshake refusal the server sent for the app


ServerEvent = Accepted | Denied | Message | Closed | Finished


# WebSocket events the test session sends to the app.


@dataclass(frozen=True, slots=True)
class ClientMessage:
    data: str | bytes


@dataclass(frozen=True, slots=True)
class ClientClose:
    code: int = 1000
    reason: str = ""


ClientEvent = ClientMessage | ClientClose
