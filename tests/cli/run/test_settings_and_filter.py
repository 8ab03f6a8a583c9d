"""[tool.velocipy] + VELOCIPY_* settings, and which file changes restart the server."""

from __future__ import annotations

from pathlib import Path

import pytest
from watchfiles import Change

from tests.cli.run.projects import write_tree
from velocipy_cli.dev.debounce import RestartScheduler
from velocipy_cli.dev.watcher import ReloadFilter
from velocipy_cli.settings import SettingsError, load_project_settings


def test_environment_beats_pyproject_beats_defaults(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "pyproject.toml": (
                "[tool.velocipy]\n"
                'app = "shop.main:app"\nport = 9001\nrsgi = true\n'
                'reload-excludes = ["data/"]\nlog-level = "WARNING"\n'
            )
        },
    )
    nested = tmp_path / "shop"
    nested.mkdir()
    settings = load_project_settings(nested, environ={"VELOCIPY_PORT": "9002"})
    assert settings["app"] == "shop.main:app"
    assert settings["interface"] == "rsgi"
    assert settings["port"] == 9002
    assert settings["reload_excludes"] == ["data/"]
    assert settings["log_level"] == "warning"
    assert settings["host"] == "127.0.0.1"  # default
    assert settings["reload"] is True  # default

    env = {"VELOCIPY_RELOAD": "off", "VELOCIPY_INTERFACE": "asgi", "VELOCIPY_RELOAD_DIRS": "a, b"}
    overridden = load_project_settings(nested, environ=env)
    assert overridden["reload"] is False
    assert overridden["interface"] == "asgi"
    assert overridden["reload_dirs"] == ["a", "b"]


@pytest.mark.parametrize(
    ("pyproject", "environ", "message"),
    [
        ("[tool.velocipy]\nprot = 1\n", {}, "unknown key 'prot'"),
        ("[tool.velocipy]\nport = 'x'\n", {}, "port must be a whole number"),
        ("[tool.velocipy]\ninterface = 'wsgi'\n", {}, "must be 'asgi' or 'rsgi'"),
        ("", {"VELOCIPY_RELOAD": "maybe"}, "VELOCIPY_RELOAD must be true or false"),
        ("[tool.velocipy\n", {}, "cannot read"),
    ],
)
def test_bad_settings_are_one_clear_error(
    tmp_path: Path, pyproject: str, environ: dict[str, str], message: str
) -> None:
    write_tree(tmp_path, {"pyproject.toml": pyproject})
    with pytest.raises(SettingsError, match=message):
        load_project_settings(tmp_path, environ=environ)


def test_reload_filter_watches_code_and_never_environments_or_output(tmp_path: Path) -> None:
    write_tree(tmp_path, {"venv/pyvenv.cfg": "", "tools/env3/pyvenv.cfg": ""})
    reload_filter = ReloadFilter([tmp_path], includes=["*.toml"], excludes=["scratch/", "gen_*.py"])
    restarts = {
        "main.py": True,
        "pkg/sub/models.py": True,
        "templates/index.html": True,
        "static/css/site.css": True,
        ".env": True,
        ".env.local": True,
        "settings.toml": True,  # --reload-include
        "README.md": False,
        "venv/lib/python3.11/site-packages/x.py": False,
        "tools/env3/lib/y.py": False,  # any folder holding pyvenv.cfg
        ".venv/lib/z.py": False,
        "lib/site-packages/w.py": False,
        "__pycache__/main.cpython-311.pyc": False,
        "pkg/__pycache__/mod.cpython-311.py": False,
        ".git/HEAD": False,
        "node_modules/left-pad/index.py": False,
        ".mypy_cache/3.11/main.py": False,
        "app.log": False,
        "logs/app.log.1": False,
        "data.sqlite3": False,
        "data.sqlite-journal": False,
        "templates/.index.html.swp": False,
        "scratch/try.py": False,  # --reload-exclude folder
        "gen_models.py": False,  # --reload-exclude glob
    }
    decided = {name: reload_filter(Change.modified, str(tmp_path / name)) for name in restarts}
    assert decided == restarts
    assert not reload_filter(Change.modified, "/somewhere/else/main.py")


def test_a_burst_of_saves_is_one_restart_after_the_first() -> None:
    scheduler = RestartScheduler(quiet=0.3, longest=3.0)
    main, models = Path("main.py"), Path("models.py")
    assert scheduler.add(10.0, [main]) == [main]  # a lone save restarts at once
    assert scheduler.due(10.05) == []
    for step in range(1, 20):  # the same file saved every 50 ms for a second
        assert scheduler.add(10.0 + step * 0.05, [main]) == []
    assert scheduler.add(10.96, [models]) == []
    assert scheduler.due(11.1) == []  # still inside the quiet window
    assert scheduler.due(11.3) == [main, models]  # one more restart with everything held
    assert scheduler.due(11.4) == []
    assert scheduler.add(20.0, [models]) == [models]  # the next lone save is fast again

    endless = RestartScheduler(quiet=0.3, longest=1.0)
    endless.add(0.0, [main])
    for step in range(1, 12):
        endless.add(step * 0.1, [main])
    assert endless.due(1.15) == [main]  # a file that never stops changing still reloads
