"""Every template, generated and installed in a fresh virtualenv: its own tests pass, and real
uvicorn (ASGI) and granian (RSGI) processes serve it over loopback."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from tests.cli.new.venvs import (
    GeneratedProject,
    Virtualenv,
    install_as_the_readme_says,
    venv_server_argv,
)
from tests.support import ServerProcess, free_port, http_request, running

pytestmark = [pytest.mark.slow, pytest.mark.interop]

TEMPLATES = ("minimal", "websocket", "api")
SERVED_BY = ("uvicorn", "granian-rsgi")
WAIT = 10.0  # seconds any single network step may take


@pytest.mark.parametrize("template", TEMPLATES)
def test_the_generated_project_passes_its_own_tests_on_asgi_and_rsgi(
    template: str, generated_project: Callable[[str], GeneratedProject], wheel_venv: Virtualenv
) -> None:
    project = generated_project(template)
    done = wheel_venv.run(
        [wheel_venv.script("pytest"), "-v", "-p", "no:cacheprovider"], cwd=project.path
    )
    assert " passed" in done.stdout
    assert "failed" not in done.stdout
    assert "[asgi] PASSED" in done.stdout
    assert "[rsgi] PASSED" in done.stdout


def _json(response_body: bytes) -> object:
    return json.loads(response_body)


def check_minimal(server: ServerProcess) -> None:
    hello = http_request(f"{server.url}/?name=Ada")
    assert hello.status == 200
    assert hello.headers["content-type"].startswith("application/json")
    assert _json(hello.body) == {"message": "Hello, Ada!"}
    assert _json(http_request(f"{server.url}/").body) == {"message": "Hello, world!"}
    assert http_request(f"{server.url}/missing").status == 404


def _event(ws: ClientConnection) -> object:
    return json.loads(ws.recv(timeout=WAIT))


def check_websocket(server: ServerProcess) -> None:
    page = http_request(f"{server.url}/")
    assert page.status == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "new WebSocket(" in page.text

    def ticket(name: str) -> str:
        answer = http_request(
            f"{server.url}/ticket",
            method="POST",
            data=json.dumps({"name": name}).encode(),
            headers={"content-type": "application/json"},
        )
        assert answer.status == 200
        return f"{server.ws_url}/ws?ticket={_json(answer.body)['ticket']}"  # type: ignore[index]

    with pytest.raises(InvalidStatus) as refused:  # no ticket, no socket
        connect(f"{server.ws_url}/ws?name=Eve", open_timeout=WAIT)
    assert refused.value.response.status_code == 403
    with connect(ticket("Ada"), open_timeout=WAIT, close_timeout=WAIT) as ada:
        assert _event(ada) == {"type": "welcome", "name": "Ada", "online": ["Ada"]}
        with connect(ticket("Bob"), open_timeout=WAIT) as bob:
            assert _event(bob) == {"type": "welcome", "name": "Bob", "online": ["Ada", "Bob"]}
            assert _event(ada) == {"type": "joined", "name": "Bob", "online": ["Ada", "Bob"]}
            bob.send("hello over a real socket")
            message = {"type": "message", "name": "Bob", "text": "hello over a real socket"}
            assert _event(ada) == message
            assert _event(bob) == message
        assert _event(ada) == {"type": "left", "name": "Bob", "online": ["Ada"]}


def check_api(server: ServerProcess) -> None:
    login = http_request(
        f"{server.url}/token",
        method="POST",
        data=b"username=demo&password=demo-password",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert login.status == 200
    bearer = {"authorization": f"Bearer {_json(login.body)['access_token']}"}  # type: ignore[index]
    json_headers = {"content-type": "application/json", **bearer}
    anonymous = http_request(
        f"{server.url}/api/items",
        method="POST",
        data=b'{"name": "pen", "price": 1.5}',
        headers={"content-type": "application/json"},
    )
    assert anonymous.status == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    assert _json(http_request(f"{server.url}/me", headers=bearer).body) == {
        "user": "demo",
        "scopes": ["items:read", "items:write"],
    }
    created = http_request(
        f"{server.url}/api/items",
        method="POST",
        data=b'{"name": "pen", "price": 1.5, "tags": ["office"]}',
        headers=json_headers,
    )
    assert created.status == 201
    item = {"id": 1, "name": "pen", "price": 1.5, "tags": ["office"]}
    assert _json(created.body) == item
    assert _json(http_request(f"{server.url}/api/items/1").body) == item
    assert _json(http_request(f"{server.url}/api/items?tag=office").body) == [item]
    invalid = http_request(
        f"{server.url}/api/items",
        method="POST",
        data=b'{"name": "pen", "price": -1}',
        headers=json_headers,
    )
    assert invalid.status == 422
    assert "price" in invalid.text
    assert http_request(f"{server.url}/api/items/99").status == 404
    assert http_request(f"{server.url}/api/items/1", method="DELETE").status == 401
    deleted = http_request(f"{server.url}/api/items/1", method="DELETE", headers=bearer)
    assert deleted.status == 204
    assert _json(http_request(f"{server.url}/health").body) == {"status": "ok"}


CHECKS: dict[str, Callable[[ServerProcess], None]] = {
    "minimal": check_minimal,
    "websocket": check_websocket,
    "api": check_api,
}


@pytest.mark.parametrize("kind", SERVED_BY)
@pytest.mark.parametrize("template", TEMPLATES)
def test_the_generated_project_is_served_by_a_real_server(
    template: str,
    kind: str,
    generated_project: Callable[[str], GeneratedProject],
    wheel_venv: Virtualenv,
) -> None:
    project = generated_project(template)
    port = free_port()
    argv = venv_server_argv(wheel_venv, kind, project.app_target, port)
    with running(argv, port=port, cwd=project.path, env=wheel_venv.env()) as server:
        CHECKS[template](server)
        assert server.alive(), server.output()


@pytest.mark.parametrize(("server", "answers_as"), [("asgi", "uvicorn"), ("rsgi", "granian")])
def test_the_readme_commands_serve_the_project_on_the_chosen_server(
    server: str, answers_as: str, wheel_venv: Virtualenv, tmp_path: Path
) -> None:
    wheel_venv.run(
        [wheel_venv.script("velocipy"), "new", "hello", "--server", server, "--no-git"],
        cwd=tmp_path,
    )
    project = tmp_path / "hello"
    readme = (project / "README.md").read_text()
    for command in ('pip install -e ".[dev]"', "velocipy run", "pytest"):
        assert f"\n{command}\n" in readme
    venv_line = readme.index("python3 -m venv .venv && . .venv/bin/activate")
    assert venv_line < readme.index('\npip install -e ".[dev]"\n')  # the venv comes first
    install_as_the_readme_says(wheel_venv, project)

    port = free_port()
    argv = [wheel_venv.script("velocipy"), "run", "--port", str(port)]  # as the README, + a port
    with running(argv, port=port, cwd=project, env=wheel_venv.env()) as served:
        response = http_request(f"{served.url}/?name=README")
        assert response.status == 200, served.output()
        assert _json(response.body) == {"message": "Hello, README!"}
        assert response.headers["server"] == answers_as  # the server pyproject.toml asked for
