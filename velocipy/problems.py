"""RFC 9457 problem details: ``application/problem+json`` for every error VelociPy answers.

``VelociPy(problem_details=True)`` turns the errors the framework produces (404, 405, 413, 415,
422, 429, 500, every :class:`~velocipy.HTTPException`) into problem documents and describes
them so in OpenAPI. A :class:`Problem` raised by a handler is always answered as one, with its
``type``, ``title``, ``instance`` and extension members.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import msgspec

from velocipy.exceptions import HTTPException, RequestValidationError
from velocipy.json import JSONAdapter
from velocipy.responses import Response

__all__ = ["PROBLEM_MEDIA_TYPE", "Problem", "ProblemBody", "ValidationProblemBody"]

PROBLEM_MEDIA_TYPE = "application/problem+json"
_RESERVED = frozenset({"type", "title", "status", "detail", "instance"})


class Problem(HTTPException):
    """An error answered as a problem document whatever the app's setting.

    ``type`` is a URI naming the kind of problem (``about:blank`` when the status says it all),
    ``title`` its short summary (default: the status phrase), ``detail`` this occurrence's
    explanation, ``instance`` a URI for this occurrence; ``extensions`` become more members.
    """

    def __init__(
        self,
        status_code: int,
        detail: str | None = None,
        *,
        type: str = "about:blank",
        title: str | None = None,
        instance: str | None = None,
        headers: Mapping[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        clash = _RESERVED & set(extensions)
        if clash:
            raise ValueError(f"extension members cannot be named {sorted(clash)}")
        super().__init__(status_code, detail, headers)
        self.type = type
        self.title = title
        self.instance = instance
        self.extensions = extensions


class ProblemBody(msgspec.Struct, omit_defaults=True):
    """A problem document (RFC 9457): what kind of error, and what happened this time."""

    type: str = "about:blank"
    title: str = ""
    status: int = 0
    detail: str | None = None
    instance: str | None = None


class ValidationIssue(msgspec.Struct):
    loc: list[str | int]
    msg: str
    type: str


class ValidationProblemBody(msgspec.Struct, omit_defaults=True):
    """The 422 problem document: ``errors`` lists every problem found in the request."""

    type: str = "about:blank"
    title: str = "Unprocessable Content"
    status: int = 422
    detail: str | None = None
    errors: list[ValidationIssue] = []


# RFC 9110's names, which Python's HTTPStatus has only from 3.13 on: titles stay the same.
_RFC9110_TITLES = {
    413: "Content Too Large",
    414: "URI Too Long",
    416: "Range Not Satisfiable",
    422: "Unprocessable Content",
}


def _phrase(status: int) -> str:
    if status in _RFC9110_TITLES:
        return _RFC9110_TITLES[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def problem_document(status: int, detail: Any, exc: BaseException | None = None) -> dict[str, Any]:
    """The members of the problem document for an error with ``status`` and ``detail``."""
    document: dict[str, Any] = {"type": "about:blank", "title": _phrase(status), "status": status}
    if isinstance(exc, RequestValidationError) or (status == 422 and isinstance(detail, list)):
        errors = exc.errors if isinstance(exc, RequestValidationError) else detail
        document["detail"] = "The request does not fit what the endpoint accepts"
        document["errors"] = errors
        return document
    if isinstance(exc, Problem):
        document["type"] = exc.type
        if exc.title is not None:
            document["title"] = exc.title
        if exc.instance is not None:
            document["instance"] = exc.instance
        document.update(exc.extensions)
    if detail is not None and detail != document["title"]:
        if isinstance(detail, str):
            document["detail"] = detail
        else:  # structured detail (a dict, a list): kept as an extension member
            document["details"] = detail
    return document


def problem_response(
    status: int,
    detail: Any,
    headers: Mapping[str, str] | None,
    json: JSONAdapter,
    exc: BaseException | None = None,
) -> Response:
    document = problem_document(status, detail, exc)
    try:
        body = json.encode(document)
    except (TypeError, ValueError):
        document.pop("details", None)
        document = {k: v for k, v in document.items() if k in _RESERVED or k == "errors"}
        body = json.encode(document)
    return Response(body, status, dict(headers) if headers else None, PROBLEM_MEDIA_TYPE)


INTERNAL_ERROR_PROBLEM = b'{"type":"about:blank","title":"Internal Server Error","status":500}'
