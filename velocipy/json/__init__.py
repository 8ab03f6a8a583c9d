"""JSON adapters: one interface over msgspec, orjson and the standard library.

Every adapter encodes to ``bytes`` and raises :class:`JSONDecodeError` for any input it refuses,
so hostile input (deep nesting, invalid UTF-8, NaN, lone surrogates, numbers out of range) gets
the same answer whatever the backend. The shared policy:

* ``NaN``/``Infinity`` literals, numbers that overflow a double, lone surrogates: refused.
* Integers must fit in 64 bits (``-2**63`` to ``2**64 - 1``); larger ones are refused, never
  turned into floats.
* Nesting deeper than 512 levels is refused (``RecursionError`` never escapes).
* Encoding: what one backend cannot write (NaN, very deep values, huge integers) is written
  as msgspec writes it (``null`` for NaN and infinities), so every backend answers alike.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from velocipy.json._errors import JSONDecodeError
from velocipy.json.msgspec_adapter import MsgspecAdapter

if TYPE_CHECKING:
    from velocipy.json.stdlib_adapter import StdlibAdapter

__all__ = [
    "JSONAdapter",
    "JSONDecodeError",
    "MsgspecAdapter",
    "StdlibAdapter",
    "get_adapter",
]


@runtime_checkable
class JSONAdapter(Protocol):
    """What the app needs from a JSON backend."""

    name: str

    def encode(self, obj: Any) -> bytes:
        """Serialize ``obj`` (dicts, lists, scalars, msgspec Structs, dataclasses, ...) to bytes."""
        ...

    def decode(self, data: bytes | str) -> Any:
        """Parse a JSON document; raise :class:`JSONDecodeError` for anything refused."""
        ...


def get_adapter(choice: str | JSONAdapter) -> JSONAdapter:
    """Turn ``"msgspec"``, ``"orjson"``, ``"stdlib"`` or an adapter object into an adapter."""
    if not isinstance(choice, str):
        if not isinstance(choice, JSONAdapter):
            raise TypeError(
                f"json_adapter must be 'msgspec', 'orjson', 'stdlib' or an object with "
                f"name/encode/decode, not {choice!r}"
            )
        return choice
    if choice == "msgspec":
        return MsgspecAdapter()
    if choice == "stdlib":
        from velocipy.json.stdlib_adapter import StdlibAdapter

        return StdlibAdapter()
    if choice == "orjson":
        try:
            from velocipy.json.orjson_adapter import OrjsonAdapter
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise RuntimeError(
                "json_adapter='orjson' needs the orjson package: pip install -e '.[orjson]' "
                "in a clone of VelociPy, or pip install 'orjson>=3.9'"
            ) from exc
        return OrjsonAdapter()
    raise ValueError(f"unknown json_adapter {choice!r}: choose 'msgspec', 'orjson' or 'stdlib'")


def __getattr__(name: str) -> Any:
    # PERF: the stdlib adapter loads the json module, so it is imported when first asked for.
    if name == "StdlibAdapter":
        from velocipy.json.stdlib_adapter import StdlibAdapter

        return StdlibAdapter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
