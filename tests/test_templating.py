"""Jinja2 templates on both protocols, and the optional extra's import rules."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import jinja2
import pytest

from tests.conftest import ClientFactory
from velocipy import Request, VelociPy
from velocipy.staticfiles import StaticFiles
from velocipy.templating import Jinja2Templates


@pytest.fixture
def template_dir(tmp_path: Path) -> Path:
    (tmp_path / "static").mkdir()
    (tmp_path / "page.html").write_text(
        "<title>{{ title }}</title>"
        "<link href=\"{{ url_for('static', path='app.css') }}\">"
        "<a href=\"{{ url_for('item', item_id=3) }}\">item</a>"
        "<p>{{ request.method }} {{ request.url.path }} {{ request.query_params['q'] }}</p>"
    )
    (tmp_path / "note.txt").write_text("{{ text }}")
    return tmp_path


def test_template_response(client_for: ClientFactory, template_dir: Path) -> None:
    app = VelociPy()
    app.mount("/static", StaticFiles(directory=template_dir / "static"), name="static")
    templates = Jinja2Templates(template_dir)

    @app.get("/items/{item_id:int}")
    def item(item_id: int) -> str:
        return str(item_id)

    @app.get("/page")
    def page(request: Request) -> object:
        return templates.TemplateResponse(
            request, "page.html", {"title": "<script>x</script>"}, headers={"x-page": "1"}
        )

    @app.get("/note")
    def note(request: Request) -> object:
        return templates.TemplateResponse(request, "note.txt", {"text": "a < b"}, status_code=202)

    client = client_for(app)
    response = client.get("/page?q=%3Ci%3E")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["x-page"] == "1"
    assert response.text == (
        "<title>&lt;script&gt;x&lt;/script&gt;</title>"
        '<link href="/static/app.css"><a href="/items/3">item</a>'
        "<p>GET /page &lt;i&gt;</p>"
    )
    text = client.get("/note")
    assert (text.status_code, text.text) == (202, "a < b")  # .txt is not HTML: no escaping


def test_env_or_directory() -> None:
    env = jinja2.Environment(loader=jinja2.DictLoader({"t": "{{ url_for }}"}), autoescape=True)
    assert Jinja2Templates(env=env).env is env
    with pytest.raises(ValueError, match="either directory"):
        Jinja2Templates()


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )


def test_import_velocipy_does_not_import_jinja2() -> None:
    done = run_python(
        "import sys, velocipy, velocipy.staticfiles, velocipy.sse\n"
        "assert 'jinja2' not in sys.modules, 'jinja2 imported'"
    )
    assert done.returncode == 0, done.stderr


def test_missing_extra_names_the_install_command() -> None:
    done = run_python("import sys\nsys.modules['jinja2'] = None\nimport velocipy.templating")
    assert done.returncode != 0
    last_line = done.stderr.strip().splitlines()[-1]
    assert last_line == (
        "ImportError: velocipy.templating needs Jinja2, which is not installed: "
        "pip install -e '.[templates]' in a clone of VelociPy, or pip install 'jinja2>=3.1'"
    )
