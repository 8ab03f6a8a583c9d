"""A fresh virtualenv and the projects generated into it, for the slow `velocipy new` tests."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import server_argv

INSTALL_TIMEOUT = 300.0  # a fresh CI machine downloads the dependencies once
COMMAND_TIMEOUT = 120.0


@dataclass(frozen=True)
class Virtualenv:
    """A virtualenv made with ``python -m venv``, run with an environment that points at it."""

    root: Path

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    def script(self, name: str) -> str:
        return str(self.bin / name)

    def env(self) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")
        }
        env.update(
            VIRTUAL_ENV=str(self.root),
            PATH=f"{self.bin}{os.pathsep}{env.get('PATH', '')}",
            PYTHONPATH="",
            PYTHONDONTWRITEBYTECODE="1",
            PIP_DISABLE_PIP_VERSION_CHECK="1",
            NO_COLOR="1",
        )
        return env

    def run(
        self,
        argv: Sequence[str],
        *,
        cwd: Path,
        timeout: float = COMMAND_TIMEOUT,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` in this virtualenv (``env`` added to its environment); fail the test
        with the output if it fails."""
        done = subprocess.run(
            list(argv),
            cwd=cwd,
            env={**self.env(), **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        if done.returncode != 0:
            pytest.fail(
                f"{' '.join(argv)} exited {done.returncode}\n{done.stdout}\n{done.stderr}",
                pytrace=False,
            )
        return done


@dataclass(frozen=True)
class GeneratedProject:
    template: str
    name: str
    package: str
    path: Path

    @property
    def app_target(self) -> str:
        return f"{self.package}.main:app"


def venv_server_argv(venv: Virtualenv, kind: str, target: str, port: int) -> list[str]:
    """The usual server command line, with the server executable of ``venv``."""
    argv = server_argv(kind, target, port)
    argv[0] = venv.script(Path(argv[0]).name)
    return argv


def install_as_the_readme_says(venv: Virtualenv, project: Path) -> None:
    """``pip install -e ".[dev]"`` in the project, as its README says.

    ``--no-build-isolation`` uses the hatchling already in the venv instead of fetching it for
    every project; velocipy itself and pytest are already installed, so nothing is downloaded.
    """
    assert 'pip install -e ".[dev]"' in (project / "README.md").read_text()
    venv.run(
        [venv.script("python"), "-m", "pip", "install", "--quiet", "--no-build-isolation",
         "-e", ".[dev]"],
        cwd=project,
    )  # fmt: skip


_DIRECT_REQUIREMENTS = """
import json, sys
from importlib.metadata import requires
names = sys.argv[1:]
print(json.dumps([r for name in names for r in (requires(name) or []) if "extra ==" not in r
                  or 'extra == "dev"' in r]))
"""


def stale_direct_dependencies(venv: Virtualenv, distributions: Sequence[str]) -> list[str]:
    """The direct dependencies of ``distributions`` that the index has a newer allowed release of.

    "Allowed" means the newer release satisfies the requirement's own range: a project must
    pass its tests with the newest releases it admits, on the day it is installed. The project's
    VelociPy is a direct reference, never compared with the unrelated ``velocipy`` on the index.
    """
    from packaging.requirements import Requirement  # pip's own dependency, in the test venv

    listed = venv.run(
        [venv.script("python"), "-c", _DIRECT_REQUIREMENTS, *distributions], cwd=venv.root
    )
    requirements = {
        (req := Requirement(line.split(";")[0])).name.lower().replace("_", "-"): req
        for line in json.loads(listed.stdout)
        if Requirement(line).url is None  # a direct reference (our own velocipy) has no "newer"
    }
    outdated = venv.run(
        [venv.script("python"), "-m", "pip", "list", "--outdated", "--format=json"],
        cwd=venv.root,
        timeout=INSTALL_TIMEOUT,
    )
    stale = []
    for row in json.loads(outdated.stdout):
        requirement = requirements.get(row["name"].lower().replace("_", "-"))
        if requirement is not None and requirement.specifier.contains(
            row["latest_version"], prereleases=False
        ):
            stale.append(
                f"{row['name']} {row['version']} (newest allowed: {row['latest_version']})"
            )
    return stale
