"""velocipy.settings: one test per source, per error kind, and for secrets that never print."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import msgspec
import pytest

from velocipy import Depends, VelociPy
from velocipy.exceptions import StartupError
from velocipy.settings import SecretStr, Settings, SettingsError, read_env_file
from velocipy.testing import TestClient
from velocipy_cli.settings import pyproject_settings


class Database(msgspec.Struct, kw_only=True):
    url: SecretStr
    pool_size: Annotated[int, msgspec.Meta(ge=1)] = 5


class ShopSettings(Settings):
    env_prefix = "SHOP_"
    toml_file = "shop.toml"

    name: str = "shop"
    port: Annotated[int, msgspec.Meta(ge=1, le=65535)] = 8000
    debug: bool = False
    tags: list[str] = []
    database: Database


URL = "postgresql://shop:hunter2@db.internal/shop"


def load(tmp_path: Path, environ: dict[str, str] | None = None, **values: object) -> ShopSettings:
    return ShopSettings.from_sources(environ=environ or {}, cwd=tmp_path, values=values or None)


def problems(tmp_path: Path, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(SettingsError) as raised:
        load(tmp_path, environ)
    return str(raised.value)


# --- sources --------------------------------------------------------------------------------
def test_defaults_fill_what_no_source_gives(tmp_path: Path) -> None:
    settings = load(tmp_path, {"SHOP_DATABASE__URL": URL})
    assert (settings.name, settings.port, settings.debug, settings.tags) == (
        "shop",
        8000,
        False,
        [],
    )
    assert settings.database.pool_size == 5


def test_environment_variables_with_prefix_nesting_json_and_flags(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        {
            "SHOP_NAME": "corner",
            "SHOP_PORT": "9000",
            "SHOP_DEBUG": "yes",
            "SHOP_TAGS": '["a", "b"]',
            "SHOP_DATABASE__URL": URL,
            "SHOP_DATABASE__POOL_SIZE": "20",
            "NAME": "not ours: no prefix",
        },
    )
    assert (settings.name, settings.port, settings.debug) == ("corner", 9000, True)
    assert settings.tags == ["a", "b"]
    assert settings.database.url.get_secret_value() == URL
    assert settings.database.pool_size == 20


def test_a_whole_struct_from_one_variable_as_json(tmp_path: Path) -> None:
    settings = load(tmp_path, {"SHOP_DATABASE": f'{{"url": "{URL}", "pool_size": 3}}'})
    assert settings.database.pool_size == 3


def test_the_env_file(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        '# comment\nexport SHOP_NAME="the corner"\nSHOP_PORT=8080  # inline\n'
        f"SHOP_DATABASE__URL={URL}\n"
    )
    settings = load(tmp_path)
    assert (settings.name, settings.port) == ("the corner", 8080)
    assert settings.database.url.get_secret_value() == URL


def test_the_toml_file(tmp_path: Path) -> None:
    (tmp_path / "shop.toml").write_text(
        f'name = "toml shop"\ntags = ["x"]\n[database]\nurl = "{URL}"\npool_size = 7\n'
    )
    settings = load(tmp_path)
    assert (settings.name, settings.tags, settings.database.pool_size) == ("toml shop", ["x"], 7)


def test_the_pyproject_table_of_the_nearest_project(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.velocipy]\napp = "main:app"\n'
        f'[tool.velocipy.settings]\nport = 7000\ndatabase = {{ url = "{URL}" }}\n'
    )
    below = tmp_path / "src" / "shop"
    below.mkdir(parents=True)
    assert load(below).port == 7000
    # the CLI's own reading of [tool.velocipy] leaves the app's table alone
    assert pyproject_settings(below) == {"app": "main:app"}


def test_precedence_values_environment_env_file_toml_pyproject_defaults(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.velocipy.settings]\nname = "pyproject"\nport = 1\ntags = ["pyproject"]\n'
        f'debug = true\ndatabase = {{ url = "{URL}" }}\n'
    )
    (tmp_path / "shop.toml").write_text('name = "toml"\nport = 2\ntags = ["toml"]\n')
    (tmp_path / ".env").write_text("SHOP_NAME=dotenv\nSHOP_PORT=3\n")
    settings = load(tmp_path, {"SHOP_NAME": "environment"}, port=4)
    assert settings.port == 4  # values
    assert settings.name == "environment"  # environment over .env
    assert settings.tags == ["toml"]  # toml_file over pyproject
    assert settings.debug is True  # pyproject over the default


def test_injected_with_depends_once_per_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SHOP_DATABASE__URL", URL)
    monkeypatch.setenv("SHOP_NAME", "injected")
    app = VelociPy()

    @app.get("/")
    async def index(s: Annotated[ShopSettings, Depends(ShopSettings.load, scope="app")]) -> str:
        return f"{s.name} {id(s)}"

    with TestClient(app) as client:
        first, second = client.get("/").text, client.get("/").text
    assert first == second
    assert first.startswith("injected ")


# --- errors -------------------------------------------------------------------------------------
def test_a_missing_value_names_the_variable_to_set(tmp_path: Path) -> None:
    assert problems(tmp_path) == (
        "ShopSettings: 1 problem: database.url is missing (set SHOP_DATABASE__URL)"
    )


def test_a_value_of_the_wrong_type_names_its_source_not_the_value(tmp_path: Path) -> None:
    message = problems(tmp_path, {"SHOP_PORT": "eighty-80-secretish", "SHOP_DATABASE__URL": URL})
    assert message == (
        "ShopSettings: 1 problem: port: Expected `int`, got `str` "
        "(from SHOP_PORT in the environment)"
    )


def test_a_value_out_of_its_bounds(tmp_path: Path) -> None:
    (tmp_path / "shop.toml").write_text(f'port = 70000\n[database]\nurl = "{URL}"\npool_size = 0\n')
    assert problems(tmp_path) == (
        "ShopSettings: 2 problems: port: Expected `int` <= 65535 (from shop.toml); "
        "database.pool_size: Expected `int` >= 1 (from shop.toml)"
    )


def test_an_unknown_key_in_a_file(tmp_path: Path) -> None:
    (tmp_path / "shop.toml").write_text(f'prot = 1\n[database]\nurl = "{URL}"\n')
    assert problems(tmp_path) == "ShopSettings: 1 problem: unknown setting prot (shop.toml)"


def test_a_toml_file_that_does_not_parse(tmp_path: Path) -> None:
    (tmp_path / "shop.toml").write_text("port = = 1\n")
    message = problems(tmp_path, {"SHOP_DATABASE__URL": URL})
    assert message.startswith("ShopSettings: 1 problem: cannot read shop.toml: Invalid value")


def test_an_env_file_line_that_is_not_an_assignment_names_the_line_only(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"SHOP_NAME=ok\nSHOP_DATABASE__URL {URL}\n")
    message = problems(tmp_path)
    assert message == (
        "ShopSettings: 2 problems: .env: line 2 is not KEY=value (or has an unclosed quote); "
        "database.url is missing (set SHOP_DATABASE__URL)"
    )
    assert "hunter2" not in message
    (tmp_path / "bad.env").write_text('A="unclosed\n')
    with pytest.raises(SettingsError, match=r"bad\.env: 1 problem: line 1 is not KEY=value"):
        read_env_file(tmp_path / "bad.env")


def test_a_post_init_check(tmp_path: Path) -> None:
    class Ports(Settings):
        env_file = None
        pyproject = False
        low: int = 1
        high: int = 2

        def __post_init__(self) -> None:
            if self.low >= self.high:
                raise ValueError("low must be below high")

    with pytest.raises(SettingsError, match=r"^Ports: 1 problem: Ports: low must be below high$"):
        Ports.from_sources(environ={"LOW": "5"}, cwd=tmp_path)


def test_every_problem_in_one_line(tmp_path: Path) -> None:
    message = problems(tmp_path, {"SHOP_PORT": "0", "SHOP_DEBUG": "maybe", "SHOP_TAGS": "[1"})
    assert message == (
        "ShopSettings: 4 problems: port: Expected `int` >= 1 (from SHOP_PORT in the environment); "
        "debug: Expected `bool`, got `str` (from SHOP_DEBUG in the environment); "
        "tags: Expected `array`, got `str` (from SHOP_TAGS in the environment); "
        "database.url is missing (set SHOP_DATABASE__URL)"
    )
    assert "\n" not in message


def test_a_settings_error_fails_the_start_up_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    app = VelociPy()

    @app.get("/")
    async def index(s: Annotated[ShopSettings, Depends(ShopSettings.load, scope="app")]) -> str:
        return s.name

    import asyncio

    with pytest.raises(StartupError) as raised:
        asyncio.run(app.startup())
    assert str(raised.value) == (
        "app-scoped dependency ShopSettings.load: ShopSettings: 1 problem: database.url is "
        "missing (set SHOP_DATABASE__URL)"
    )


# --- secrets ------------------------------------------------------------------------------------
def test_a_secret_never_prints(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = load(tmp_path, {"SHOP_DATABASE__URL": URL})
    secret = settings.database.url
    shown = [repr(settings), str(settings), repr(secret), str(secret), f"{secret}", f"{secret:>12}"]
    logging.getLogger("velocipy").warning("settings: %s %r", settings, secret)
    shown.append(caplog.text)
    for text in shown:
        assert "hunter2" not in text
        assert "**********" in text
    assert repr(settings.database) == "Database(url=SecretStr('**********'), pool_size=5)"
    assert secret.get_secret_value() == URL
    assert secret == SecretStr(URL)
    assert secret != SecretStr("other")
    with pytest.raises(TypeError):
        msgspec.json.encode(settings)  # no encoder for a secret: it cannot leak into JSON
