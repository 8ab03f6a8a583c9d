"""The wheel carries the templates: `velocipy new` works from a fresh virtualenv."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from tests.cli.new.venvs import Virtualenv
from velocipy_cli import scaffold

pytestmark = pytest.mark.slow


def test_the_wheel_contains_every_template(velocipy_wheel: Path) -> None:
    names = set(zipfile.ZipFile(velocipy_wheel).namelist())
    source = scaffold.template_roots()[1]
    expected = {
        f"velocipy_cli/templates/{path.relative_to(source).as_posix()}"
        for path in source.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert expected  # the checkout has templates to ship
    assert expected <= names
    for template in ("minimal", "websocket", "api"):
        assert f"velocipy_cli/templates/{template}/{scaffold.MANIFEST_NAME}" in names


def test_the_installed_cli_reads_templates_from_inside_the_package(
    wheel_venv: Virtualenv, tmp_path: Path
) -> None:
    done = wheel_venv.run(
        [wheel_venv.script("python"), "-c",
         "from velocipy_cli import scaffold; print(scaffold.templates_root())"],
        cwd=tmp_path,
    )  # fmt: skip
    root = Path(done.stdout.strip())
    assert root.is_relative_to(wheel_venv.root)
    assert root.parts[-2:] == ("velocipy_cli", "templates")


def test_velocipy_new_runs_from_the_wheel(wheel_venv: Virtualenv, tmp_path: Path) -> None:
    velocipy = wheel_venv.script("velocipy")
    listing = wheel_venv.run([velocipy, "new", "--list", "--json"], cwd=tmp_path)
    names = [entry["name"] for entry in json.loads(listing.stdout)]
    assert names == ["minimal", "websocket", "api", "chat-redis", "sqlalchemy"]

    done = wheel_venv.run([velocipy, "new", "hello", "--template", "websocket"], cwd=tmp_path)
    assert "Created hello from the websocket template" in done.stdout
    project = tmp_path / "hello"
    assert (project / "hello" / "static" / "index.html").is_file()
    assert (project / ".gitignore").is_file()
    assert (project / ".git").is_dir()  # git is on PATH, and tmp_path is not inside a repository
