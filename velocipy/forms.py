"""Forms and uploads: ``FormData``, ``UploadFile``, the streaming parsers and the limits.

Bodies are parsed with python-multipart's streaming parsers, fed chunk by chunk from
``request.stream()`` (the whole body is never held). Files are spooled to a
``SpooledTemporaryFile``: in memory up to ``FormLimits.spool_max_size``, then on disk, and every
write that would touch the disk runs in a worker thread, so a large upload never blocks the event
loop. The sync parser callbacks only collect events; the async loop that follows each chunk acts
on them. Whatever goes wrong (a limit, a malformed body, the client leaving, a cancelled task),
every file opened so far is closed before the error propagates; disk files are anonymous
(``TemporaryFile``), so closing them is removing them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any, TypeVar
from urllib.parse import unquote_to_bytes

from velocipy.datastructures import Headers
from velocipy.exceptions import HTTPException

if TYPE_CHECKING:
    from python_multipart.exceptions import FormParserError

    from velocipy.requests import Request

__all__ = ["FormData", "FormLimits", "UploadFile", "parse_form"]

_T = TypeVar("_T")
_MULTIPART = b"multipart/form-data"
_PARSER_LOGGER = "python_multipart.multipart"
logger = logging.getLogger("velocipy.forms")
_URLENCODED = b"application/x-www-form-urlencoded"


@dataclass(frozen=True, slots=True)
class FormLimits:
    """What a form body may hold; past a limit the client gets 413 with a one-line reason.

    The total body is bounded by the app's ``max_body_size`` (413) as for every body.
    """

    max_fields: int = 1000
    """Non-file fields in one form (multipart and urlencoded alike)."""
    max_files: int = 1000
    """File parts in one multipart form."""
    max_field_size: int = 1024 * 1024
    """Bytes of one non-file field's value (urlencoded: name and value together)."""
    max_file_size: int | None = None
    """Bytes of one uploaded file; ``None``: only the body limit applies."""
    max_part_headers: int = 8
    """Header lines of one multipart part."""
    max_part_header_size: int = 4096
    """Bytes of one header line of a multipart part."""
    spool_max_size: int = 1024 * 1024
    """Bytes of an upload kept in memory before it moves to a temporary file."""


class UploadFile:
    """An uploaded file: its name, type and part headers, and the content behind async I/O.

    ``filename`` is the client's name reduced to its last path component with control characters
    removed, so it cannot point outside a directory it is joined to (the raw value stays in
    ``headers["content-disposition"]``). ``file`` is the underlying binary file object.
    """

    __slots__ = ("_spool_max_size", "content_type", "file", "filename", "headers", "size")

    def __init__(
        self,
        file: IO[bytes] | None = None,
        *,
        filename: str | None = None,
        content_type: str | None = None,
        headers: Headers | None = None,
        size: int = 0,
        spool_max_size: int = 1024 * 1024,
    ) -> None:
        self._spool_max_size = spool_max_size
        if file is None:
            import tempfile  # PERF: only uploads need it, so `import velocipy` does not load it

            file = tempfile.SpooledTemporaryFile(max_size=spool_max_size)  # noqa: SIM115 - lives on
        self.file: IO[bytes] = file
        self.filename = filename
        self.content_type = content_type
        self.headers = headers if headers is not None else Headers()
        self.size = size

    @property
    def _in_memory(self) -> bool:
        from tempfile import SpooledTemporaryFile

        return isinstance(self.file, SpooledTemporaryFile) and not getattr(
            self.file, "_rolled", True
        )

    async def write(self, data: bytes) -> None:
        """Append ``data``; the write that moves the file to disk, and every later one, run in a
        worker thread."""
        if self._in_memory and self.size + len(data) <= self._spool_max_size:
            self.file.write(data)
        else:
            await asyncio.to_thread(self.file.write, data)
        self.size += len(data)

    async def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes from the current position; everything left when ``size < 0``."""
        return await self._on_file(self.file.read, size)

    async def seek(self, offset: int, whence: int = 0) -> int:
        """Move to ``offset`` (from the start, or as ``whence`` says); the new position."""
        return await self._on_file(self.file.seek, offset, whence)

    async def close(self) -> None:
        """Let the file go (a disk file is anonymous: closing removes it); again is harmless."""
        if not self.file.closed:
            await self._on_file(self.file.close)

    async def _on_file(self, operation: Callable[..., _T], *args: Any) -> _T:
        # Memory is as fast as a function call; a disk may block, so it gets a worker thread.
        if self._in_memory:
            return operation(*args)
        return await asyncio.to_thread(operation, *args)

    def __repr__(self) -> str:
        return (
            f"UploadFile(filename={self.filename!r}, size={self.size!r}, "
            f"content_type={self.content_type!r})"
        )


FormValue = str | UploadFile


class FormData(Mapping[str, FormValue]):
    """A parsed form: ``form[name]`` is the first value, ``form.get_list(name)`` every one.

    Values are ``str`` for fields and :class:`UploadFile` for files. ``await form.close()`` (or
    ``async with form:``) closes the files; VelociPy also does it when the request is over.
    """

    __slots__ = ("_index", "_items")

    def __init__(self, items: Sequence[tuple[str, FormValue]] = ()) -> None:
        self._items = list(items)
        self._index: dict[str, list[FormValue]] = {}
        for key, value in self._items:
            self._index.setdefault(key, []).append(value)

    def __getitem__(self, key: str) -> FormValue:
        return self._index[key][0]

    def get_list(self, key: str) -> list[FormValue]:
        return list(self._index.get(key, ()))

    getlist = get_list  # Starlette's spelling

    def __contains__(self, key: object) -> bool:
        return key in self._index

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)

    def multi_items(self) -> list[tuple[str, FormValue]]:
        return list(self._items)

    async def close(self) -> None:
        for _, value in self._items:
            if isinstance(value, UploadFile):
                await value.close()

    def close_now(self) -> None:
        """Close every file without awaiting (for cleanup paths that cannot await)."""
        _close_files(value for _, value in self._items)

    async def __aenter__(self) -> FormData:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"FormData({self._items!r})"


async def parse_form(request: Request, limits: FormLimits) -> FormData:
    """Parse the request body as a form (by its ``Content-Type``); the caller owns the files."""
    # PERF: python-multipart is imported by the first form, not by `import velocipy`.
    from python_multipart.multipart import parse_options_header

    _demote_parser_log()
    content_type = request.header("content-type")
    media, options = parse_options_header(content_type)
    if media == _MULTIPART:
        return await _parse_multipart(request, options.get(b"boundary"), limits)
    if media == _URLENCODED:
        return await _parse_urlencoded(request, limits)
    if content_type is None and not await request.body():
        return FormData()
    raise HTTPException(
        415,
        f"Unsupported media type {content_type!r}: send the form as "
        "application/x-www-form-urlencoded or multipart/form-data",
    )


class _ClientMistakeFilter(logging.Filter):
    """python-multipart logs a WARNING for each malformed body; that is the client's mistake.

    The parser raises right after, and we answer 400 with the reason; its log line becomes a
    DEBUG line of ``velocipy.forms``, so it never reaches the operator's log at WARNING.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        logger.debug("form parser: %s", record.getMessage())
        return False


def _demote_parser_log() -> None:
    parser_logger = logging.getLogger(_PARSER_LOGGER)
    if not any(isinstance(f, _ClientMistakeFilter) for f in parser_logger.filters):
        parser_logger.addFilter(_ClientMistakeFilter())


def _too_many(what: str, limit: int) -> HTTPException:
    return HTTPException(413, f"Too many {what} in the form: the limit is {limit}")


def _field_too_large(limit: int) -> HTTPException:
    return HTTPException(413, f"A form field is larger than the limit of {limit} bytes")


def _decode(raw: bytes | bytearray) -> str:
    return bytes(raw).decode("utf-8", "replace")


# --- application/x-www-form-urlencoded ------------------------------------------------------
async def _parse_urlencoded(request: Request, limits: FormLimits) -> FormData:
    from python_multipart.multipart import QuerystringParser

    items: list[tuple[str, FormValue]] = []
    name = bytearray()
    value = bytearray()
    count = 0

    def on_field_start() -> None:
        nonlocal count
        count += 1
        if count > limits.max_fields:
            raise _too_many("fields", limits.max_fields)
        name.clear()
        value.clear()

    def on_field_name(data: bytes, start: int, end: int) -> None:
        name.extend(data[start:end])
        if len(name) + len(value) > limits.max_field_size:
            raise _field_too_large(limits.max_field_size)

    def on_field_data(data: bytes, start: int, end: int) -> None:
        value.extend(data[start:end])
        if len(name) + len(value) > limits.max_field_size:
            raise _field_too_large(limits.max_field_size)

    def on_field_end() -> None:
        items.append((_unquote(name), _unquote(value)))

    parser = QuerystringParser(
        {
            "on_field_start": on_field_start,
            "on_field_name": on_field_name,
            "on_field_data": on_field_data,
            "on_field_end": on_field_end,
        }
    )
    async for chunk in request.stream():
        parser.write(chunk)
    parser.finalize()
    return FormData(items)


def _unquote(raw: bytearray) -> str:
    return _decode(unquote_to_bytes(bytes(raw).replace(b"+", b" ")))


# --- multipart/form-data --------------------------------------------------------------------
_HEADERS, _DATA, _END = 0, 1, 2


class _MultipartEvents:
    """The parser's callbacks: collect what one chunk contained, for the async loop to act on."""

    def __init__(self, limits: FormLimits) -> None:
        self.events: list[tuple[int, Any]] = []
        self.parts = 0
        self.max_parts = limits.max_fields + limits.max_files
        self.field = bytearray()
        self.value = bytearray()
        self.headers: list[tuple[str, str]] = []

    def callbacks(self) -> dict[str, Any]:
        return {
            "on_part_begin": self.on_part_begin,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
        }

    def on_part_begin(self) -> None:
        self.parts += 1
        if self.parts > self.max_parts:  # counted here so 10,000 tiny parts stop early
            raise _too_many("parts", self.max_parts)
        self.headers = []

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.field.extend(data[start:end])

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.value.extend(data[start:end])

    def on_header_end(self) -> None:
        self.headers.append((self.field.decode("latin-1").lower(), self.value.decode("latin-1")))
        self.field.clear()
        self.value.clear()

    def on_headers_finished(self) -> None:
        self.events.append((_HEADERS, self.headers))

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        self.events.append((_DATA, data[start:end]))

    def on_part_end(self) -> None:
        self.events.append((_END, None))


async def _parse_multipart(
    request: Request, boundary: bytes | None, limits: FormLimits
) -> FormData:
    if not boundary:
        raise HTTPException(400, "multipart/form-data needs a boundary parameter in Content-Type")
    if len(boundary) > 70:
        raise HTTPException(400, "The multipart boundary is longer than 70 characters")
    from python_multipart.exceptions import FormParserError
    from python_multipart.multipart import MultipartParser, MultipartState

    collected = _MultipartEvents(limits)
    parser = MultipartParser(
        boundary,
        collected.callbacks(),  # type: ignore[arg-type]
        max_header_count=limits.max_part_headers,
        max_header_size=limits.max_part_header_size,
    )
    items: list[tuple[str, FormValue]] = []
    name = ""
    upload: UploadFile | None = None
    value = bytearray()
    fields = files = 0
    try:
        async for chunk in request.stream():
            try:
                parser.write(chunk)
            except FormParserError as exc:
                raise _multipart_error(exc, limits) from None
            for kind, payload in collected.events:
                if kind == _DATA:
                    if upload is None:
                        value.extend(payload)
                        if len(value) > limits.max_field_size:
                            raise _field_too_large(limits.max_field_size)
                    else:
                        if limits.max_file_size is not None and (
                            upload.size + len(payload) > limits.max_file_size
                        ):
                            raise HTTPException(
                                413,
                                f"Uploaded file {upload.filename!r} is larger than the limit "
                                f"of {limits.max_file_size} bytes",
                            )
                        await upload.write(payload)
                elif kind == _HEADERS:
                    name, filename, content_type = _describe_part(payload)
                    value.clear()
                    if filename is None:
                        fields += 1
                        if fields > limits.max_fields:
                            raise _too_many("fields", limits.max_fields)
                    else:
                        files += 1
                        if files > limits.max_files:
                            raise _too_many("files", limits.max_files)
                        upload = UploadFile(
                            filename=filename,
                            content_type=content_type,
                            headers=Headers._from_lowercase(payload),
                            spool_max_size=limits.spool_max_size,
                        )
                else:  # _END
                    if upload is None:
                        items.append((name, _decode(value)))
                    else:
                        await upload.seek(0)
                        items.append((name, upload))
                        upload = None
            collected.events.clear()
        if parser.state != MultipartState.END:
            raise HTTPException(
                400, "Malformed multipart body: it ends before the closing boundary"
            )
    except BaseException:
        _close_files([upload, *(value for _, value in items)])
        raise
    return FormData(items)


def _describe_part(headers: list[tuple[str, str]]) -> tuple[str, str | None, str | None]:
    """Name, file name (``None`` for a plain field) and content type of one part."""
    disposition = content_type = None
    for key, text in headers:
        if key == "content-disposition":
            disposition = text
        elif key == "content-type":
            content_type = text
    if disposition is None:
        raise HTTPException(400, "Malformed multipart body: a part has no Content-Disposition")
    from python_multipart.multipart import parse_options_header

    _, options = parse_options_header(disposition)
    raw_name = options.get(b"name")
    if raw_name is None:
        raise HTTPException(
            400, "Malformed multipart body: a part's Content-Disposition has no name"
        )
    raw_filename = options.get(b"filename")
    filename = None if raw_filename is None else safe_filename(_decode(raw_filename))
    return _decode(raw_name), filename, content_type


def safe_filename(raw: str) -> str:
    """The last path component of a client-sent file name, without control characters."""
    name = raw.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable())
    return "" if name in (".", "..") else name


def _multipart_error(exc: FormParserError, limits: FormLimits) -> HTTPException:
    message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if message.startswith("Maximum header"):
        return HTTPException(
            413,
            f"A multipart part's headers are over the limit ({limits.max_part_headers} lines "
            f"of at most {limits.max_part_header_size} bytes)",
        )
    return HTTPException(400, f"Malformed multipart body: {message}")


def _close_files(values: Any) -> None:
    for value in values:
        if isinstance(value, UploadFile):
            value.file.close()


def close_with_request(form: FormData) -> None:
    """Close the form's files when the task serving this request ends (if it has any)."""
    if not any(isinstance(value, UploadFile) for _, value in form._items):
        return
    task = asyncio.current_task()
    if task is not None:
        task.add_done_callback(lambda _: form.close_now())
