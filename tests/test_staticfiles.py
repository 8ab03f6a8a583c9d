"""StaticFiles, app.mount and safe_join through the in-process client, on ASGI and RSGI."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ClientFactory
from velocipy import FileResponse, HTTPException, PlainTextResponse, Request, VelociPy
from velocipy.staticfiles import StaticFiles, resolve_inside, safe_join

NOT_FOUND = {"detail": "File not found"}


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    public = tmp_path / "public"
    (public / "docs").mkdir(parents=True)
    (public / "app.css").write_text("body { color: red }\n")
    (public / "docs" / "index.html").write_text("<p>docs</p>")
    (public / "404.html").write_text("<p>nothing here</p>")
    (tmp_path / "public_sibling").mkdir()
    (tmp_path / "public_sibling" / "secret.txt").write_text("secret")
    (tmp_path / "secret.txt").write_text("secret")
    os.symlink(tmp_path / "secret.txt", public / "out.txt")
    os.symlink(public / "app.css", public / "in.css")
    return tmp_path


def static_app(root: Path, **options: Any) -> VelociPy:
    app = VelociPy()
    app.mount("/static", StaticFiles(directory=root / "public", **options), name="static")
    return app


def test_serves_files_with_type_and_url_for(client_for: ClientFactory, tree: Path) -> None:
    app = static_app(tree)
    client = client_for(app)
    response = client.get("/static/app.css")
    assert response.status_code == 200
    assert response.text == "body { color: red }\n"
    assert response.headers["content-type"] == "text/css; charset=utf-8"
    assert response.headers["accept-ranges"] == "bytes"
    assert app.url_for("static", path="app.css") == "/static/app.css"
    assert app.url_for("static", path="a b/c.css") == "/static/a%20b/c.css"
    head = client.head("/static/app.css")
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["content-length"] == str(len("body { color: red }\n"))


@pytest.mark.parametrize(
    "path",
    [
        "/static/../secret.txt",
        "/static/%2e%2e/secret.txt",
        "/static/..%2fsecret.txt",
        "/static/docs/../../secret.txt",
        "/static/app.css%00",
        "/static//etc/passwd",
        "/static/%5c..%5csecret.txt",
        "/static/C:%5cWindows",
        "/static/c:/Windows",
        "/static/../public_sibling/secret.txt",
        "/static/out.txt",
        "/static/docs",
        "/static/" + "x" * 5000,
        "/static/missing.css",
        "/static/",
    ],
)
def test_unsafe_or_missing_names_get_one_404(
    client_for: ClientFactory, tree: Path, path: str
) -> None:
    response = client_for(static_app(tree)).get(path)
    assert (response.status_code, response.json()) == (404, NOT_FOUND)


def test_symlinks(client_for: ClientFactory, tree: Path) -> None:
    client = client_for(static_app(tree))
    assert client.get("/static/in.css").status_code == 200  # target inside the root
    allowed = client_for(static_app(tree, follow_symlinks=True))
    assert allowed.get("/static/out.txt").text == "secret"
    assert allowed.get("/static/../secret.txt").status_code == 404  # still no ..


def test_html_mode(client_for: ClientFactory, tree: Path) -> None:
    client = client_for(static_app(tree, html=True), follow_redirects=False)
    assert client.get("/static/docs/").text == "<p>docs</p>"
    redirect = client.get("/static/docs")  # the interop test sees the 307 itself
    if redirect.status_code == 307:
        assert redirect.headers["location"] == "/static/docs/"
    else:  # a client that follows redirects
        assert redirect.text == "<p>docs</p>"
    missing = client.get("/static/nope")
    assert (missing.status_code, missing.text) == (404, "<p>nothing here</p>")


def test_only_get_and_head(client_for: ClientFactory, tree: Path) -> None:
    response = client_for(static_app(tree)).post("/static/app.css")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"


def test_no_filesystem_call_for_rejected_names(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    for name in ("realpath", "abspath"):
        original: Callable[[str], str] = getattr(os.path, name)
        monkeypatch.setattr(os.path, name, lambda p, _o=original: calls.append(p) or _o(p))
    root = str(tree / "public")
    for name in ["/etc/passwd", "C:\\Windows", "\\\\host\\share", "a\0b", "../x", "a/../../x"]:
        assert resolve_inside(root, name) is None
        assert resolve_inside(root, name, follow_symlinks=True) is None
    assert calls == []


def test_safe_join(tree: Path) -> None:
    root = tree / "public"
    assert safe_join(root, "app.css") == str(root / "app.css")
    assert safe_join(root, "docs", "index.html") == str(root / "docs" / "index.html")
    for name in ["../secret.txt", "/etc/passwd", "out.txt", "a\0", "..\\secret.txt"]:
        with pytest.raises(HTTPException) as caught:
            safe_join(root, name)
        assert caught.value.status_code == 404
    assert safe_join(root, "out.txt", follow_symlinks=True) == str(root / "out.txt")


def test_safe_join_in_a_handler(client_for: ClientFactory, tree: Path) -> None:
    app = VelociPy()

    @app.get("/files/{name:path}")
    def download(name: str) -> FileResponse:
        return FileResponse(safe_join(tree / "public", name))

    client = client_for(app)
    assert client.get("/files/app.css").status_code == 200
    for path in ["/files/../secret.txt", "/files//etc/passwd", "/files/missing", "/files/out.txt"]:
        response = client.get(path)
        assert (response.status_code, response.json()) == (404, NOT_FOUND), path


def test_mount_a_neutral_handler(client_for: ClientFactory) -> None:
    app = VelociPy()
    seen: list[tuple[str, str, str]] = []

    async def echo(request: Request) -> PlainTextResponse:
        seen.append((request.method, request.path, request.path_params["path"]))
        return PlainTextResponse(request.path_params["path"])

    app.mount("/api/v2/", echo, name="v2")

    @app.get("/api/v2")
    def exact() -> str:
        return "exact"

    client = client_for(app)
    assert client.get("/api/v2/a/b").text == "a/b"
    assert client.delete("/api/v2/").text == ""
    assert client.get("/api/v2").text == "exact"
    assert seen == [("GET", "/api/v2/a/b", "a/b"), ("DELETE", "/api/v2/", "")]
    assert app.url_for("v2", path="x/y") == "/api/v2/x/y"
    assert next((r.kind, r.path) for r in app.routes) == ("mount", "/api/v2/{path:path}")


def test_mount_handler_must_return_a_response(client_for: ClientFactory) -> None:
    app = VelociPy()
    app.mount("/bad", lambda request: "text")
    assert client_for(app).get("/bad/x").status_code == 500


def test_mount_refusals(tree: Path) -> None:
    app = static_app(tree)
    with pytest.raises(ValueError, match="already routed"):
        app.mount("/static", StaticFiles(directory=tree / "public"))
    with pytest.raises(ValueError, match="already handled by the mount at /static"):
        app.add_route("/static/{path:path}", lambda path: path, ["GET"])
    with pytest.raises(ValueError, match="no parameters"):
        app.mount("/u/{id}", StaticFiles(directory=tree / "public"))
    with pytest.raises(RuntimeError, match="does not exist"):
        StaticFiles(directory=tree / "nowhere")


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (errno.EIO, 500),
        (errno.ETIMEDOUT, 500),
        (errno.EACCES, 500),
        (errno.ENOENT, 404),
        (errno.ENOTDIR, 404),
        (errno.ENAMETOOLONG, 404),
    ],
)
def test_an_os_error_other_than_not_found_is_a_logged_500(
    client_for: ClientFactory,
    tree: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    error: int,
    status: int,
) -> None:
    client = client_for(static_app(tree, html=True))
    real_stat = os.stat

    def failing_stat(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        if str(path).endswith("app.css"):
            raise OSError(error, os.strerror(error), str(path))
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", failing_stat)
    with caplog.at_level("ERROR", logger="velocipy"):
        response = client.get("/static/app.css")
    assert response.status_code == status
    logged = [r.getMessage() for r in caplog.records if r.name == "velocipy"]
    if status == 500:
        assert response.json() == {"detail": "The file could not be read"}
        assert len(logged) == 1
        assert logged[0].endswith(
            f"app.css' could not be read: [Errno {error}] {os.strerror(error)}"
        )
        assert caplog.records[0].exc_info is None  # one line, no traceback
    else:
        assert response.text == "<p>nothing here</p>"  # html=True: the 404 page
        assert logged == []


def test_a_file_with_a_trailing_slash_is_not_found(client_for: ClientFactory, tree: Path) -> None:
    client = client_for(static_app(tree))
    assert client.get("/static/app.css").status_code == 200
    refused = client.get("/static/app.css/")
    assert (refused.status_code, refused.json()) == (404, NOT_FOUND)
    assert client.get("/static/docs/index.html/").status_code == 404
