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

    __slots__ = ("_data", "_frame", "body", "channel", "id", "json", "kind", "sender")

    def __init__(
        self,
        channel: str,
        kind: MessageKind,
        body: bytes,
        json: JSONAdapter,
        *,
        sender: str | None = None,
        id: str | None = None,
    ) -> None:
        self.channel = channel
        self.kind = kind
        self.body = body
        self.json = json
        self.sender = sender
        self.id = id
        self._data: Any = _UNSET
        self._frame: str | bytes | None = None

    @classmethod
    def from_value(
        cls, channel: str, value: Any, json: JSONAdapter, sender: str | None = None
    ) -> Message:
        """Encode what a publisher passed: ``str`` -> text, ``bytes`` -> binary, else JSON."""
        if isinstance(value, str):
            message = cls(channel, "text", value.encode("utf-8", "surrogatepass"), json)
            message._data = message._frame = value
        elif isinstance(value, bytes | bytearray | memoryview):
            message = cls(channel, "bytes", bytes(value), json)
            message._data = message.body
        else:
            message = cls(channel, "json", json.encode(value), json)
        message.sender = sender
        return message

    @property
    def data(self) -> Any:
        if self._data is _UNSET:
            if self.kind == "text":
                self._data = self.body.decode("utf-8", "surrogatepass")
            elif self.kind == "bytes":
                self._data = self.body
            else:
                self._data = self.json.decode(self.body)
        return self._data

    @property
    def frame(self) -> str | bytes:
        """The WebSocket frame for this message: text for ``str`` and JSON, binary for bytes.

        PERF: decoded once, not once per joined WebSocket it is sent to.
        """
        frame = self._frame
        if frame is None:
            body = self.body
            frame = self._frame = (
                body if self.kind == "bytes" else body.decode("utf-8", "surrogatepass")
            )
        return frame

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
