"""The standard library adapter: no extra dependency, held to the same policy as the others."""

from __future__ import annotations

import json
from typing import Any

import msgspec

from velocipy.json._errors import strict_stdlib_loads


class StdlibAdapter:
    name = "stdlib"

    def __init__(self) -> None:
        self._encoder = json.JSONEncoder(
            ensure_ascii=False, separators=(",", ":"), default=msgspec.to_builtins, allow_nan=False
        )
        self._fallback = msgspec.json.Encoder()

    def encode(self, obj: Any) -> bytes:
        try:
            return self._encoder.encode(obj).encode("utf-8")
        except (ValueError, RecursionError):
            # NaN/Infinity (bare NaN is not JSON) or very deep values: encode as msgspec would,
            # which writes null for non-finite floats like the other backends.
            return self._fallback.encode(obj)

    def decode(self, data: bytes | str) -> Any:
        return strict_stdlib_loads(data)
