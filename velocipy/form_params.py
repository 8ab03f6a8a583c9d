"""Handler parameters read from a form: ``Form()`` fields, Structs, ``UploadFile`` and lists.

``velocipy.params`` hands the form parameters of a handler to :func:`form_binder` once, at
registration; per request the binder reads them from the parsed :class:`FormData`, collecting
every problem as a 422 ``detail`` entry with ``loc`` ``["body", <field>]``.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import UnionType
from typing import Any, Union, get_args, get_origin

import msgspec

from velocipy.forms import FormData, FormValue, UploadFile
from velocipy.routing import converter_for_annotation

__all__ = ["FormBinder", "FormField", "form_binder", "is_form_model", "is_upload_annotation"]


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
    if is_form_model(inner):
        return _model_reader(inner, field, validation_errors)
    key = field.alias or field.name
    many = get_origin(inner) in (list, tuple, set, frozenset)
    item = get_args(inner)[0] if many and get_args(inner) else (str if many else inner)
    wants_file = item is UploadFile or (field.source == "file" and item is bytes)
    convert = converter_for_annotation(str if wants_file else item)

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


def is_form_model(annotation: Any) -> bool:
    """A Struct, dataclass or TypedDict filled from the form's fields (``Annotated[M, Form()]``)."""
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
