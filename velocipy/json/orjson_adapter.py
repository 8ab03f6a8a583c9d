"""The orjson adapter (the ``orjson`` extra: ``pip install -e '.[orjson]'`` in a clone)."""

from __future__ import annotations

from typing import Any

import msgspec
import orjson

from velocipy.json._errors import (
    JSONDecodeError,
    check_depth,
    has_long_digit_run,
    strict_stdlib_loads,
)

_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS
_FALLBACK = msgspec.json.Encoder()


class OrjsonAdapter:
    name = "orjson"

    def encode(self, obj: Any) -> bytes:
        try:
            return orjson.dumps(obj, default=msgspec.to_builtins, option=_OPTIONS)
        except orjson.JSONEncodeError:
            # Past orjson's limits (255 levels, integers over 64 bits): encode as msgspec would,
            # so every backend answers the same; a truly unsupported type still raises.
            return _FALLBACK.encode(obj)

    def decode(self, data: bytes | str) -> Any:
        raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
        # orjson turns integers beyond 64 bits into floats; decide those exactly instead.
        if has_long_digit_run(raw):
            return strict_stdlib_loads(data)
        try:
            return check_depth(raw, orjson.loads(raw))
        except orjson.JSONDecodeError as exc:
            raise JSONDecodeError(str(exc).split(":", 1)[0]) from None
