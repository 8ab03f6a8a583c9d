"""The CLI's rough edges of issue 25, each through the installed `velocipy` command."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.support import REPO_ROOT, executable

CANDIDATES = (
    "the first of main.py, app.py, api.py found in the current folder, then in app/, then in the "
    "package named by [project] (PKG/ or src/PKG/)"
)


def velocipy(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [executable("velocipy"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("VELOCIPY_")},
            "COLUMNS": "80",
            "NO_COLOR": "1",
        },
    )


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["run", "--port", "abc"], "error: --port must be a whole number, not 'abc'"),
        (["run", "--port=abc"], "error: --port must be a whole number, not 'abc'"),
        (["run", "--server", "gunicorn"],
         "error: --server must be uvicorn or granian, not 'gunicorn'"),
        (["run", "--interface", "wsgi"], "error: --interface must be asgi or rsgi, not 'wsgi'"),
        (["run", "--port", "70000"], "error: --port: 70000 is above the maximum of 65535"),
        (["ws-probe", "/ws", "--max-size", "lots"],
         "error: --max-size must be a whole number, not 'lots'"),
        (["run", "--prot", "1"], "error: no such option: --prot"),
    ],
)  # fmt: skip
def test_a_usage_error_is_one_line_in_our_words(args: list[str], line: str, tmp_path: Path) -> None:
    done = velocipy(*args, cwd=tmp_path)
    assert done.returncode == 2
    command = f"velocipy {args[0]}"
    assert done.stderr.splitlines() == [f"{line} (see '{command} -h')"]
    assert "Input should be" not in done.stderr
    assert "Value error" not in done.stderr
    assert done.stdout == ""


def test_ws_probe_without_target_says_missing_target_and_one_usage_line() -> None:
    done = velocipy("ws-probe")
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "error: missing TARGET (see 'velocipy ws-probe -h')",
        "usage: velocipy ws-probe [OPTIONS] [TARGET]",  # optional: --replay has its own
    ]
    assert done.stdout == ""


def test_openapi_is_listed_whole_and_helps_like_the_other_commands() -> None:
    overview = velocipy("--help").stdout
    assert "  openapi   Print the app's OpenAPI or AsyncAPI document.\n" in overview
    assert "..." not in overview.split("Commands:")[1]  # no summary cut off
    helped = velocipy("openapi", "--help").stdout
    routes = velocipy("routes", "--help").stdout
    assert "[tool.velocipy]" in " ".join(helped.split())
    app_line = "APP  module:attr or path/to/file.py[:attr]. (default: see above)"
    assert app_line in helped
    assert app_line in routes
    assert "-o, --output FILE" in helped
    docs = (REPO_ROOT / "docs" / "cli.md").read_text()
    readme = (REPO_ROOT / "README.md").read_text()
    assert "## `velocipy openapi`" in docs
    assert "`velocipy openapi`" in readme


def test_jsonl_help_says_one_object_per_event() -> None:
    helped = " ".join(velocipy("ws-probe", "--help").stdout.split())
    assert "--jsonl One JSON object per event on stdout (open, sent, received, pong, close)" in (
        helped
    )
    assert "per frame" not in helped


def test_discovery_names_the_same_candidates_in_help_docs_and_error(tmp_path: Path) -> None:
    for command in ("run", "routes", "openapi"):
        assert CANDIDATES in " ".join(velocipy(command, "--help").stdout.split()), command
    docs = " ".join((REPO_ROOT / "docs" / "cli.md").read_text().replace("`", "").split())
    assert CANDIDATES in docs
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "shop"\n')
    done = velocipy("routes", cwd=tmp_path)
    assert done.returncode == 1
    looked_for = done.stderr.split("(looked for: ", 1)[1].rsplit(")", 1)[0].split(", ")
    assert looked_for == [
        f"{folder}{name}"
        for folder in ("", "app/", "shop/", "src/shop/")
        for name in ("main.py", "app.py", "api.py")
    ]
