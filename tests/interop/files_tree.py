"""The tree that ``tests/interop/apps/files_app.py`` serves, and a server for it."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from tests.support import REPO_ROOT, ServerProcess, free_port, server_argv

TARGET = "tests.interop.apps.files_app:app"
SECRET = b"SECRET-OUTSIDE-THE-ROOT"
CSS = b"body { background: rgb(1, 2, 3); }\n#styled { color: rgb(200, 10, 20); }\n"
JS = b'document.getElementById("scripted").textContent = "script ran from the mount";\n'
INDEX = b"""<!doctype html>
<html><head><title>mounted page</title>
<link rel="stylesheet" href="/static/app.css">
<script src="/static/app.js" defer></script></head>
<body><p id="styled">styled</p><p id="scripted">waiting</p></body></html>
"""
SSE_PAGE = b"""<!doctype html>
<html><head><title>events</title></head><body><pre id="log"></pre><p id="done"></p>
<script>
const log = document.getElementById("log");
const source = new EventSource("/events");
source.onmessage = (message) => {
  const data = JSON.parse(message.data);
  log.textContent += `${message.lastEventId}:${data.n}:${data.resumed}\\n`;
  if (data.n >= 6) {
    source.close();
    document.getElementById("done").textContent = "done";
  }
};
</script></body></html>
"""
PAGE_TEMPLATE = (
    "<!doctype html><title>{{ who }}</title>"
    "<link rel=\"stylesheet\" href=\"{{ url_for('static', path='app.css') }}\">"
    "<p id=who>Hello {{ who }}</p><p id=path>{{ request.url.path }}</p>"
)


def big_content() -> bytes:
    """300 KiB whose bytes name their position, so a wrong offset cannot go unnoticed."""
    return b"".join(b"%07d\n" % (i * 8) for i in range(300 * 1024 // 8))


def build_tree(root: Path) -> Path:
    public = root / "public"
    (public / "sub").mkdir(parents=True)
    (public / "app.css").write_bytes(CSS)
    (public / "app.js").write_bytes(JS)
    (public / "index.html").write_bytes(INDEX)
    (public / "sse.html").write_bytes(SSE_PAGE)
    (public / "sub" / "index.html").write_bytes(b"<p>sub index</p>")
    (public / "big.bin").write_bytes(big_content())
    (public / "empty.txt").write_bytes(b"")
    (root / "outside").mkdir()
    (root / "outside" / "secret.txt").write_bytes(SECRET)
    (root / "public_sibling").mkdir()  # shares the root's name as a prefix (CVE-2023-29159)
    (root / "public_sibling" / "secret.txt").write_bytes(SECRET)
    os.symlink(root / "outside" / "secret.txt", public / "link-out.txt")
    os.symlink(public / "app.css", public / "link-in.css")
    os.symlink(public / "loop-b", public / "loop-a")  # a broken tree: stat raises ELOOP
    os.symlink(public / "loop-a", public / "loop-b")
    (root / "templates").mkdir()
    (root / "templates" / "page.html").write_text(PAGE_TEMPLATE)
    (root / "markers").mkdir()
    return root


@contextlib.contextmanager
def serve_files(kind: str, root: Path) -> Iterator[ServerProcess]:
    port = free_port()
    env = {"VELOCIPY_FILES_ROOT": str(root), "VELOCIPY_FILES_MARKERS": str(root / "markers")}
    process = ServerProcess(
        server_argv(kind, TARGET, port), port, REPO_ROOT, env, log_path=root / f"{kind}.log"
    ).start()
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()
