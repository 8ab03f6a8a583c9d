"""README command 2 is the one CI runs, and it provisions what the browser tests need.

A fresh Debian machine has no Chromium: `.ci/provision` must install it (with apt-get) before the
suite runs. The provisioning test runs the real script with a PATH on which `chromium` is missing
and `apt-get` is a recorder, so it proves what the script would do on such a machine.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from tests.support import REPO_ROOT


def readme_test_command() -> str:
    readme = (REPO_ROOT / "README.md").read_text()
    (block,) = re.findall(r"```bash\n(.*?)```", readme, re.S)[:1]
    commands = [line for line in block.splitlines() if line and not line.startswith("#")]
    assert len(commands) == 2, block
    return commands[1]


def test_readme_command_provisions_installs_and_tests() -> None:
    command = readme_test_command()
    assert command.startswith("bash .ci/provision && python3.11 -m venv .venv && ")
    assert command.endswith(".venv/bin/pytest -n 2")  # two workers: CI has two CPUs


def test_ci_runs_the_readme_command_verbatim() -> None:
    ci_lines = (REPO_ROOT / ".ci" / "run").read_text().splitlines()
    assert readme_test_command() in ci_lines
    assert ci_lines.index(readme_test_command()) < ci_lines.index(".venv/bin/ruff check .")


# The commands .ci/provision checks for (each stands for the Debian package that provides it).
EVERY_TOOL = ("callgrind_control", "chromium", "curl", "redis-server", "wrk")


def _fake_machine(tmp_path: Path, present: tuple[str, ...]) -> tuple[dict[str, str], Path]:
    """A PATH with only the basics, ``present`` commands, and an apt-get that records its args."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "id", "env"):
        os.symlink(shutil.which(tool) or f"/usr/bin/{tool}", bin_dir / tool)
    for name in present:
        (bin_dir / name).write_text("#!/bin/sh\n")
        (bin_dir / name).chmod(0o755)
    log = tmp_path / "apt.log"
    (bin_dir / "apt-get").write_text(f'#!/bin/sh\necho "$@" >> {log}\n')
    (bin_dir / "apt-get").chmod(0o755)
    return {"PATH": str(bin_dir), "HOME": str(tmp_path)}, log


def test_provision_installs_chromium_when_missing(tmp_path: Path) -> None:
    env, log = _fake_machine(tmp_path, present=tuple(t for t in EVERY_TOOL if t != "chromium"))
    done = subprocess.run(
        ["bash", str(REPO_ROOT / ".ci" / "provision")],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    if os.geteuid() == 0:
        assert done.returncode == 0, done.stderr
        calls = log.read_text().splitlines()
        assert calls[0] == "update -qq"
        assert calls[1].startswith("install -y")
        assert calls[1].split()[-1] == "chromium"
    else:  # without root and sudo the script says exactly what to run
        assert done.returncode == 1
        assert "apt-get install -y chromium" in done.stderr


def test_provision_does_nothing_when_everything_is_there(tmp_path: Path) -> None:
    env, log = _fake_machine(tmp_path, present=EVERY_TOOL)
    done = subprocess.run(
        ["bash", str(REPO_ROOT / ".ci" / "provision")],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert not log.exists()


def test_provision_adds_venv_support_when_python_lacks_ensurepip(tmp_path: Path) -> None:
    env, log = _fake_machine(tmp_path, present=EVERY_TOOL)
    fake_python = Path(env["PATH"]) / "python3.11"
    fake_python.write_text("#!/bin/sh\nexit 1\n")  # `import ensurepip` fails, as on bare Debian
    fake_python.chmod(0o755)
    done = subprocess.run(
        ["bash", str(REPO_ROOT / ".ci" / "provision")],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    if os.geteuid() == 0:
        assert done.returncode == 0, done.stderr
        assert log.read_text().splitlines()[1].split()[-1] == "python3.11-venv"
    else:
        assert "python3.11-venv" in done.stderr
