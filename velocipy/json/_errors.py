"""The one decode error every adapter raises, and the checks the backends share."""

from __future__ import annotations

import re
from typing import Any

INT_MIN = -(2**63)
INT_MAX = 2**64 - 1

# Only a run of 20+ digits, or 19 after a minus sign, can fall outside 64 bits: check those exactly.
LONG_DIGIT_RUN = re.compile(rb"\d{20,}|-\d{19}")
# PERF: the regular expression steps through every byte (4 ms for a 150 KB document, four
# times msgspec's whole decode); translate and a substring search run at memory speed, so it
# only runs on documents that have 19 digits in a row at all.
_DIGITS_AS_ZERO = bytes(0x30 if 0x30 <= byte <= 0x39 else 0x20 for byte in range(256))
_NINETEEN_DIGITS = b"0" * 19


def has_long_digit_run(raw: bytes) -> bool:
    """Whether ``raw`` has an integer literal that may not fit 64 bits (then parsed exactly)."""
    if len(raw) < 19 or _NINETEEN_DIGITS not in raw.translate(_DIGITS_AS_ZERO):
        return False
    return LONG_DIGIT_RUN.search(raw) is not None


# Nesting deeper than this is refused on every backend (stdlib and msgspec stop near 1000
# levels with RecursionError, orjson at 1024, and orjson's encoder at 255: one limit below all).
MAX_DEPTH = 512


class JSONDecodeError(ValueError):
    """The JSON document was refused; ``str(exc)`` says why in one line."""


def check_depth(raw: bytes | str, value: Any) -> Any:
    """Return ``value``, or refuse it if nested deeper than ``MAX_DEPTH``.

    PERF: a document needs more than MAX_DEPTH brackets to be that deep, so the walk only
    runs for documents with that many (two C-level counts rule out everything else).
    """
    if len(raw) <= MAX_DEPTH:
        return value
    if isinstance(raw, bytes):
        brackets = raw.count(b"[") + raw.count(b"{")
    else:
        brackets = raw.count("[") + raw.count("{")
    if brackets > MAX_DEPTH and _nesting_exceeds(value, MAX_DEPTH):
        raise JSONDecodeError(f"nesting deeper than {MAX_DEPTH} levels")
    return value


def _nesting_exceeds(value: Any, limit: int) -> bool:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def _bounded_int(text: str) -> int:
    value = int(text)
    if not INT_MIN <= value <= INT_MAX:
        raise JSONDecodeError("integer out of the 64-bit range")
    return value


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise JSONDecodeError("number out of range")
    return value


def _reject_constant(name: str) -> Any:
    raise JSONDecodeError(f"{name} is not valid JSON")


def strict_stdlib_loads(data: bytes | str) -> Any:
    """Parse with the standard library under the shared policy (exact, bounded ints)."""
    import json  # PERF: a fallback for msgspec and orjson, so not loaded by `import velocipy`

    try:
        # Decode as UTF-8 here: json.loads(bytes) would also take UTF-16/32 and a BOM, which
        # msgspec and orjson refuse.
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        value = json.loads(
            text,
            parse_int=_bounded_int,
            parse_float=_finite_float,
            parse_constant=_reject_constant,
        )
        if (isinstance(data, bytes) and b"\\u" in data) or (
            isinstance(data, str) and "\\u" in data
        ):
            # Lone surrogates decode to str that cannot be encoded again: refuse them up front.
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        check_depth(data, value)
    except JSONDecodeError:
        raise
    except RecursionError:
        raise JSONDecodeError("nesting too deep") from None
    except UnicodeDecodeError as exc:
        raise JSONDecodeError(f"invalid text: {exc.reason}") from None
    except ValueError as exc:
        raise JSONDecodeError(str(exc).split(":", 1)[0]) from None
    return value
