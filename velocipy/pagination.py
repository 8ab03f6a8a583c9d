"""Pagination: limit/offset and cursor parameters as dependencies, and the pages they answer.

``limit_offset()`` and ``cursor()`` make providers that read ``?limit=&offset=`` or
``?limit=&cursor=`` with bounds checked (an out-of-range value is a 422 naming the parameter)
and described in OpenAPI. A cursor is opaque to clients: the URL-safe base64 of the JSON of the
sort key of the last item sent (``encode_cursor``); a cursor that does not decode is a 422.

    Pagination = Annotated[LimitOffset, Depends(limit_offset(max_limit=100))]

    @app.get("/items")
    async def items(page: Pagination) -> Page[Item]: ...
"""

import base64
import binascii
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, Generic, TypeVar

import msgspec

from velocipy.exceptions import RequestValidationError
from velocipy.params import Query

__all__ = [
    "Cursor",
    "CursorPage",
    "LimitOffset",
    "Page",
    "cursor",
    "decode_cursor",
    "encode_cursor",
    "limit_offset",
]

T = TypeVar("T")


class LimitOffset(msgspec.Struct, frozen=True):
    """The slice a client asked for: ``limit`` items after skipping ``offset``."""

    limit: int
    offset: int


class Cursor(msgspec.Struct, frozen=True):
    """``limit`` items after the position ``after`` (``None``: from the start)."""

    limit: int
    after: Any = None


class Page(msgspec.Struct, Generic[T]):
    """One page of a limit/offset listing; ``total`` counts every item of the listing."""

    items: list[T]
    total: int
    limit: int
    offset: int


class CursorPage(msgspec.Struct, Generic[T]):
    """One page of a cursor listing; ``next_cursor`` asks for the next page (``None``: last)."""

    items: list[T]
    next_cursor: str | None


def encode_cursor(position: Any) -> str:
    """The opaque cursor of a position (any JSON value: an id, ``[created_at, id]``...)."""
    return base64.urlsafe_b64encode(msgspec.json.encode(position)).rstrip(b"=").decode("ascii")


def decode_cursor(text: str) -> Any:
    """The position a cursor holds; ``ValueError`` when it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        return msgspec.json.decode(raw)
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise ValueError("Invalid cursor: pass back a next_cursor this API returned") from None


def _limit_query(default_limit: int, max_limit: int) -> Any:
    if not 1 <= default_limit <= max_limit:
        raise ValueError(f"default_limit={default_limit} must be from 1 to max_limit ({max_limit})")
    return Query(
        default_limit,
        description=f"How many items to return, 1 to {max_limit} (default {default_limit}).",
    )


def _check_limit(limit: int, max_limit: int, errors: list[dict[str, Any]]) -> None:
    if not 1 <= limit <= max_limit:
        errors.append(
            {
                "loc": ["query", "limit"],
                "msg": f"Expected a limit from 1 to {max_limit}",
                "type": "value_error",
            }
        )


def limit_offset(
    *, default_limit: int = 20, max_limit: int = 100
) -> Callable[..., Coroutine[Any, Any, LimitOffset]]:
    """A provider of :class:`LimitOffset` from ``?limit=`` and ``?offset=``."""
    limit_query = _limit_query(default_limit, max_limit)
    offset_query = Query(0, description="How many items to skip from the start (default 0).")

    async def limit_offset_pagination(
        limit: Annotated[int, limit_query] = default_limit,
        offset: Annotated[int, offset_query] = 0,
    ) -> LimitOffset:
        errors: list[dict[str, Any]] = []
        _check_limit(limit, max_limit, errors)
        if offset < 0:
            errors.append(
                {
                    "loc": ["query", "offset"],
                    "msg": "Expected an offset >= 0",
                    "type": "value_error",
                }
            )
        if errors:
            raise RequestValidationError(errors)
        return LimitOffset(limit, offset)

    return limit_offset_pagination


def cursor(
    *, default_limit: int = 20, max_limit: int = 100
) -> Callable[..., Coroutine[Any, Any, Cursor]]:
    """A provider of :class:`Cursor` from ``?limit=`` and ``?cursor=``."""
    limit_query = _limit_query(default_limit, max_limit)
    cursor_query = Query(
        None, description="Where to continue: the next_cursor of the previous page (omit: start)."
    )

    async def cursor_pagination(
        limit: Annotated[int, limit_query] = default_limit,
        cursor: Annotated[str | None, cursor_query] = None,
    ) -> Cursor:
        errors: list[dict[str, Any]] = []
        _check_limit(limit, max_limit, errors)
        after = None
        if cursor is not None:
            try:
                after = decode_cursor(cursor)
            except ValueError as exc:
                errors.append({"loc": ["query", "cursor"], "msg": str(exc), "type": "value_error"})
        if errors:
            raise RequestValidationError(errors)
        return Cursor(limit, after)

    return cursor_pagination
