"""A published message as subscribers see it, and its wire form for backends that need bytes.

A message is encoded once by the publisher and decoded once per process, whatever the number of
local subscribers: every subscriber (and every joined WebSocket) receives the same object.
"""

from __future__ import annotations

from typing import Any, Literal, TypeAlias

from velocipy.json import JSONAdapter

__all__ = ["Message", "MessageKind"]

MessageKind: TypeAlias = Literal["text", "bytes", "json"]

_KIND_TAGS: dict[str, bytes] = {"text": b"t", "bytes": b"b", "json": b"j"}
_TAG_KINDS: dict[int, MessageKind] = {ord("t"): "text", ord("b"): "bytes", ord("j"): "json"}


class Message:
    """One message on one channel.

    ``data`` is what was published: a ``str``, ``bytes``, or the JSON value decoded with the app's
    adapter. ``frame`` is what a joined WebSocket sends: text for ``str`` and JSON, binary for
    ``bytes``. ``id`` is the message's place in the channel's history (``None`` without history).
    """

    __slots__ = ("_data", "body", "channel", "frame", "id", "json", "kind", "sender")

    def __init__(
        self,
        channel: str,
        kind: MessageKind,
        body: bytes,
        json: JSONAdapter,
        *,
        sender: str | None = None,
        id: str | None = None,
        text: str | None = None,
    ) -> None:
        self.channel = channel
        self.kind = kind
        self.body = body
        self.json = json
        self.sender = sender
        self.id = id
        # PERF: the frame is made once, not once per joined WebSocket it is sent to (nor looked
        # up through a property on each). Text that is not UTF-8 fails here, where a backend
        # skips what it cannot read, not at each socket.
        self.frame: str | bytes
        self._data: Any
        if kind == "bytes":
            self.frame = self._data = body
            return
        if text is None:  # ``text``: the body decoded, where the caller has it
            text = body.decode("utf-8", "surrogatepass")
        self.frame = text
        # JSON is decoded with the adapter when asked for
        self._data = text if kind == "text" else _UNSET

    @classmethod
    def from_value(
        cls, channel: str, value: Any, json: JSONAdapter, sender: str | None = None
    ) -> Message:
        """Encode what a publisher passed: ``str`` -> text, ``bytes`` -> binary, else JSON."""
        if isinstance(value, str):
            body = value.encode("utf-8", "surrogatepass")
            message = cls(channel, "text", body, json, sender=sender, text=value)
        elif isinstance(value, bytes | bytearray | memoryview):
            message = cls(channel, "bytes", bytes(value), json, sender=sender)
        else:
            message = cls(channel, "json", json.encode(value), json, sender=sender)
        return message

    @property
    def data(self) -> Any:
        if self._data is _UNSET:
            self._data = self.json.decode(self.body)
        return self._data

    # --- wire form ----------------------------------------------------------------------------
    def to_wire(self) -> bytes:
        """``kind tag + sender + LF + body``: what a backend stores or sends."""
        return b"".join(
            (_KIND_TAGS[self.kind], (self.sender or "").encode("ascii"), b"\n", self.body)
        )

    @classmethod
    def from_wire(
        cls, channel: str, wire: bytes, json: JSONAdapter, id: str | None = None
    ) -> Message:
        """Parse :meth:`to_wire` output; raise ``ValueError`` for bytes it did not write."""
        kind = _TAG_KINDS.get(wire[0]) if wire else None
        end = wire.find(b"\n")
        if kind is None or end < 0:
            raise ValueError("not a VelociPy channel message")
        sender = wire[1:end].decode("ascii") or None
        return cls(channel, kind, wire[end + 1 :], json, sender=sender, id=id)

    def __repr__(self) -> str:
        return f"<Message {self.channel!r} {self.kind} {len(self.body)} bytes id={self.id}>"


_UNSET: Any = object()
