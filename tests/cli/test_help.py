"""Help reads like a person wrote it: value names, never Python types; one style for defaults."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.support import executable

COMMANDS = [[], ["new"], ["run"], ["routes"], ["openapi"], ["ws-probe"]]


def _help(args: list[str]) -> str:
    done = subprocess.run(
        [executable("velocipy"), *args, "--help"],
        capture_output=True, text=True, timeout=30, check=True,
        env={**os.environ, "COLUMNS": "80", "NO_COLOR": "1"},
    )  # fmt: skip
    return done.stdout


@pytest.mark.parametrize("args", COMMANDS, ids=lambda args: " ".join(args) or "velocipy")
def test_help_shows_no_internal_type_names(args: list[str]) -> None:
    text = _help(args)
    assert not re.search(r"<[a-z][a-z\[\], |]*>", text.replace("<uvicorn", "")), text
    for internal in ("<bool>", "<str>", "<int", "list[", "range]", "<=x", "x>="):
        assert internal not in text
    assert "[default:" not in text  # one style: "(default: X)"
    assert all(len(line) <= 80 for line in text.splitlines())


def test_value_names_and_defaults_read_naturally() -> None:
    text = _help(["run"])
    assert "--port PORT" in text
    assert "--reload-dir DIR" in text
    assert "--server uvicorn|granian" in text
    assert "--reload / --no-reload" in text
    assert "(default: 8000)" in " ".join(text.split())
    probe = _help(["ws-probe"])
    assert "--max-size BYTES" in probe
    assert "(default: 1048576)" in " ".join(probe.split())
    assert "Usage: velocipy ws-probe [OPTIONS] [TARGET]" in probe  # optional with --replay


def test_a_number_out_of_range_is_a_usage_error() -> None:
    done = subprocess.run(
        [executable("velocipy"), "run", "--port", "70000"],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "70000 is above the maximum of 65535" in done.stderr


# What only a running command needs: the framework, servers' clients, the probe, the reloader.
LOADED_BY_COMMANDS_ONLY = (
    "velocipy",
    "websockets",
    "httpx",
    "watchfiles",
    "trustme",
    "velocipy_cli.probe.runner",
    "velocipy_cli.dev.supervisor",
    "velocipy_cli.dev.check",
    "rich.prompt",
)


@pytest.mark.parametrize("args", COMMANDS, ids=lambda args: " ".join(args) or "velocipy")
def test_help_loads_nothing_a_command_would(args: list[str]) -> None:
    """`velocipy --help` stays quick (the bench's start-up target): each command imports what
    it runs when it runs, so help alone never loads the framework or the probe."""
    probe = (
        "import sys\n"
        "from velocipy_cli.main import app\n"
        f"try:\n    app({[*args, '--help']!r})\n"
        "except SystemExit:\n    pass\n"
        "print(' '.join(sorted(sys.modules)), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=30, check=True
    )
    loaded = set(done.stderr.split())
    assert [name for name in LOADED_BY_COMMANDS_ONLY if name in loaded] == []
