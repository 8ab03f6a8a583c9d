"""Session fixtures for the slow tests: the wheel, one fresh virtualenv, generated projects.

The wheel is built once from this checkout and installed (not editable) into one fresh
virtualenv per session, with pytest and the build backend the generated projects need. Every
generated project is created by that virtualenv's ``velocipy new`` (so templates come from
inside the wheel) and installed into it.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli.new.venvs import (
    COMMAND_TIMEOUT,
    INSTALL_TIMEOUT,
    GeneratedProject,
    Virtualenv,
    install_as_the_readme_says,
)
from tests.support import REPO_ROOT


@pytest.fixture(scope="session")
def velocipy_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel of this checkout, built the way a release is."""
    outdir = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(outdir), str(REPO_ROOT)],
        capture_output=True,
        check=True,
        timeout=INSTALL_TIMEOUT,
    )
    (wheel,) = outdir.glob("velocipy-*.whl")
    return wheel


@pytest.fixture(scope="session")
def wheel_venv(tmp_path_factory: pytest.TempPathFactory, velocipy_wheel: Path) -> Virtualenv:
    """A fresh virtualenv with the wheel installed (its dependencies come from the index)."""
    venv = Virtualenv(tmp_path_factory.mktemp("venv") / "env")
    subprocess.run(
        [sys.executable, "-m", "venv", str(venv.root)], check=True, timeout=COMMAND_TIMEOUT
    )
    venv.run(
        [venv.script("python"), "-m", "pip", "install", "--quiet", str(velocipy_wheel),
         "pytest", "hatchling", "editables"],
        cwd=venv.root,
        timeout=INSTALL_TIMEOUT,
    )  # fmt: skip
    return venv


@pytest.fixture(scope="session")
def generated_project(
    wheel_venv: Virtualenv, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], GeneratedProject]:
    """``generated_project(template)``: made by the venv's ``velocipy new``, installed, cached."""
    projects: dict[str, GeneratedProject] = {}

    def make(template: str) -> GeneratedProject:
        if template not in projects:
            parent = tmp_path_factory.mktemp(f"generated-{template}")
            name = f"{template}-demo"
            wheel_venv.run(
                [wheel_venv.script("velocipy"), "new", name, "--template", template, "--no-git"],
                cwd=parent,
            )
            path = parent / name
            install_as_the_readme_says(wheel_venv, path)
            projects[template] = GeneratedProject(template, name, name.replace("-", "_"), path)
        return projects[template]

    return make
