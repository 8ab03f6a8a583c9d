"""velocipy_cli.origin: the dependency line names where this VelociPy came from (PEP 610)."""

from __future__ import annotations

from pathlib import Path

from tests.support import REPO_ROOT
from velocipy_cli import origin
from velocipy_cli.origin import NOT_RECORDED_URL, Origin, velocipy_origin


def test_the_running_velocipy_is_this_clone() -> None:
    found = velocipy_origin()
    assert found.kind == "clone"
    assert found.requirement == f"velocipy @ {REPO_ROOT.resolve().as_uri()}"
    assert str(REPO_ROOT.resolve()) in found.note


def test_an_editable_clone(tmp_path: Path) -> None:
    found = origin._from_direct_url({"url": tmp_path.as_uri(), "dir_info": {"editable": True}})
    assert found == Origin(
        "clone", tmp_path.as_uri(), f"an editable install of the clone at {tmp_path}"
    )


def test_a_wheel_file(tmp_path: Path) -> None:
    wheel = tmp_path / "velocipy-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"")
    found = origin._from_direct_url({"url": wheel.as_uri(), "archive_info": {}})
    assert found.kind == "wheel"
    assert found.requirement == f"velocipy @ {wheel.as_uri()}"


def test_a_git_checkout_is_pinned_to_its_commit() -> None:
    found = origin._from_direct_url(
        {
            "url": "https://example.invalid/velocipy.git",
            "vcs_info": {"vcs": "git", "commit_id": "0123abcd"},
        }
    )
    assert found.requirement == "velocipy @ git+https://example.invalid/velocipy.git@0123abcd"


def test_a_file_that_is_gone_cannot_be_recorded(tmp_path: Path) -> None:
    wheel = tmp_path / "velocipy-0.1.0-py3-none-any.whl"
    found = origin._from_direct_url({"url": wheel.as_uri(), "archive_info": {}})
    assert not found.recorded
    assert found.requirement == f"velocipy @ {NOT_RECORDED_URL}"
    assert "no longer exists" in found.note


def test_a_source_tree_that_is_not_velocipy_is_not_an_origin(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "velocipy-other"\n')
    assert origin._source_tree(tmp_path) is None
    assert origin._source_tree(REPO_ROOT) == Origin(
        "clone", REPO_ROOT.as_uri(), f"the source tree at {REPO_ROOT}"
    )
