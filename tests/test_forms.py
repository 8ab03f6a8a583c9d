"""Forms and uploads in process, on ASGI and RSGI (the ``client_for`` fixture runs both)."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from typing import Annotated, Any

import msgspec
import pytest

from velocipy import File, Form, FormLimits, Request, UploadFile, VelociPy
from velocipy.forms import safe_filename

MULTIPART = "multipart/form-data; boundary=XyZ"


def part(name: str, body: bytes, filename: str | None = None, ctype: str | None = None) -> bytes:
    disposition = f'form-data; name="{name}"' + (
        f'; filename="{filename}"' if filename is not None else ""
    )
    head = f"--XyZ\r\nContent-Disposition: {disposition}\r\n"
    if ctype:
        head += f"Content-Type: {ctype}\r\n"
    return head.encode() + b"\r\n" + body + b"\r\n"


def multipart(*parts: bytes) -> bytes:
    return b"".join(parts) + b"--XyZ--\r\n"


class Signup(msgspec.Struct):
    name: str
    age: int
    tags: list[str] = []


def form_app(**options: Any) -> VelociPy:
    app = VelociPy(**options)

    @app.post("/login")
    async def login(
        username: Annotated[str, Form()], remember: Annotated[bool, Form()] = False
    ) -> dict[str, Any]:
        return {"username": username, "remember": remember}

    @app.post("/signup")
    async def signup(person: Annotated[Signup, Form()]) -> Signup:
        return person

    @app.post("/signup-json")
    async def signup_json(person: Signup) -> Signup:
        return person

    @app.post("/upload")
    async def upload(file: UploadFile, note: Annotated[str, Form()] = "") -> dict[str, Any]:
        content = await file.read()
        return {
            "filename": file.filename,
            "content_type": file.content_type,
            "size": file.size,
            "text": content.decode(),
            "note": note,
        }

    @app.post("/many")
    async def many(files: list[UploadFile]) -> list[Any]:
        return [[f.filename, (await f.read()).decode()] for f in files]

    @app.post("/bytes")
    async def as_bytes(data: Annotated[bytes, File()]) -> dict[str, int]:
        return {"length": len(data)}

    @app.post("/optional")
    async def optional(file: UploadFile | None = None) -> dict[str, Any]:
        return {"file": None if file is None else file.filename}

    @app.post("/raw")
    async def raw(request: Request) -> dict[str, Any]:
        form = await request.form()
        return {
            key: [v if isinstance(v, str) else f"file:{v.filename}" for v in form.get_list(key)]
            for key in form
        }

    return app


def test_urlencoded_fields_are_converted_and_validated(client_for: Any) -> None:
    client = client_for(form_app())
    response = client.post("/login", data={"username": "ada", "remember": "true"})
    assert response.json() == {"username": "ada", "remember": True}
    assert client.post("/login", data={"username": "ada"}).json()["remember"] is False
    missing = client.post("/login", data={"remember": "maybe"})
    assert missing.status_code == 422
    assert missing.json()["detail"][0] == {
        "loc": ["body", "username"],
        "msg": "Field required",
        "type": "missing",
    }
    assert missing.json()["detail"][1]["loc"] == ["body", "remember"]


def test_the_same_fields_arrive_as_multipart(client_for: Any) -> None:
    client = client_for(form_app())
    body = multipart(part("username", "Zoë".encode()), part("remember", b"1"))
    response = client.post("/login", content=body, headers={"content-type": MULTIPART})
    assert response.json() == {"username": "Zoë", "remember": True}


def test_a_struct_is_filled_from_form_fields_with_the_json_error_shape(client_for: Any) -> None:
    client = client_for(form_app())
    ok = client.post("/signup", data={"name": "Ada", "age": "36", "tags": ["a", "b"]})
    assert ok.json() == {"name": "Ada", "age": 36, "tags": ["a", "b"]}
    bad = client.post("/signup", data={"name": "Ada", "age": "old"})
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "age"]
    missing = client.post("/signup", data={"age": "3"})
    json_missing = client.post("/signup-json", json={"age": 3})
    assert missing.json() == json_missing.json()  # the same detail as a JSON body
    assert missing.json()["detail"][0]["type"] == "missing"
    assert "`name`" in missing.json()["detail"][0]["msg"]


def test_an_upload_with_its_metadata(client_for: Any) -> None:
    client = client_for(form_app())
    response = client.post(
        "/upload",
        files={"file": ("notes.txt", b"hello upload", "text/plain")},
        data={"note": "first"},
    )
    assert response.json() == {
        "filename": "notes.txt",
        "content_type": "text/plain",
        "size": 12,
        "text": "hello upload",
        "note": "first",
    }


def test_repeated_files_bind_to_a_list_and_bytes_reads_the_file(client_for: Any) -> None:
    client = client_for(form_app())
    files = [("files", ("a.txt", b"A")), ("files", ("b.txt", b"BB"))]
    assert client.post("/many", files=files).json() == [["a.txt", "A"], ["b.txt", "BB"]]
    assert client.post("/bytes", files={"data": ("x.bin", b"\0" * 5000)}).json() == {"length": 5000}


def test_missing_and_wrong_kind_of_upload_are_422(client_for: Any) -> None:
    client = client_for(form_app())
    missing = client.post("/upload", files={"other": ("x", b"x")})
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["body", "file"]
    not_a_file = client.post("/upload", data={"file": "just text"}, files={"x": ("x", b"")})
    assert not_a_file.status_code == 422
    assert not_a_file.json()["detail"][0]["msg"] == "Expected a file upload"
    assert client.post("/optional", data={"a": "b"}).json() == {"file": None}
    # A browser's empty file input: filename="" and no content, the same as no file.
    empty = multipart(part("file", b"", filename=""))
    assert client.post("/optional", content=empty, headers={"content-type": MULTIPART}).json() == {
        "file": None
    }


def test_request_form_gives_the_raw_form(client_for: Any) -> None:
    client = client_for(form_app())
    response = client.post("/raw", data={"a": ["1", "2"], "b": "x y&z=%"})
    assert response.json() == {"a": ["1", "2"], "b": ["x y&z=%"]}
    files = client.post("/raw", data={"a": "1"}, files={"f": ("f.txt", b"data")})
    assert files.json() == {"a": ["1"], "f": ["file:f.txt"]}


def test_client_file_names_are_reduced_to_a_safe_last_component(client_for: Any) -> None:
    client = client_for(form_app())
    for raw, safe in [("../../etc/passwd", "passwd"), ("C:\\x\\y.txt", "y.txt"), ("a\x07b", "ab")]:
        body = multipart(part("file", b"x", filename=raw))
        response = client.post("/upload", content=body, headers={"content-type": MULTIPART})
        assert response.json()["filename"] == safe
    assert safe_filename("..") == ""


PARSER_LOGS = {"bad-header-name", "no-lf-after-boundary", "wrong-boundary"}


def id_of(request: pytest.FixtureRequest) -> str:
    """The case's id without the protocol's (``asgi-bad-header-name`` -> ``bad-header-name``)."""
    return str(request.node.callspec.id).partition("-")[2]


@pytest.mark.parametrize(
    ("body", "content_type", "status", "reason"),
    [
        (multipart(part("a", b"1")), "multipart/form-data", 400, "needs a boundary"),
        (multipart(part("a", b"1")), "multipart/form-data; boundary=" + "b" * 71, 400, "70"),
        (part("a", b"1"), MULTIPART, 400, "ends before the closing boundary"),
        (b"--XyZ\r\n\r\nno headers\r\n--XyZ--\r\n", MULTIPART, 400, "no Content-Disposition"),
        (
            b"--XyZ\r\nContent-Disposition: form-data\r\n\r\nx\r\n--XyZ--\r\n",
            MULTIPART,
            400,
            "no name",
        ),
        (b"a=1", "text/plain", 415, "Unsupported media type"),
        # python-multipart logs a WARNING of its own for these three: it must not reach the log
        (
            b"--XyZ\r\nCont ent: x\r\n\r\nx\r\n--XyZ--\r\n",
            MULTIPART,
            400,
            "Malformed multipart body: Found invalid character 32 in header at 11",
        ),
        (b"--XyZ\rX", MULTIPART, 400, "Did not find LF at end of boundary (6)"),
        (b"--XyQ\r\n", MULTIPART, 400, "Expected boundary character 90, got 81 at index 6"),
    ],
    ids=[
        "no-boundary",
        "long-boundary",
        "unterminated",
        "no-headers",
        "no-name",
        "not-a-form",
        "bad-header-name",
        "no-lf-after-boundary",
        "wrong-boundary",
    ],
)
def test_malformed_bodies_get_a_precise_one_line_answer(
    request: pytest.FixtureRequest,
    client_for: Any,
    caplog: pytest.LogCaptureFixture,
    body: bytes,
    content_type: str,
    status: int,
    reason: str,
) -> None:
    client = client_for(form_app())
    with caplog.at_level(logging.WARNING), caplog.at_level(logging.DEBUG, logger="velocipy.forms"):
        response = client.post("/raw", content=body, headers={"content-type": content_type})
    assert response.status_code == status
    detail = response.json()["detail"]
    assert reason in detail
    assert "\n" not in detail
    # at most a DEBUG line of ours, with the parser's words
    assert [r.levelno for r in caplog.records] == [logging.DEBUG] * len(caplog.records)
    if id_of(request) in PARSER_LOGS:  # the parser's own warning, as our DEBUG line
        message = detail.removeprefix("Malformed multipart body: ")
        assert [r.getMessage() for r in caplog.records] == [f"form parser: {message}"]
    else:
        assert caplog.records == []
    assert client.post("/login", data={"username": "still up"}).status_code == 200


def test_limits_answer_413_alike_for_multipart_and_urlencoded(client_for: Any) -> None:
    limits = FormLimits(max_fields=5, max_files=2, max_field_size=100, max_file_size=1000)
    client = client_for(form_app(form_limits=limits))
    many_fields = {f"f{i}": "x" for i in range(6)}
    for sent in (
        client.post("/raw", data=many_fields),
        client.post("/raw", data=many_fields, files={"f": ("f", b"")}),
    ):
        assert sent.status_code == 413
        assert sent.json()["detail"] == "Too many fields in the form: the limit is 5"
    for sent in (
        client.post("/raw", data={"big": "x" * 101}),
        client.post("/raw", data={"big": "x" * 101}, files={"f": ("f", b"")}),
    ):
        assert sent.status_code == 413
        assert "larger than the limit of 100 bytes" in sent.json()["detail"]
    files = [("f", ("a", b"x")), ("f", ("b", b"x")), ("f", ("c", b"x"))]
    assert client.post("/raw", files=files).json()["detail"].startswith("Too many files")
    big = client.post("/upload", files={"file": ("big.bin", b"x" * 1001)})
    assert big.status_code == 413
    assert big.json()["detail"] == "Uploaded file 'big.bin' is larger than the limit of 1000 bytes"


def test_ten_thousand_tiny_parts_stop_at_the_parts_limit(client_for: Any) -> None:
    client = client_for(form_app())
    body = multipart(*[part("p", b"") for _ in range(10_000)])
    response = client.post("/raw", content=body, headers={"content-type": MULTIPART})
    assert response.status_code == 413
    assert response.json()["detail"] == "Too many fields in the form: the limit is 1000"


def test_part_headers_over_the_limit_are_413(client_for: Any) -> None:
    client = client_for(form_app())
    long_header = b"--XyZ\r\nX-Pad: " + b"p" * 5000 + b"\r\n" + part("a", b"1")[7:] + b"--XyZ--\r\n"
    response = client.post("/raw", content=long_header, headers={"content-type": MULTIPART})
    assert response.status_code == 413
    assert "headers are over the limit" in response.json()["detail"]
    many = b"--XyZ\r\n" + b"X-A: 1\r\n" * 20 + part("a", b"1")[7:] + b"--XyZ--\r\n"
    assert client.post("/raw", content=many, headers={"content-type": MULTIPART}).status_code == 413


def test_the_body_limit_applies_to_forms(client_for: Any) -> None:
    client = client_for(form_app(max_body_size=10_000))
    response = client.post("/upload", files={"file": ("big.bin", b"x" * 20_000)})
    assert response.status_code == 413


def _open_temp_files() -> set[str]:
    """Anonymous temporary files this process holds open (a rolled-over upload is one)."""
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if "(deleted)" in target or target.startswith("/tmp/#"):
            found.add(target)
    return found


def test_large_uploads_spool_to_disk_off_the_loop_and_are_closed_after_the_handler(
    client_for: Any,
) -> None:
    app = VelociPy()
    seen: dict[str, Any] = {}

    @app.post("/spool")
    async def spool(file: UploadFile) -> dict[str, Any]:
        seen["file"] = file
        seen["rolled"] = getattr(file.file, "_rolled", None)
        seen["on_disk_fds"] = len(_open_temp_files())
        return {"size": file.size}

    before = _open_temp_files()
    client = client_for(app)
    payload = os.urandom(3 * 1024 * 1024)
    assert client.post("/spool", files={"file": ("big", payload)}).json() == {"size": len(payload)}
    assert seen["rolled"] is True  # past the 1 MiB spool size it went to a temp file
    assert seen["on_disk_fds"] > len(before)
    assert seen["file"].file.closed
    assert _open_temp_files() == before


def test_rollover_writes_run_in_a_worker_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    writes: list[tuple[bytes, bool]] = []
    upload = UploadFile(filename="x", spool_max_size=10)
    real_write = upload.file.write
    loop_thread: list[int] = []

    def write(data: bytes) -> int:
        writes.append((data, threading.get_ident() == loop_thread[0]))
        return real_write(data)

    monkeypatch.setattr(upload.file, "write", write)

    async def run() -> None:
        loop_thread.append(threading.get_ident())
        await upload.write(b"12345")  # stays in memory: written on the loop
        await upload.write(b"1234567890")  # rolls over to disk: written in a thread
        await upload.write(b"more")  # on disk: in a thread

    asyncio.run(run())
    assert writes == [(b"12345", True), (b"1234567890", False), (b"more", False)]
    assert upload.size == 19
    assert getattr(upload.file, "_rolled", None) is True
    upload.file.close()


def test_files_are_closed_when_the_handler_raises(client_for: Any) -> None:
    app = VelociPy()
    seen: list[UploadFile] = []

    @app.post("/boom")
    async def boom(file: UploadFile) -> None:
        seen.append(file)
        raise RuntimeError("handler failed")

    client = client_for(app, raise_server_exceptions=False)
    assert client.post("/boom", files={"file": ("f", b"x" * 2_000_000)}).status_code == 500
    assert seen[0].file.closed


def test_files_of_a_failed_parse_are_closed(
    client_for: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[UploadFile] = []
    real_init = UploadFile.__init__

    def tracking_init(self: UploadFile, *args: Any, **kwargs: Any) -> None:
        real_init(self, *args, **kwargs)
        opened.append(self)

    monkeypatch.setattr(UploadFile, "__init__", tracking_init)
    client = client_for(form_app())
    body = part("file", b"x" * 2_000_000, filename="a") + part("file", b"y", filename="b")
    response = client.post("/many", content=body, headers={"content-type": MULTIPART})
    assert response.status_code == 400  # no closing boundary
    assert len(opened) == 2
    assert all(u.file.closed for u in opened)


def test_form_and_json_body_in_one_handler_is_refused_at_registration() -> None:
    app = VelociPy()
    with pytest.raises(TypeError, match="mixes a JSON body with form fields"):

        @app.post("/x")
        async def both(a: Annotated[str, Form()], b: Signup) -> None: ...


def test_the_test_client_takes_httpx_file_shapes(client_for: Any, tmp_path: Any) -> None:
    app = VelociPy()

    @app.post("/echo")
    async def echo(request: Request) -> list[Any]:
        form = await request.form()
        return [
            [k, v]
            if isinstance(v, str)
            else [
                k,
                v.filename,
                v.content_type,
                v.headers.get("x-extra"),
                (await v.read()).decode(),
            ]
            for k, v in form.multi_items()
        ]

    path = tmp_path / "report.csv"
    path.write_bytes(b"a,b")
    client = client_for(app)
    with path.open("rb") as handle:
        response = client.post(
            "/echo",
            data={"tag": ["x", "y"]},
            files=[
                ("f", handle),
                ("f", ("notes.txt", "text content")),
                ("f", ('a"b.bin', b"raw", "application/x-raw", {"X-Extra": "1"})),
                ("f", b"bare bytes"),
            ],
        )
    assert response.json() == [
        ["tag", "x"],
        ["tag", "y"],
        ["f", "report.csv", "text/csv", None, "a,b"],
        ["f", "notes.txt", "text/plain", None, "text content"],
        ["f", "a%22b.bin", "application/x-raw", "1", "raw"],
        ["f", "", "application/octet-stream", None, "bare bytes"],
    ]


def test_a_long_preamble_and_a_hostile_content_type_are_handled(client_for: Any) -> None:
    client = client_for(form_app())
    preamble = b"\r\n" * (2 * 1024 * 1024)
    body = preamble + multipart(part("username", b"ada"))
    response = client.post("/login", content=body, headers={"content-type": MULTIPART})
    assert response.json() == {"username": "ada", "remember": False}
    # The option string of CVE-2024-24762 (a ReDoS in a regex-based Content-Type parser).
    hostile = "multipart/form-data; boundary=XyZ;" + "\t" * 50_000 + "x"
    answered = client.post(
        "/raw", content=multipart(part("a", b"1")), headers={"content-type": hostile}
    )
    assert answered.json() == {"a": ["1"]}  # parsed without a regex: the boundary is still found


def test_import_velocipy_does_not_import_the_form_parser() -> None:
    import subprocess
    import sys

    code = "import sys, velocipy; print('python_multipart' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "False", done.stderr


@pytest.mark.parametrize("on_disk", [False, True])
def test_upload_file_read_seek_and_close_in_memory_and_on_disk(on_disk: bool) -> None:
    async def scenario() -> None:
        upload = UploadFile(spool_max_size=4)
        await upload.write(b"abc")
        if on_disk:
            await upload.write(b"defgh")  # past 4 bytes: rolled over to a disk file
        assert upload._in_memory is not on_disk
        assert await upload.seek(0) == 0
        assert await upload.read(2) == b"ab"
        assert await upload.read() == (b"cdefgh" if on_disk else b"c")
        assert await upload.seek(-2, os.SEEK_END) == (6 if on_disk else 1)
        assert await upload.read() == (b"gh" if on_disk else b"bc")
        await upload.close()
        assert upload.file.closed
        await upload.close()  # twice is harmless

    asyncio.run(scenario())


# --- every form limit at, below and above its value -------------------------------------------
EDGE_LIMITS = FormLimits(
    max_fields=5,
    max_files=2,
    max_field_size=100,
    max_file_size=1000,
    max_part_headers=3,
    max_part_header_size=200,
)
TOO_MANY_FIELDS = "Too many fields in the form: the limit is 5"
FIELD_TOO_LARGE = "A form field is larger than the limit of 100 bytes"
PART_HEADERS = "A multipart part's headers are over the limit (3 lines of at most 200 bytes)"


def post_multipart(client: Any, *parts: bytes) -> Any:
    return client.post("/raw", content=multipart(*parts), headers={"content-type": MULTIPART})


def padded_part(headers: int, header_size: int = 0) -> bytes:
    """A field part with ``headers`` header lines; with ``header_size``, its first line (name,
    colon, space and value) is exactly that many bytes long."""
    disposition = 'Content-Disposition: form-data; name="a"'
    lines = [disposition] + [f"X-Pad-{i}: p" for i in range(headers - 1)]
    if header_size:
        lines[0] = disposition + "; p=" + "q" * (header_size - len(disposition) - 4)
        assert len(lines[0]) == header_size
    return ("--XyZ\r\n" + "".join(line + "\r\n" for line in lines) + "\r\n1\r\n").encode()


def count_edge(client: Any, kind: str, count: int) -> Any:
    """``count`` fields (urlencoded or multipart), files, or parts (5 fields and the rest files)."""
    if kind == "urlencoded-fields":
        return client.post("/raw", data={f"f{i}": "x" for i in range(count)})
    if kind == "multipart-fields":
        return post_multipart(client, *[part(f"f{i}", b"x") for i in range(count)])
    if kind == "files":
        return post_multipart(client, *[part("f", b"x", f"{i}.txt") for i in range(count)])
    fields = [part(f"f{i}", b"x") for i in range(5)]
    return post_multipart(client, *fields, *[part("f", b"x", f"{i}.txt") for i in range(count - 5)])


COUNT_EDGES = {  # kind: (the limit, the answer one past it)
    "urlencoded-fields": (5, TOO_MANY_FIELDS),
    "multipart-fields": (5, TOO_MANY_FIELDS),
    "files": (2, "Too many files in the form: the limit is 2"),
    "parts": (7, "Too many parts in the form: the limit is 7"),
}


@pytest.mark.parametrize("kind", COUNT_EDGES)
@pytest.mark.parametrize("offset", [-1, 0, 1], ids=["below", "at", "above"])
def test_each_count_limit_at_below_and_above(client_for: Any, kind: str, offset: int) -> None:
    limit, refusal = COUNT_EDGES[kind]
    client = client_for(form_app(form_limits=EDGE_LIMITS))
    response = count_edge(client, kind, limit + offset)
    if offset > 0:
        assert (response.status_code, response.json()) == (413, {"detail": refusal})
    else:
        assert response.status_code == 200, response.text
        assert sum(len(values) for values in response.json().values()) == limit + offset


def size_edge(client: Any, kind: str, size: int) -> Any:
    """A field or file of ``size`` bytes: for urlencoded, the name and value together."""
    if kind == "urlencoded-field":
        return client.post("/raw", data={"b": "x" * (size - 1)})
    if kind == "multipart-field":
        return post_multipart(client, part("b", b"x" * size))
    if kind == "file":
        return client.post("/upload", files={"file": ("big.bin", b"x" * size)})
    if kind == "part-header-lines":
        return client.post(
            "/raw", content=padded_part(size) + b"--XyZ--\r\n", headers={"content-type": MULTIPART}
        )
    return client.post(
        "/raw", content=padded_part(1, size) + b"--XyZ--\r\n", headers={"content-type": MULTIPART}
    )


SIZE_EDGES = {  # kind: (the limit, the answer one past it)
    "urlencoded-field": (100, FIELD_TOO_LARGE),
    "multipart-field": (100, FIELD_TOO_LARGE),
    "file": (1000, "Uploaded file 'big.bin' is larger than the limit of 1000 bytes"),
    "part-header-lines": (3, PART_HEADERS),
    "part-header-size": (200, PART_HEADERS),
}


@pytest.mark.parametrize("kind", SIZE_EDGES)
@pytest.mark.parametrize("offset", [-1, 0, 1], ids=["below", "at", "above"])
def test_each_size_limit_at_below_and_above(client_for: Any, kind: str, offset: int) -> None:
    limit, refusal = SIZE_EDGES[kind]
    client = client_for(form_app(form_limits=EDGE_LIMITS))
    response = size_edge(client, kind, limit + offset)
    if offset > 0:
        assert (response.status_code, response.json()) == (413, {"detail": refusal})
    else:
        assert response.status_code == 200, response.text
        if kind == "file":
            assert response.json()["size"] == limit + offset
        elif kind == "urlencoded-field":
            assert response.json() == {"b": ["x" * (limit + offset - 1)]}
        elif kind == "multipart-field":
            assert response.json() == {"b": ["x" * (limit + offset)]}
        else:
            assert response.json() == {"a": ["1"]}
