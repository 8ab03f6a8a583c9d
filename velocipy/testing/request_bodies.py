"""What the test clients send: httpx's ``headers=``, ``params=``, ``data=``, ``files=`` and
``content=`` arguments turned into header pairs, a query and the body's wire chunks."""

from __future__ import annotations

import mimetypes
import os
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "FormInput",
    "HeaderInput",
    "Params",
    "body_chunks",
    "encode_multipart",
    "form_pairs",
    "header_pairs",
    "param_pairs",
]

HeaderInput = Mapping[str, str] | Iterable[tuple[str, str]] | None
ParamValue = str | int | float | bool | None
Params = Mapping[str, ParamValue | Iterable[ParamValue]] | Iterable[tuple[str, ParamValue]] | None
FormInput = Mapping[str, Any] | None


def header_pairs(headers: HeaderInput) -> list[tuple[str, str]]:
    if headers is None:
        return []
    items = headers.items() if isinstance(headers, Mapping) else headers
    return [(str(name).lower(), str(value)) for name, value in items]


def param_pairs(params: Params) -> list[tuple[str, str]]:
    if params is None:
        return []
    items = params.items() if isinstance(params, Mapping) else params
    pairs = []
    for name, value in items:
        values = value if isinstance(value, list | tuple) else [value]
        for item in values:
            if item is None:
                continue
            text = ("true" if item else "false") if isinstance(item, bool) else str(item)
            pairs.append((name, text))
    return pairs


def form_pairs(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """httpx's form shape: a value, or a list of values for a repeated field."""
    pairs = []
    for name, value in data.items():
        for item in value if isinstance(value, list | tuple) else [value]:
            text = ("true" if item else "false") if isinstance(item, bool) else str(item)
            pairs.append((name, text))
    return pairs


def encode_multipart(data: FormInput, files: Any) -> tuple[bytes, str]:
    """A ``multipart/form-data`` body and its Content-Type, from httpx's ``data=``/``files=``.

    ``files`` maps (or lists pairs of) a field name to ``bytes``, a binary file object, or a
    tuple ``(filename, content[, content_type[, headers]])``.
    """
    boundary = os.urandom(16).hex()
    out = bytearray()
    for name, value in form_pairs(data or {}):
        out += _part_head(boundary, name, None, None, {})
        out += value.encode() + b"\r\n"
    for name, value in files.items() if isinstance(files, Mapping) else files:
        filename, content, content_type, headers = _file_parts(value)
        out += _part_head(boundary, name, filename, content_type, headers)
        out += content + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


def _file_parts(value: Any) -> tuple[str, bytes, str, Mapping[str, str]]:
    parts = value if isinstance(value, tuple) else (None, value)
    filename = parts[0] if parts[0] is not None else os.path.basename(getattr(value, "name", ""))
    content = parts[1]
    if hasattr(content, "read"):
        content = content.read()
    if isinstance(content, str):
        content = content.encode()
    guessed = mimetypes.guess_type(filename)[0] if filename else None
    content_type = parts[2] if len(parts) > 2 and parts[2] else guessed
    headers = parts[3] if len(parts) > 3 else {}
    return filename, bytes(content), content_type or "application/octet-stream", headers


def _part_head(
    boundary: str,
    name: str,
    filename: str | None,
    content_type: str | None,
    headers: Mapping[str, str],
) -> bytes:
    disposition = f'form-data; name="{_quote_param(name)}"'
    if filename is not None:
        disposition += f'; filename="{_quote_param(filename)}"'
    lines = [f"--{boundary}", f"Content-Disposition: {disposition}"]
    if content_type is not None:
        lines.append(f"Content-Type: {content_type}")
    lines += [f"{key}: {value}" for key, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _quote_param(text: str) -> str:
    """Quote a name for a Content-Disposition parameter the way browsers (and httpx) do."""
    return text.replace("\\", "\\\\").replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


def body_chunks(content: Any, chunk_size: int) -> tuple[list[bytes], bool]:
    """Split ``content`` into wire chunks; say whether its length was known up front."""
    if content is None:
        return [], True
    if isinstance(content, str):
        content = content.encode()
    if isinstance(content, bytes | bytearray | memoryview):
        data = bytes(content)
        return [data[i : i + chunk_size] for i in range(0, len(data), chunk_size)], True
    chunks = [c.encode() if isinstance(c, str) else bytes(c) for c in content]
    return [c for c in chunks if c], False
