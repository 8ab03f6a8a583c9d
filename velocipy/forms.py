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
import dataclasses
import tempfile
import typing
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType, UnionType
from typing import IO, TYPE_CHECKING, Any, Union, get_args, get_origin
from urllib.parse import unquote_to_bytes

import msgspec

from velocipy.datastructures import Headers
from velocipy.exceptions import HTTPException
from velocipy.routing import converter_for_annotation

if TYPE_CHECKING:
    from python_multipart.exceptions import FormParserError

    from velocipy.requests import Request

__all__ = ["FormData", "FormLimits", "UploadFile", "parse_form"]

_MULTIPART = b"multipart/form-data"
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
        self.file: IO[bytes] = (
            file if file is not None else tempfile.SpooledTemporaryFile(max_size=spool_max_size)  # noqa: SIM115 - lives on
        )
        self.filename = filename
        self.content_type = content_type
        self.headers = headers if headers is not None else Headers()
        self.size = size

    @property
    def _in_memory(self) -> bool:
        return isinstance(self.file, tempfile.SpooledTemporaryFile) and not getattr(
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
        if self._in_memory:
            return self.file.read(size)
        return await asyncio.to_thread(self.file.read, size)

    async def seek(self, offset: int) -> None:
        if self._in_memory:
            self.file.seek(offset)
        else:
            await asyncio.to_thread(self.file.seek, offset)

    async def close(self) -> None:
        if self._in_memory or self.file.closed:
            self.file.close()
        else:
            await asyncio.to_thread(self.file.close)

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


# --- handler parameters bound from a form (used by velocipy.params) -------------------------
@dataclass(frozen=True, slots=True)
class FormField:
    """One handler parameter read from the form: ``source`` is ``"form"`` or ``"file"``."""

    name: str
    source: str
    alias: str | None
    annotation: Any
    default: Any
    required: bool


FormBinder = Callable[[FormData, list[dict[str, Any]]], Awaitable[dict[str, Any]]]
FieldReader = Callable[[FormData, list[dict[str, Any]]], Awaitable[Any]]


def is_upload_annotation(annotation: Any) -> bool:
    """``UploadFile``, ``list[UploadFile]`` or either of those ``| None``."""
    for candidate in (annotation, *get_args(annotation)):
        if candidate is UploadFile:
            return True
        if get_origin(candidate) in (list, tuple) and get_args(candidate)[:1] == (UploadFile,):
            return True
    return False


def form_binder(
    fields: list[FormField],
    validation_errors: Callable[[msgspec.ValidationError], list[dict[str, Any]]],
) -> FormBinder:
    """Read every form parameter of a handler, collecting errors as 422 ``detail`` entries."""
    readers = [(f.name, _field_reader(f, validation_errors)) for f in fields]

    async def bind(form: FormData, errors: list[dict[str, Any]]) -> dict[str, Any]:
        return {name: await read(form, errors) for name, read in readers}

    return bind


def _field_reader(
    field: FormField, validation_errors: Callable[[msgspec.ValidationError], list[dict[str, Any]]]
) -> FieldReader:
    inner = field.annotation
    for candidate in get_args(inner) if get_origin(inner) in (Union, UnionType) else ():
        if candidate is not type(None):
            inner = candidate
    if _is_model(inner):
        return _model_reader(inner, field, validation_errors)
    key = field.alias or field.name
    many = get_origin(inner) in (list, tuple, set, frozenset)
    item = get_args(inner)[0] if many and get_args(inner) else (str if many else inner)
    wants_file = item is UploadFile or (field.source == "file" and item is bytes)
    convert = None if wants_file else converter_for_annotation(item)

    async def read(form: FormData, errors: list[dict[str, Any]]) -> Any:
        found = form.get_list(key)
        if not found or (wants_file and _only_empty_files(found)):
            if field.required:
                errors.append({"loc": ["body", key], "msg": "Field required", "type": "missing"})
            return field.default if not field.required else None
        values: list[Any] = []
        for value in found:
            if wants_file:
                if not isinstance(value, UploadFile):
                    errors.append(
                        {
                            "loc": ["body", key],
                            "msg": "Expected a file upload",
                            "type": "value_error",
                        }
                    )
                    return None
                values.append(value if item is UploadFile else await value.read())
            elif isinstance(value, UploadFile):
                errors.append(
                    {
                        "loc": ["body", key],
                        "msg": "Expected a form field, got a file",
                        "type": "value_error",
                    }
                )
                return None
            else:
                assert convert is not None
                try:
                    values.append(convert.convert(value))
                except ValueError as exc:
                    errors.append(
                        {"loc": ["body", key], "msg": str(exc), "type": convert.error_type}
                    )
                    return None
        return values if many else values[0]

    return read


def _only_empty_files(found: list[FormValue]) -> bool:
    """A browser sends an empty part with ``filename=""`` when no file was chosen."""
    return all(isinstance(v, UploadFile) and not v.filename and not v.size for v in found)


def _is_model(annotation: Any) -> bool:
    if isinstance(annotation, type):
        if issubclass(annotation, msgspec.Struct) or dataclasses.is_dataclass(annotation):
            return True
        return typing.is_typeddict(annotation)
    return False


def _model_reader(
    model: Any,
    field: FormField,
    validation_errors: Callable[[msgspec.ValidationError], list[dict[str, Any]]],
) -> FieldReader:
    """A Struct / dataclass / TypedDict filled from same-named form fields (lists for repeats)."""
    info = msgspec.inspect.type_info(model)
    many = {
        f.encode_name
        for f in getattr(info, "fields", ())
        if isinstance(
            f.type,
            msgspec.inspect.ListType | msgspec.inspect.SetType | msgspec.inspect.VarTupleType,
        )
    }

    async def read(form: FormData, errors: list[dict[str, Any]]) -> Any:
        data = {
            key: (values if key in many else values[0])
            for key in form
            if (values := [v for v in form.get_list(key) if isinstance(v, str)])
        }
        try:
            return msgspec.convert(data, model, strict=False)
        except msgspec.ValidationError as exc:
            errors.extend(validation_errors(exc))
            return None

    return read
