"""Unit tests of the pure parts of velocipy_cli.scaffold: names, placeholders, templates."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

from tests.support import REPO_ROOT
from velocipy_cli import scaffold

TEMPLATE_NAMES = ("minimal", "websocket", "api")


@pytest.mark.parametrize(
    ("name", "package"),
    [
        ("chat", "chat"),
        ("My-Chat", "my_chat"),
        ("shop.api", "shop_api"),
        ("a--b__c", "a_b_c"),
        ("x1", "x1"),
        ("Blog2", "blog2"),
    ],
)
def test_derive_package_name_normalizes_the_project_name(name: str, package: str) -> None:
    assert scaffold.derive_package_name(name) == package


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("my app", "not a usable project name"),
        ("-chat", "not a usable project name"),
        ("chat-", "not a usable project name"),
        ("../evil", "is a folder, not a project name"),
        ("a/b", "is a folder, not a project name"),
        ("café", "not a usable project name"),
        ("1chat", "not a Python identifier"),
        ("class", "keyword"),
        ("match", "keyword"),
        ("json", "shadow"),
        ("asyncio", "shadow"),
        ("test", "shadow"),
        ("tests", "shadow"),
        ("velocipy", "shadow"),
        ("Velocipy", "shadow"),
        ("velocipy-cli", "shadow"),
        ("msgspec", "shadow"),
        ("uvicorn", "shadow"),
    ],
)
def test_unusable_names_are_refused_with_a_one_line_reason(name: str, reason: str) -> None:
    with pytest.raises(scaffold.UsageError) as caught:
        scaffold.derive_package_name(name)
    message = str(caught.value)
    assert reason in message
    assert "\n" not in message


def test_a_name_with_spaces_gets_a_suggestion() -> None:
    with pytest.raises(scaffold.UsageError, match="try 'my-app'"):
        scaffold.validate_project_name("My App")


@pytest.mark.parametrize(
    ("name", "hint"),
    [
        ("/tmp/work/chat", "velocipy new chat --path /tmp/work/chat"),
        ("apps/My Blog/", "velocipy new my-blog --path apps/My Blog"),
        ("..\\evil", "velocipy new evil --path ..\\evil"),
    ],
)
def test_a_path_given_as_the_name_points_to_path(name: str, hint: str) -> None:
    with pytest.raises(scaffold.UsageError) as caught:
        scaffold.validate_project_name(name)
    assert f"{name!r} is a folder, not a project name; the folder goes in --path: {hint}" == str(
        caught.value
    )


def test_render_text_substitutes_every_placeholder_form() -> None:
    context = {"name": "chat", "package": "chat_app"}
    rendered = scaffold.render_text("{{ name }}/{{package}}/{{  name  }}", context)
    assert rendered == "chat/chat_app/chat"


def test_render_text_leaves_other_braces_alone() -> None:
    source = "const t = `${x}`; if (a) { b(); } {{ name }} {not a placeholder}"
    assert scaffold.render_text(source, {"name": "n"}) == (
        "const t = `${x}`; if (a) { b(); } n {not a placeholder}"
    )


def test_render_text_does_not_render_substituted_values_again() -> None:
    assert scaffold.render_text("{{ a }}", {"a": "{{ b }}", "b": "no"}) == "{{ b }}"


def test_an_unknown_placeholder_is_a_template_error() -> None:
    with pytest.raises(scaffold.ScaffoldError, match="unknown placeholder"):
        scaffold.render_text("{{ nope }}", {"name": "x"})


def test_render_relative_path_substitutes_and_drops_the_tmpl_suffix() -> None:
    context = {"package": "chat"}
    rendered = scaffold.render_relative_path(Path("{{package}}/main.py.tmpl"), context)
    assert rendered == Path("chat/main.py")
    assert scaffold.render_relative_path(Path("tests/test_x.py"), context) == Path(
        "tests/test_x.py"
    )


@pytest.mark.parametrize("value", ["..", "a/b", ""])
def test_render_relative_path_refuses_values_that_escape_the_project(value: str) -> None:
    with pytest.raises(scaffold.ScaffoldError, match="unsafe path"):
        scaffold.render_relative_path(Path("{{package}}/x.py"), {"package": value})


def test_the_three_templates_are_listed_in_order_with_descriptions() -> None:
    templates = scaffold.list_templates()
    assert [info.name for info in templates][:3] == list(TEMPLATE_NAMES)
    for info in templates:
        assert info.description
        assert "\n" not in info.description
    assert scaffold.find_template("websocket").websocket_path is None  # /ws needs a ticket
    assert scaffold.DEFAULT_TEMPLATE == "minimal"


def test_the_base_layer_is_not_a_template() -> None:
    assert scaffold.BASE_LAYER not in {info.name for info in scaffold.list_templates()}


def test_find_template_names_the_choices_when_unknown() -> None:
    with pytest.raises(
        scaffold.UsageError, match="choose one of: minimal, websocket, api, chat-redis, sqlalchemy"
    ):
        scaffold.find_template("django")


def test_templates_come_from_the_package_folder_before_the_checkout(tmp_path: Path) -> None:
    roots = scaffold.template_roots()
    package_dir = Path(scaffold.__file__).resolve().parent
    assert roots[0] == package_dir / "templates"
    assert roots[1] == package_dir.parent / "templates"


def test_a_manifest_without_description_is_reported(tmp_path: Path) -> None:
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / scaffold.MANIFEST_NAME).write_text("order = 1\n")
    with pytest.raises(scaffold.ScaffoldError, match="description"):
        scaffold.list_templates(tmp_path)


def _spec(template: str, tmp_path: Path, server: scaffold.Server = "asgi") -> scaffold.ProjectSpec:
    return scaffold.ProjectSpec(
        name="My-Shop",
        package="my_shop",
        template=scaffold.find_template(template),
        target=tmp_path / "My-Shop",
        server=server,
    )


@pytest.mark.parametrize("template", TEMPLATE_NAMES)
def test_each_template_renders_a_complete_project(template: str, tmp_path: Path) -> None:
    spec = _spec(template, tmp_path)
    written = scaffold.render_template(spec.template, tmp_path / "out", spec.context())
    out = tmp_path / "out"

    names = {path.as_posix() for path in written}
    for expected in ("pyproject.toml", "README.md", ".gitignore", "my_shop/__init__.py",
                     "my_shop/main.py", "tests/conftest.py"):  # fmt: skip
        assert expected in names
    assert not any(name.endswith((".tmpl", scaffold.MANIFEST_NAME)) for name in names)
    assert not any("{{" in name for name in names)

    for path in written:
        text = (out / path).read_text(encoding="utf-8")
        assert "{{" not in text, f"placeholder left in {path}"
        assert "}}" not in text, f"placeholder left in {path}"
        if path.suffix == ".py":
            ast.parse(text, filename=str(path))  # every Python file is valid Python

    pyproject = tomllib.loads((out / "pyproject.toml").read_text())
    assert pyproject["project"]["name"] == "My-Shop"
    assert any(dep.startswith("velocipy") for dep in pyproject["project"]["dependencies"])
    assert pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"] == ["my_shop"]
    assert pyproject["tool"]["velocipy"] == {"app": "my_shop.main:app", "interface": "asgi"}

    tests = "\n".join((out / p).read_text() for p in written if p.parts[0] == "tests")
    assert "from velocipy.testing import TestClient" in tests
    # VelociPy's pytest plugin gives `client` on the app velocipy_app names, ASGI and RSGI
    assert pyproject["tool"]["pytest"]["ini_options"]["velocipy_app"] == "my_shop.main:app"
    assert "(client: TestClient)" in tests


@pytest.mark.parametrize("server", ["asgi", "rsgi"])
def test_the_server_choice_decides_what_readme_and_pyproject_say(
    server: scaffold.Server, tmp_path: Path
) -> None:
    spec = _spec("minimal", tmp_path, server)
    scaffold.render_template(spec.template, tmp_path, spec.context())
    pyproject = tomllib.loads((tmp_path / "pyproject.toml").read_text())
    readme = (tmp_path / "README.md").read_text()
    assert pyproject["tool"]["velocipy"]["interface"] == server
    assert "velocipy run" in readme
    if server == "rsgi":
        assert "granian --interface rsgi my_shop.main:app" in readme
        assert "uvicorn" not in readme
    else:
        assert "uvicorn my_shop.main:app" in readme
        assert "granian" not in readme


def test_the_websocket_page_is_rendered_with_the_project_name(tmp_path: Path) -> None:
    spec = _spec("websocket", tmp_path)
    scaffold.render_template(spec.template, tmp_path, spec.context())
    page = (tmp_path / "my_shop" / "static" / "index.html").read_text()
    assert "<title>My-Shop</title>" in page  # the project's name, once
    assert '<link rel="icon" href="data:image/svg+xml,' in page  # inline: no /favicon.ico 404
    assert "new WebSocket(" in page
    assert "innerHTML" not in page.replace("never innerHTML", "")


def test_the_requirement_names_where_this_velocipy_came_from() -> None:
    # The test run uses the clone (editable or not): never the bare, index-resolved name.
    requirement = scaffold.velocipy_requirement()
    assert requirement == f"velocipy @ {REPO_ROOT.resolve().as_uri()}"


def test_the_generated_pyproject_allows_the_direct_reference(tmp_path: Path) -> None:
    spec = _spec("minimal", tmp_path)
    scaffold.render_template(spec.template, tmp_path, spec.context())
    pyproject = tomllib.loads((tmp_path / "pyproject.toml").read_text())
    assert pyproject["project"]["dependencies"] == [scaffold.velocipy_requirement()]
    assert pyproject["tool"]["hatch"]["metadata"]["allow-direct-references"] is True


VENV = ["python3 -m venv .venv", ". .venv/bin/activate"]  # as the generated README says


@pytest.mark.parametrize(
    ("template", "probe"), [("minimal", False), ("websocket", False), ("api", False)]
)
def test_next_steps_are_the_exact_commands(template: str, probe: bool, tmp_path: Path) -> None:
    steps = [command for command, _ in scaffold.next_steps(_spec(template, tmp_path), tmp_path)]
    expected = ["cd My-Shop", *VENV, 'pip install -e ".[dev]"', "velocipy run"]
    expected += ["velocipy ws-probe /ws"] if probe else []
    assert steps == [*expected, "pytest"]


def test_the_sqlalchemy_template_migrates_before_it_runs(tmp_path: Path) -> None:
    steps = [command for command, _ in scaffold.next_steps(_spec("sqlalchemy", tmp_path), tmp_path)]
    assert steps == [
        "cd My-Shop",
        *VENV,
        'pip install -e ".[dev]"',
        "alembic upgrade head",
        "velocipy run",
        "pytest",
    ]


def test_a_setup_that_is_not_a_list_of_pairs_is_refused(tmp_path: Path) -> None:
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "template.toml").write_text(
        'description = "x"\nsetup = ["alembic upgrade head"]\n'
    )
    with pytest.raises(scaffold.ScaffoldError, match="`setup` is a list of \\[command, note\\]"):
        scaffold.load_template(tmp_path / "broken")


def test_next_steps_quote_a_folder_outside_the_working_directory(tmp_path: Path) -> None:
    spec = _spec("minimal", tmp_path / "with space")
    steps = scaffold.next_steps(spec, tmp_path / "elsewhere")
    assert steps[0][0] == f"cd '{tmp_path}/with space/My-Shop'"
