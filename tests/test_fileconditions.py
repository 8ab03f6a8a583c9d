"""Conditional GET and Range for FileResponse: the parsing rules, then both protocols."""

from __future__ import annotations

import email.utils
import os
from pathlib import Path

import pytest

from tests.conftest import ClientFactory
from velocipy import FileResponse, VelociPy
from velocipy.fileconditions import (
    MAX_RANGES,
    UNSATISFIABLE,
    if_range_allows,
    is_not_modified,
    parse_byte_range,
)

CONTENT = bytes(range(256)) * 400  # 102400 bytes: ranges span several read chunks


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-0", (0, 1)),
        ("bytes=0-", (0, 100)),
        ("bytes=10-19", (10, 20)),
        ("bytes=90-500", (90, 100)),  # end clamped to the file
        ("bytes=-10", (90, 100)),
        ("bytes=-500", (0, 100)),  # suffix longer than the file: the whole file
        ("BYTES = 5-6", (5, 7)),
        ("bytes= 1-2 , 3-4", (1, 5)),  # adjacent ranges merge
        ("bytes=50-60,0-10,5-55", (0, 61)),  # overlapping, unordered: merged
        ("bytes=0-1,100-200", (0, 2)),  # the unsatisfiable one is dropped
        ("bytes=100-", UNSATISFIABLE),
        ("bytes=-0", UNSATISFIABLE),
        ("bytes=0-1,5-6", None),  # two ranges remain: whole file
        ("bytes=5-1", None),  # reversed: invalid, ignored
        ("bytes=a-b", None),
        ("bytes=1", None),
        ("bytes=-", None),
        ("bytes=", None),
        ("items=0-1", None),
        ("bytes=0-" + "9" * 5000, None),
        ("bytes=\u0661-2", None),  # non-ASCII digits
    ],
)
def test_parse_byte_range(header: str, expected: object) -> None:
    assert parse_byte_range(header, 100) == expected


def test_many_ranges_are_bounded() -> None:
    header = "bytes=" + ",".join(f"{i}-{i}" for i in range(10_000))
    assert parse_byte_range(header, 100_000) is None  # ignored: the whole file
    just_enough = "bytes=" + ",".join(f"{i}-{i}" for i in range(MAX_RANGES))
    assert parse_byte_range(just_enough, 100_000) == (0, MAX_RANGES)


def test_empty_file_has_no_satisfiable_range() -> None:
    assert parse_byte_range("bytes=0-", 0) == UNSATISFIABLE
    assert parse_byte_range("bytes=-5", 0) == UNSATISFIABLE


def test_validators() -> None:
    date = email.utils.formatdate(1000, usegmt=True)
    assert is_not_modified('"a"', None, '"a"', 1000)
    assert is_not_modified('W/"a", "b"', None, '"a"', 1000)  # weak comparison
    assert is_not_modified("*", None, '"a"', 1000)
    assert not is_not_modified('"b"', date, '"a"', 1000)  # If-None-Match wins over the date
    assert is_not_modified(None, date, '"a"', 1000)
    assert not is_not_modified(None, date, '"a"', 1001)
    assert not is_not_modified(None, "yesterday", '"a"', 1000)
    assert not is_not_modified(None, None, '"a"', 1000)
    assert if_range_allows(None, '"a"', 1000)
    assert if_range_allows('"a"', '"a"', 1000)
    assert not if_range_allows('W/"a"', '"a"', 1000)
    assert not if_range_allows('"b"', '"a"', 1000)
    assert if_range_allows(date, '"a"', 1000)
    assert not if_range_allows(date, '"a"', 999)


@pytest.fixture
def file_app(tmp_path: Path) -> VelociPy:
    path = tmp_path / "data.bin"
    path.write_bytes(CONTENT)
    os.utime(path, (1_700_000_000, 1_700_000_000))
    app = VelociPy()

    @app.get("/file")
    def file() -> FileResponse:
        return FileResponse(path)

    @app.get("/created")
    def created() -> FileResponse:
        return FileResponse(path, status_code=201)

    @app.get("/tagged")
    def tagged() -> FileResponse:
        return FileResponse(path, headers={"etag": '"v1"', "cache-control": "max-age=60"})

    return app


def test_range_responses(client_for: ClientFactory, file_app: VelociPy) -> None:
    client = client_for(file_app)
    partial = client.get("/file", headers={"range": "bytes=1000-70999"})
    assert partial.status_code == 206
    assert partial.headers["content-range"] == "bytes 1000-70999/102400"
    assert partial.content == CONTENT[1000:71000]
    small = client.get("/file", headers={"range": "bytes=10-19"})
    assert (small.status_code, small.content) == (206, CONTENT[10:20])
    assert small.headers["content-length"] == "10"
    suffix = client.get("/file", headers={"range": "bytes=-16"})
    assert suffix.content == CONTENT[-16:]
    refused = client.get("/file", headers={"range": "bytes=200000-"})
    assert refused.status_code == 416
    assert refused.headers["content-range"] == "bytes */102400"
    assert refused.json() == {"detail": "Range Not Satisfiable"}
    whole = client.get("/file", headers={"range": "bytes=0-1,5000-5001"})
    assert (whole.status_code, whole.content) == (200, CONTENT)
    head = client.head("/file", headers={"range": "bytes=0-1"})  # Range applies to GET only
    assert (head.status_code, head.headers["content-length"]) == (200, "102400")
    not_ok = client.get("/created", headers={"range": "bytes=0-1"})  # only a 200 is ranged
    assert (not_ok.status_code, len(not_ok.content)) == (201, len(CONTENT))


def test_conditional_get(client_for: ClientFactory, file_app: VelociPy) -> None:
    client = client_for(file_app)
    first = client.get("/file")
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    assert modified == "Tue, 14 Nov 2023 22:13:20 GMT"
    cached = client.get("/file", headers={"if-none-match": etag})
    assert (cached.status_code, cached.content) == (304, b"")
    assert cached.headers["etag"] == etag
    assert "content-type" not in cached.headers
    assert client.get("/file", headers={"if-modified-since": modified}).status_code == 304
    assert client.head("/file", headers={"if-none-match": etag}).status_code == 304
    older = "Mon, 13 Nov 2023 00:00:00 GMT"
    assert client.get("/file", headers={"if-modified-since": older}).status_code == 200
    assert client.get("/file", headers={"if-none-match": '"x"'}).status_code == 200
    ranged = client.get("/file", headers={"range": "bytes=0-3", "if-range": etag})
    assert (ranged.status_code, ranged.content) == (206, CONTENT[:4])
    stale = client.get("/file", headers={"range": "bytes=0-3", "if-range": '"old"'})
    assert (stale.status_code, len(stale.content)) == (200, len(CONTENT))
    assert client.get("/created", headers={"if-none-match": etag}).status_code == 201


def test_handler_headers_are_the_validators(client_for: ClientFactory, file_app: VelociPy) -> None:
    client = client_for(file_app)
    cached = client.get("/tagged", headers={"if-none-match": '"v1"'})
    assert cached.status_code == 304
    assert cached.headers["cache-control"] == "max-age=60"
    assert (
        client.get("/tagged", headers={"range": "bytes=0-0", "if-range": '"v1"'}).content
        == (CONTENT[:1])
    )
