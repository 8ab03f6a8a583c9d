"""App discovery rules on fixture project trees (plain function calls, no server)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.run.projects import write_tree
from velocipy_cli.discovery import DiscoveryError, discover_app, load_app

VELOCIPY_APP = "from velocipy import VelociPy\n\n{name} = VelociPy()\n"


@pytest.fixture(autouse=True)
def _isolated_imports() -> Iterator[None]:
    """Fixture modules (main, app, ...) must not leak between tests through sys.modules."""
    path, modules = list(sys.path), set(sys.modules)
    yield
    sys.path[:] = path
    for name in set(sys.modules) - modules:
        del sys.modules[name]


def test_conventional_files_in_order(tmp_path: Path) -> None:
    write_tree(tmp_path, {"api.py": "", "app.py": "", "main.py": ""})
    location = discover_app(None, tmp_path)
    assert (location.module, location.attribute) == ("main", None)
    assert location.source == tmp_path / "main.py"
    assert "main.py" in location.reason
    (tmp_path / "main.py").unlink()
    assert discover_app(None, tmp_path).module == "app"
    (tmp_path / "app.py").unlink()
    assert discover_app(None, tmp_path).module == "api"


def test_app_folder_and_pyproject_package(tmp_path: Path) -> None:
    write_tree(tmp_path, {"app/__init__.py": "", "app/main.py": ""})
    location = discover_app(None, tmp_path)
    assert (location.module, location.import_root) == ("app.main", tmp_path)
    assert "app/main.py" in location.reason

    other = tmp_path / "other"
    write_tree(
        other,
        {
            "pyproject.toml": '[project]\nname = "my-shop"\n',
            "src/my_shop/__init__.py": "",
            "src/my_shop/api.py": "",
        },
    )
    location = discover_app(None, other)
    assert (location.module, location.import_root) == ("my_shop.api", other / "src")
    assert "src/my_shop/api.py" in location.reason


def test_nothing_found_lists_what_was_looked_for(tmp_path: Path) -> None:
    write_tree(tmp_path, {"pyproject.toml": '[project]\nname = "shop"\n', "README.md": ""})
    with pytest.raises(DiscoveryError) as error:
        discover_app(None, tmp_path)
    message = str(error.value)
    for place in ("main.py", "app.py", "api.py", "app/main.py", "shop/app.py", "src/shop/api.py"):
        assert place in message


def test_explicit_forms(tmp_path: Path) -> None:
    write_tree(tmp_path, {"service/__init__.py": "", "service/web.py": "", "run_me.py": ""})
    by_module = discover_app("service.web:server", tmp_path)
    assert (by_module.module, by_module.attribute, by_module.import_root) == (
        "service.web",
        "server",
        tmp_path,
    )
    assert by_module.target == "service.web:server"

    by_file = discover_app("service/web.py", tmp_path)  # a file inside a package keeps its package
    assert (by_file.module, by_file.attribute, by_file.import_root) == (
        "service.web",
        None,
        tmp_path,
    )

    by_file_attr = discover_app("run_me.py:api", tmp_path)
    assert (by_file_attr.module, by_file_attr.attribute) == ("run_me", "api")

    with pytest.raises(DiscoveryError, match="no such file"):
        discover_app("missing.py", tmp_path)
    with pytest.raises(DiscoveryError, match="neither a module"):
        discover_app("not a module", tmp_path)


def test_load_app_picks_app_or_the_only_instance(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "named.py": VELOCIPY_APP.format(name="app"),
            "single.py": VELOCIPY_APP.format(name="service") + "helper = object()\n",
            "double.py": VELOCIPY_APP.format(name="one") + "two = VelociPy()\n",
            "empty.py": "x = 1\n",
        },
    )
    named = load_app(discover_app("named.py", tmp_path))
    assert (named.attribute, named.reason) == ("app", "attribute named app")
    single = load_app(discover_app("single.py", tmp_path))
    assert (single.attribute, single.reason) == ("service", "the only VelociPy instance")
    assert single.target == "single:service"
    with pytest.raises(DiscoveryError, match="several VelociPy apps"):
        load_app(discover_app("double.py", tmp_path))
    with pytest.raises(DiscoveryError, match="has no app"):
        load_app(discover_app("empty.py", tmp_path))
    with pytest.raises(DiscoveryError, match="no attribute 'nope'"):
        load_app(discover_app("named.py:nope", tmp_path))


def test_a_mistyped_app_attribute_is_answered_with_the_right_one(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "named.py": VELOCIPY_APP.format(name="app"),
            "double.py": VELOCIPY_APP.format(name="one") + "two = VelociPy()\n",
            "factory.py": VELOCIPY_APP.format(name="create").replace("create = VelociPy()", "")
            + "def create_app():\n    return VelociPy()\n",
            "plain.py": "x = 1\n",
        },
    )
    cases = {
        "named.py:ap": "module 'named' has no attribute 'ap'; did you mean named:app?",
        "double.py:three": (
            "module 'double' has no attribute 'three'; did you mean double:one or double:two?"
        ),
        "factory.py:create_ap": (
            "module 'factory' has no attribute 'create_ap'; did you mean factory:create_app?"
        ),
        "plain.py:app": "module 'plain' has no attribute 'app'",  # nothing close: no guess
        "named.py:app.nope": "module 'named' has no attribute 'app.nope'; did you mean named:app?",
    }
    for target, message in cases.items():
        with pytest.raises(DiscoveryError) as caught:
            load_app(discover_app(target, tmp_path))
        assert str(caught.value) == message, target
