"""`velocipy new` through typer's CliRunner and through the installed command, as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import tomllib
from pathlib import Path

import pexpect
import pytest
from typer.testing import CliRunner

from tests.support import executable
from velocipy_cli.main import app

runner = CliRunner()


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def _one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in stderr
    return lines[0]


def test_list_shows_every_template_with_its_description() -> None:
    result = runner.invoke(app, ["new", "--list"])
    assert result.exit_code == 0, result.output
    for name in ("minimal", "websocket", "api"):
        assert name in result.stdout
    assert "(default)" in result.stdout
    assert "chat room" in result.stdout


def test_list_json_is_machine_readable() -> None:
    result = runner.invoke(app, ["new", "--list", "--json"])
    assert result.exit_code == 0, result.output
    listing = json.loads(result.stdout)
    assert [entry["name"] for entry in listing] == [
        "minimal",
        "websocket",
        "api",
        "chat-redis",
        "sqlalchemy",
    ]
    assert all(entry["description"] for entry in listing)
    assert [entry["name"] for entry in listing if entry["default"]] == ["minimal"]


def test_new_creates_the_project_and_prints_files_and_next_steps(tmp_path: Path) -> None:
    result = runner.invoke(app, ["new", "chat", "--template", "websocket", "--no-git"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "chat" / "chat" / "main.py").is_file()
    assert not (tmp_path / "chat" / ".git").exists()
    out = result.stdout
    assert "Created chat from the websocket template in ./chat" in out
    for shown in ("pyproject.toml", "README.md", "room.py", "index.html", "test_chat.py"):
        assert shown in out
    for step in ("cd chat", "python3 -m venv .venv", 'pip install -e ".[dev]"', "velocipy run"):
        assert step in out
    assert "ws-probe" not in out  # the template's /ws needs a ticket (its README shows how)
    assert result.stderr == ""


def test_without_a_terminal_the_default_template_is_used_without_asking(tmp_path: Path) -> None:
    result = runner.invoke(app, ["new", "blog", "--no-git"], input="")
    assert result.exit_code == 0, result.output
    assert "Template" not in result.stdout.split("Created")[0]  # no prompt was shown
    assert "from the minimal template" in result.stdout
    assert (tmp_path / "blog" / "blog" / "main.py").is_file()


def test_path_and_server_options(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["new", "shop", "-t", "api", "--path", "services/shop-api", "--server", "rsgi",
              "--no-git"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    project = tmp_path / "services" / "shop-api"
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["project"]["name"] == "shop"
    assert pyproject["tool"]["velocipy"] == {"app": "shop.main:app", "interface": "rsgi"}
    assert "granian --interface rsgi shop.main:app" in (project / "README.md").read_text()
    assert "cd services/shop-api" in result.stdout
    assert "RSGI on granian" in result.stdout


def test_git_is_used_by_default_when_available(tmp_path: Path) -> None:
    result = runner.invoke(app, ["new", "homepage"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "homepage" / ".git").is_dir()
    assert "first commit" in result.stdout


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["new"], "missing NAME"),
        (["new", "json"], "would shadow"),
        (["new", "my app"], "not a usable project name"),
        (["new", "work/chat"], "velocipy new chat --path work/chat"),
        (["new", "class"], "keyword"),
        (["new", "ok", "-t", "django"], "unknown template 'django'"),
        (["new", "ok", "--server", "wsgi"], "--server must be asgi or rsgi"),
        (["new", "ok", "--json"], "--json only goes with --list"),
        (["new", "ok", "--list"], "--list takes no NAME"),
    ],
)
def test_usage_errors_exit_2_with_one_line_and_write_nothing(
    argv: list[str], message: str, tmp_path: Path
) -> None:
    result = runner.invoke(app, [*argv, "--no-git"])
    assert result.exit_code == 2, result.output
    assert message in _one_error_line(result.stderr)
    assert os.listdir(tmp_path) == []


def test_a_non_empty_folder_exits_1_and_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / "chat").mkdir()
    (tmp_path / "chat" / "notes.txt").write_text("mine")
    result = runner.invoke(app, ["new", "chat", "--no-git"])
    assert result.exit_code == 1
    assert "not empty" in _one_error_line(result.stderr)
    assert os.listdir(tmp_path / "chat") == ["notes.txt"]


def test_force_keeps_existing_files_and_says_so(tmp_path: Path) -> None:
    (tmp_path / "chat").mkdir()
    (tmp_path / "chat" / "README.md").write_text("mine")
    result = runner.invoke(app, ["new", "chat", "--no-git", "--force"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "chat" / "README.md").read_text() == "mine"
    assert "already there, kept as is" in result.stdout
    assert (tmp_path / "chat" / "pyproject.toml").is_file()


def test_explicit_git_without_git_on_path_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    result = runner.invoke(app, ["new", "chat", "--git"])
    assert result.exit_code == 1
    assert "git is not on PATH" in _one_error_line(result.stderr)
    assert not (tmp_path / "chat").exists()


def test_no_git_on_path_means_no_repository_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    result = runner.invoke(app, ["new", "chat"])
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "chat" / ".git").exists()


def test_an_unwritable_parent_exits_1_with_one_line(tmp_path: Path) -> None:
    if os.geteuid() == 0:  # root writes anywhere: make the parent a file instead
        (tmp_path / "parent").write_text("")
    else:
        (tmp_path / "parent").mkdir(mode=0o500)
    result = runner.invoke(app, ["new", "chat", "--path", "parent/chat", "--no-git"])
    assert result.exit_code == 1
    _one_error_line(result.stderr)


# --- the installed command, in a subprocess --------------------------------------------------


def _velocipy(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [executable("velocipy"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def test_installed_command_creates_a_project(tmp_path: Path) -> None:
    done = _velocipy("new", "notes-app", "--template", "api", "--no-git", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "notes-app" / "notes_app" / "items.py").is_file()
    assert "Next steps" in done.stdout
    assert "\x1b[" not in done.stdout  # a pipe gets plain text


def test_installed_command_lists_templates_as_json(tmp_path: Path) -> None:
    done = _velocipy("new", "--list", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert {entry["name"] for entry in json.loads(done.stdout)} >= {"minimal", "websocket", "api"}


def test_installed_command_usage_error_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done = _velocipy("new", "velocipy", cwd=tmp_path)
    assert done.returncode == 2
    assert "would shadow" in _one_error_line(done.stderr)
    assert os.listdir(tmp_path) == []


def test_in_a_terminal_it_asks_for_the_template(tmp_path: Path) -> None:
    child = pexpect.spawn(
        executable("velocipy"),
        ["new", "board", "--no-git"],
        cwd=str(tmp_path),
        env={**os.environ, "TERM": "dumb", "NO_COLOR": "1", "COLUMNS": "100"},
        encoding="utf-8",
        timeout=30,
    )
    try:
        child.expect("websocket")  # the list of templates is shown first
        child.expect(r"Template \[minimal/websocket/api/chat-redis/sqlalchemy\] \(minimal\):")
        child.sendline("websocket")
        child.expect("Created board from the websocket template")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0
    assert (tmp_path / "board" / "board" / "room.py").is_file()


def test_in_a_terminal_enter_takes_the_default(tmp_path: Path) -> None:
    child = pexpect.spawn(
        executable("velocipy"),
        ["new", "board", "--no-git"],
        cwd=str(tmp_path),
        env={**os.environ, "TERM": "dumb", "NO_COLOR": "1"},
        encoding="utf-8",
        timeout=30,
    )
    try:
        child.expect(r"\(minimal\):")
        child.sendline("")
        child.expect("Created board from the minimal template")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0


def test_path_dot_fills_the_empty_working_directory(tmp_path: Path) -> None:
    result = runner.invoke(app, ["new", "here", "--path", ".", "--no-git"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "here" / "main.py").is_file()
    assert (tmp_path / "pyproject.toml").is_file()
    assert "in ." in result.stdout
    assert "cd " not in result.stdout  # already there


def test_an_unrecorded_origin_is_announced_when_the_project_is_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from velocipy_cli import origin, scaffold
    from velocipy_cli.commands import new

    unknown = origin._unknown("velocipy 0.1.0 was installed from a package index")
    monkeypatch.setattr(scaffold, "velocipy_origin", lambda: unknown)
    monkeypatch.setattr(new, "velocipy_origin", lambda: unknown)
    result = runner.invoke(app, ["new", "demo", "--no-git"])
    assert result.exit_code == 0, result.output
    assert "warning: velocipy 0.1.0 was installed from a package index" in result.stderr
    assert "velocipy @ file:///path/to/velocipy" in result.stderr
    assert origin.NOT_RECORDED_URL in (tmp_path / "demo" / "pyproject.toml").read_text()


def test_in_a_terminal_it_asks_for_the_name_until_it_is_usable(tmp_path: Path) -> None:
    child = pexpect.spawn(
        executable("velocipy"),
        ["new", "--template", "minimal", "--no-git"],
        cwd=str(tmp_path),
        env={**os.environ, "TERM": "dumb", "NO_COLOR": "1", "COLUMNS": "100"},
        encoding="utf-8",
        timeout=30,
    )
    try:
        child.expect("Project name:")
        child.sendline("velocipy")  # would shadow the framework: asked again
        child.expect("would shadow")
        child.expect("Project name:")
        child.sendline("board")
        child.expect("Created board from the minimal template")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0
    assert (tmp_path / "board" / "board" / "main.py").is_file()


def test_without_a_terminal_a_missing_name_is_named(tmp_path: Path) -> None:
    done = _velocipy("new", cwd=tmp_path)
    assert done.returncode == 2
    line = _one_error_line(done.stderr)
    assert line.startswith("error: missing NAME (the project's name; not asked because")
    assert "velocipy new chat" in line


def test_server_names_of_velocipy_run_are_accepted(tmp_path: Path) -> None:
    result = runner.invoke(app, ["new", "shop", "--server", "granian", "--no-git"])
    assert result.exit_code == 0, result.output
    pyproject = tomllib.loads((tmp_path / "shop" / "pyproject.toml").read_text())
    assert pyproject["tool"]["velocipy"]["interface"] == "rsgi"
