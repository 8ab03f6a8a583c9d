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
            ensure_ascii=False, separators=(",", ":"), default=msgspec.to_builtins
        )

    def encode(self, obj: Any) -> bytes:
        return self._encoder.encode(obj).encode("utf-8")

    def decode(self, data: bytes | str) -> Any:
        return strict_stdlib_loads(data)
