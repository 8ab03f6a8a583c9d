"""The answers the app gives for errors, and the one way a client's text reaches the log.

What status and body a failure becomes is decided in ``Application``; the pieces it (and the
middleware chain) builds those answers from live here.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from velocipy.exceptions import RequestValidationError
from velocipy.responses import Response

if TYPE_CHECKING:
    from velocipy.json import JSONAdapter
    from velocipy.requests import Request
    from velocipy.routing import PathValidationError

__all__ = [
    "detail_response",
    "internal_error",
    "is_int_status",
    "loggable",
    "with_other_errors",
]

logger = logging.getLogger("velocipy")

INTERNAL_ERROR_BODY = b'{"detail":"Internal Server Error"}'


async def with_other_errors(request: Request, exc: PathValidationError) -> Exception:
    """A path parameter did not convert: add the rest of the request's errors (query, header,
    cookie, body) so one 422 lists every problem."""
    endpoint = exc.entry.endpoints.get(request.method)
    other_errors = getattr(endpoint, "other_errors", None)
    if other_errors is None:
        return exc
    try:
        more = await other_errors(request)
    except Exception:  # the path's own 422 is still the right answer
        return exc
    return RequestValidationError([*exc.errors, *more]) if more else exc


def loggable(text: str) -> str:
    """``text`` with control characters escaped, so a client cannot write escapes into logs."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def detail_response(
    status: int, detail: Any, headers: dict[str, str] | None, json: JSONAdapter
) -> Response:
    """``{"detail": ...}`` with ``status``; an impossible status becomes a 500."""
    if not is_int_status(status) or not 200 <= status <= 999:
        logger.error("HTTPException status %r is not a final HTTP status (200-999)", status)
        return internal_error()
    status = int(status)
    try:
        body = json.encode({"detail": detail})
    except (TypeError, ValueError):
        body = json.encode({"detail": str(detail)})
    return Response(body, status, headers, "application/json")


def is_int_status(status: object) -> bool:
    """A usable status number: an ``int`` or an int enum such as ``HTTPStatus``, never a bool."""
    return isinstance(status, int) and not isinstance(status, bool)


def internal_error(problem: bool = False) -> Response:
    if problem:
        from velocipy.problems import INTERNAL_ERROR_PROBLEM, PROBLEM_MEDIA_TYPE

        return Response(INTERNAL_ERROR_PROBLEM, 500, None, PROBLEM_MEDIA_TYPE)
    return Response(INTERNAL_ERROR_BODY, 500, None, "application/json")
