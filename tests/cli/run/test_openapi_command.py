"""`velocipy openapi`, the /docs address in `velocipy run`'s ready line, summaries in `routes`."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from openapi_spec_validator import validate

from tests.cli.run.devserver import environment_without_velocipy
from tests.cli.run.projects import write_tree
from tests.support import executable, free_port, running, wait_until

DESCRIBED_APP = '''\
import msgspec

from velocipy import VelociPy, WebSocket

app = VelociPy(title="Pets", version="1.0")


class Pet(msgspec.Struct):
    name: str


@app.get("/pets/{pet_id:int}")
async def read_pet(pet_id: int) -> Pet:
    """Read one pet by its id."""
    return Pet("rex")


@app.websocket("/feed", receives=Pet)
async def feed(websocket: WebSocket) -> None:
    await websocket.accept()
'''


def _velocipy(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [executable("velocipy"), *args],
        cwd=cwd,
        env={**environment_without_velocipy(), "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_openapi_prints_or_writes_the_documents(tmp_path: Path) -> None:
    write_tree(tmp_path, {"main.py": DESCRIBED_APP})
    printed = _velocipy("openapi", cwd=tmp_path)
    assert printed.returncode == 0, printed.stderr
    document = json.loads(printed.stdout)
    validate(document)
    assert document["info"] == {"title": "Pets", "version": "1.0"}
    assert document["paths"]["/pets/{pet_id}"]["get"]["summary"] == "Read one pet by its id."

    written = _velocipy("openapi", "main:app", "--output", "spec.json", cwd=tmp_path)
    assert written.returncode == 0, written.stderr
    assert "wrote the OpenAPI document of main:app to spec.json" in written.stdout
    assert json.loads((tmp_path / "spec.json").read_text()) == document

    asyncapi = _velocipy("openapi", "--asyncapi", cwd=tmp_path)
    assert asyncapi.returncode == 0, asyncapi.stderr
    described = json.loads(asyncapi.stdout)
    assert described["asyncapi"] == "3.0.0"
    assert described["channels"]["feed"]["messages"] == {
        "Pet": {"$ref": "#/components/messages/Pet"}
    }


def test_openapi_refusals_are_one_line(tmp_path: Path) -> None:
    write_tree(tmp_path, {"main.py": "app = object()\n"})
    refused = _velocipy("openapi", "main:app", cwd=tmp_path)
    assert refused.returncode == 1
    assert "main:app is not a VelociPy app (it has no .openapi())" in refused.stderr
    write_tree(tmp_path, {"good.py": DESCRIBED_APP})
    unwritable = _velocipy("openapi", "good:app", "-o", "missing/dir/spec.json", cwd=tmp_path)
    assert unwritable.returncode == 1
    assert "cannot write missing/dir/spec.json" in unwritable.stderr
    assert "Traceback" not in refused.stderr + unwritable.stderr


def test_routes_show_each_summary(tmp_path: Path) -> None:
    write_tree(tmp_path, {"main.py": DESCRIBED_APP})
    result = _velocipy("routes", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    row = next(line for line in result.stdout.splitlines() if "/pets/{pet_id:int}" in line)
    assert "Read one pet by its id." in row


@pytest.mark.interop
@pytest.mark.parametrize("interface", ["--asgi", "--rsgi"])
def test_run_shows_where_the_api_docs_are(tmp_path: Path, interface: str) -> None:
    write_tree(tmp_path, {"main.py": DESCRIBED_APP})
    port = free_port()
    argv = [executable("velocipy"), "run", interface, "--port", str(port), "--no-reload"]
    env = {**environment_without_velocipy(), "COLUMNS": "200"}
    with running(argv, port=port, cwd=tmp_path, env=env) as server:
        expected = f"API docs at http://127.0.0.1:{port}/docs"
        assert wait_until(lambda: expected in server.output(), timeout=20), server.output()

    hidden = tmp_path / "hidden"
    write_tree(hidden, {"main.py": DESCRIBED_APP.replace('version="1.0"', "openapi_url=None")})
    port = free_port()
    argv = [executable("velocipy"), "run", interface, "--port", str(port), "--no-reload"]
    with running(argv, port=port, cwd=hidden, env=env) as server:
        assert wait_until(lambda: "ready in" in server.output(), timeout=20), server.output()
        assert "API docs" not in server.output()
