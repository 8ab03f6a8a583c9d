"""The default adapter: msgspec, the fastest encoder and decoder we measured."""

from __future__ import annotations

from typing import Any

import msgspec

from velocipy.json._errors import (
    JSONDecodeError,
    check_depth,
    has_long_digit_run,
    strict_stdlib_loads,
)


class MsgspecAdapter:
    name = "msgspec"

    def __init__(self) -> None:
        self._encoder = msgspec.json.Encoder()
        self._decoder = msgspec.json.Decoder()
        self.encode = self._encoder.encode

    def decode(self, data: bytes | str) -> Any:
        # msgspec keeps integers a little past 64 bits; decide long digit runs exactly instead.
        if has_long_digit_run(
            data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
        ):
            return strict_stdlib_loads(data)
        try:
            return check_depth(data, self._decoder.decode(data))
        except msgspec.ValidationError as exc:  # numbers out of range
            raise JSONDecodeError(str(exc)) from None
        except msgspec.DecodeError as exc:
            raise JSONDecodeError(str(exc)) from None
        except RecursionError:
            raise JSONDecodeError("nesting too deep") from None
        except UnicodeDecodeError as exc:
            raise JSONDecodeError(f"invalid text: {exc.reason}") from None
