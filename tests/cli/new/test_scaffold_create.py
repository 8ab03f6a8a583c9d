"""create_project: all or nothing, never clobbers, and the first git commit."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from velocipy_cli import scaffold


def _spec(target: Path, template: str = "minimal", name: str = "shop") -> scaffold.ProjectSpec:
    return scaffold.ProjectSpec(
        name=name,
        package=scaffold.derive_package_name(name),
        template=scaffold.find_template(template),
        target=target,
    )


def _files(root: Path) -> set[str]:
    return {
        path.relative_to(root).as_posix()
        for path in root.rglob("*")
        if path.is_file() and ".git" not in path.relative_to(root).parts
    }


def _git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True, timeout=30
    ).stdout.strip()


@pytest.fixture
def isolated_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """git with no global/system configuration at all: no identity, like a fresh machine."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    for variable in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME",
                     "GIT_COMMITTER_EMAIL", "EMAIL", "GIT_DIR", "GIT_WORK_TREE"):  # fmt: skip
        monkeypatch.delenv(variable, raising=False)


def test_creates_the_folder_with_exactly_the_rendered_files(tmp_path: Path) -> None:
    target = tmp_path / "shop"
    result = scaffold.create_project(_spec(target))
    assert result.target == target
    assert {p.as_posix() for p in result.created} == _files(target)
    assert result.kept == []
    assert not result.git_commit
    assert sorted(os.listdir(tmp_path)) == ["shop"]  # the staging folder is gone


def test_the_new_folder_gets_normal_permissions_not_the_temp_folders(tmp_path: Path) -> None:
    target = tmp_path / "shop"
    scaffold.create_project(_spec(target))
    mode = stat.S_IMODE(target.stat().st_mode)
    assert mode == 0o777 & ~_umask()


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_missing_parent_folders_are_created(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "shop"
    scaffold.create_project(_spec(target))
    assert (target / "pyproject.toml").is_file()


def test_an_empty_existing_folder_is_filled(tmp_path: Path) -> None:
    target = tmp_path / "shop"
    target.mkdir()
    result = scaffold.create_project(_spec(target))
    assert "pyproject.toml" in {p.as_posix() for p in result.created}


def test_a_non_empty_folder_is_refused_without_force(tmp_path: Path) -> None:
    target = tmp_path / "shop"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    with pytest.raises(scaffold.ScaffoldError, match=r"not empty.*--force"):
        scaffold.create_project(_spec(target))
    assert _files(target) == {"notes.txt"}
    assert sorted(os.listdir(tmp_path)) == ["shop"]


def test_a_file_in_the_way_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "shop"
    target.write_text("a file")
    with pytest.raises(scaffold.ScaffoldError, match="not a directory"):
        scaffold.create_project(_spec(target, name="shop"), force=True)
    assert target.read_text() == "a file"


def test_force_adds_files_and_never_touches_existing_ones(tmp_path: Path) -> None:
    target = tmp_path / "shop"
    (target / "tests").mkdir(parents=True)
    (target / "README.md").write_text("my own readme")
    (target / "notes.txt").write_text("mine")
    (target / "tests" / "test_mine.py").write_text("# mine")

    result = scaffold.create_project(_spec(target), force=True)

    assert [p.as_posix() for p in result.kept] == ["README.md"]
    assert (target / "README.md").read_text() == "my own readme"
    assert (target / "notes.txt").read_text() == "mine"
    assert (target / "tests" / "test_mine.py").read_text() == "# mine"
    assert (target / "pyproject.toml").is_file()
    assert (target / "shop" / "main.py").is_file()
    assert (target / "tests" / "test_main.py").is_file()
    assert "README.md" not in {p.as_posix() for p in result.created}


def test_force_refuses_a_file_where_the_template_needs_a_folder(tmp_path: Path) -> None:
    target = tmp_path / "shop"
    target.mkdir()
    (target / "tests").write_text("a file named tests")
    with pytest.raises(scaffold.ScaffoldError, match="needs a folder"):
        scaffold.create_project(_spec(target), force=True)
    assert _files(target) == {"tests"}


def _broken_template(root: Path) -> scaffold.TemplateInfo:
    """A template whose last file fails to render, after others rendered fine."""
    folder = root / "broken"
    (folder / "pkg").mkdir(parents=True)
    (folder / scaffold.MANIFEST_NAME).write_text('description = "breaks half way"\n')
    (folder / "a.txt").write_text("fine")
    (folder / "pkg" / "b.py.tmpl").write_text("name = '{{ name }}'\n")
    (folder / "z.txt.tmpl").write_text("{{ no_such_placeholder }}")
    return scaffold.load_template(folder)


def test_a_failure_half_way_writes_nothing(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    work = tmp_path / "work"
    work.mkdir()
    spec = scaffold.ProjectSpec("shop", "shop", _broken_template(templates), work / "x" / "shop")
    with pytest.raises(scaffold.ScaffoldError, match="no_such_placeholder"):
        scaffold.create_project(spec)
    assert os.listdir(work) == []  # no project, no staging folder, not even the parent "x"


def test_a_failure_half_way_with_force_leaves_the_folder_as_it_was(tmp_path: Path) -> None:
    target = tmp_path / "shop"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    spec = scaffold.ProjectSpec("shop", "shop", _broken_template(tmp_path / "t"), target)
    with pytest.raises(scaffold.ScaffoldError):
        scaffold.create_project(spec, force=True)
    assert _files(target) == {"notes.txt"}
    assert sorted(os.listdir(tmp_path)) == ["shop", "t"]


def test_a_failure_while_moving_files_in_removes_what_was_moved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "shop"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    real_replace = os.replace
    calls = {"n": 0}

    def failing_replace(source: object, destination: object) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(28, "No space left on device")
        real_replace(source, destination)  # type: ignore[arg-type]

    monkeypatch.setattr(scaffold.os, "replace", failing_replace)
    with pytest.raises(OSError, match="No space left"):
        scaffold.create_project(_spec(target), force=True)
    assert _files(target) == {"notes.txt"}
    assert sorted(p.name for p in target.iterdir()) == ["notes.txt"]


@pytest.mark.usefixtures("isolated_git")
def test_git_makes_a_first_commit_even_without_a_configured_identity(tmp_path: Path) -> None:
    target = tmp_path / "shop"
    result = scaffold.create_project(_spec(target), git=True)
    assert result.git_commit
    assert _git("log", "--format=%an <%ae>|%s", cwd=target) == (
        "VelociPy <velocipy@localhost>|Initial commit from velocipy new"
    )
    assert _git("status", "--porcelain", cwd=target) == ""  # everything is committed
    tracked = set(_git("ls-files", cwd=target).splitlines())
    assert tracked == _files(target)
    # the fallback identity is for that one commit: nothing is written to the repo's config
    config = (target / ".git" / "config").read_text()
    assert "[user]" not in config


@pytest.mark.usefixtures("isolated_git")
def test_git_uses_the_configured_identity_when_there_is_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Ada Lovelace")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "ada@example.org")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Ada Lovelace")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "ada@example.org")
    target = tmp_path / "shop"
    scaffold.create_project(_spec(target), git=True)
    assert _git("log", "--format=%an <%ae>", cwd=target) == "Ada Lovelace <ada@example.org>"


@pytest.mark.usefixtures("isolated_git")
def test_git_does_nothing_inside_an_existing_repository(tmp_path: Path) -> None:
    repo = tmp_path / "monorepo"
    repo.mkdir()
    _git("init", "--quiet", cwd=repo)
    target = repo / "services" / "shop"
    result = scaffold.create_project(_spec(target), git=True)
    assert not result.git_commit
    assert result.git_note is not None
    assert "already inside a git repository" in result.git_note
    assert not (target / ".git").exists()
    assert _git("log", "--oneline", "--all", cwd=repo) == ""  # the outer repo got no commit


def test_a_git_failure_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    fake_git = fake_bin / "git"
    fake_git.write_text(
        '#!/bin/sh\nif [ "$1" = "rev-parse" ]; then exit 128; fi\n'
        'echo "fatal: simulated failure" >&2\nexit 1\n'
    )
    fake_git.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake_bin}{os.pathsep}{os.environ['PATH']}")
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(scaffold.ScaffoldError, match=r"git init.*simulated failure"):
        scaffold.create_project(_spec(work / "shop"), git=True)
    assert os.listdir(work) == []
