"""Conditional GET and byte ranges for file responses (RFC 9110 sections 13 and 14).

Pure functions over header text and a file's size: :class:`~velocipy.responses.FileResponse`
calls them once, when the app finalises the response, and only when a request carries the
headers. Parsing is linear in the header's length and the number of ranges is capped, so a
hostile ``Range`` header costs no more than reading it.
"""

from __future__ import annotations

from typing import Final, Literal

__all__ = [
    "MAX_RANGES",
    "UNSATISFIABLE",
    "if_range_allows",
    "is_not_modified",
    "parse_byte_range",
]

MAX_RANGES: Final = 64
"""More ranges than this in one ``Range`` header: the header is ignored and the whole file sent."""

UNSATISFIABLE: Final = "unsatisfiable"
_MAX_DIGITS: Final = 19  # 2**63 has 19 digits: more cannot be a position in any real file


def _http_date(text: str) -> int | None:
    """Seconds since the epoch for an HTTP date, ``None`` when it is not one."""
    from email.utils import parsedate_to_datetime  # PERF: only conditional requests need it

    try:
        parsed = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        return None
    return int(parsed.timestamp())


def _opaque_tag(tag: str) -> str:
    """The entity tag without its weakness marker (weak comparison, RFC 9110 section 8.8.3.2)."""
    tag = tag.strip()
    return tag[2:] if tag.startswith("W/") else tag


def is_not_modified(
    if_none_match: str | None, if_modified_since: str | None, etag: str | None, mtime: int
) -> bool:
    """Whether a GET or HEAD with these validators gets 304 Not Modified.

    ``If-None-Match`` wins when present (``If-Modified-Since`` is then ignored, as RFC 9110
    section 13.1.3 says); an unparsable date is ignored.
    """
    if if_none_match is not None:
        if etag is None:
            return False
        if if_none_match.strip() == "*":
            return True
        wanted = _opaque_tag(etag)
        return any(_opaque_tag(tag) == wanted for tag in if_none_match.split(","))
    if if_modified_since is not None:
        since = _http_date(if_modified_since)
        return since is not None and mtime <= since
    return False


def if_range_allows(if_range: str | None, etag: str | None, mtime: int) -> bool:
    """Whether ``If-Range`` lets the ``Range`` header apply (else the whole file is sent).

    An entity tag must match strongly (a weak tag never does); a date must equal the file's
    modification time exactly.
    """
    if if_range is None:
        return True
    if_range = if_range.strip()
    if if_range.startswith(('"', "W/")):
        return etag is not None and not etag.startswith("W/") and if_range == etag
    return _http_date(if_range) == mtime


def parse_byte_range(header: str, size: int) -> tuple[int, int] | Literal["unsatisfiable"] | None:
    """The one byte range ``[start, end)`` to send for a ``Range`` header, if any.

    Returns ``None`` when the header must be ignored and the whole file sent with 200: it is
    not ``bytes=``, it is malformed, it names more than :data:`MAX_RANGES` ranges, or its
    ranges do not merge into one (multiple-range responses are not produced; RFC 9110 lets a
    server send the whole representation instead). Returns :data:`UNSATISFIABLE` when no
    range overlaps the file (416).
    """
    unit, equals, specs = header.partition("=")
    if not equals or unit.strip().lower() != "bytes" or specs.count(",") >= MAX_RANGES:
        return None
    ranges: list[tuple[int, int]] = []
    for spec in specs.split(","):
        first, dash, last = spec.strip().partition("-")
        if not dash or not _is_position(first, allow_empty=True) or not _is_position(last, True):
            return None
        if not first:  # suffix range: the last N bytes
            if not last:
                return None
            length = int(last)
            if length > 0 and size > 0:
                ranges.append((max(0, size - length), size))
            continue
        start = int(first)
        if last and int(last) < start:
            return None  # an invalid range makes the whole header invalid
        if start < size:
            ranges.append((start, min(int(last) + 1, size) if last else size))
    if not ranges:
        return UNSATISFIABLE
    if len(ranges) == 1:
        return ranges[0]
    ranges.sort()
    start, end = ranges[0]
    for next_start, next_end in ranges[1:]:
        if next_start > end:  # a gap: more than one range remains
            return None
        end = max(end, next_end)
    return start, end


def _is_position(text: str, allow_empty: bool) -> bool:
    if not text:
        return allow_empty
    return len(text) <= _MAX_DIGITS and text.isascii() and text.isdigit()
