"""`velocipy run --env-file`: the app's settings read the file; a secret never reaches the output,
the logs or an error page, and a missing setting stops the start-up with one line."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import ServerProcess, executable, free_port, http_request, wait_until

SECRET = "hunter2-3c1f9a7e-never-print-me"

APP = """
import logging
from typing import Annotated

from velocipy import Depends, VelociPy
from velocipy.settings import SecretStr, Settings

logger = logging.getLogger("velocipy")


class ShopSettings(Settings):
    env_prefix = "SHOP_"
    env_file = None
    api_key: SecretStr
    name: str = "shop"


Config = Annotated[ShopSettings, Depends(ShopSettings.load, scope="app")]
app = VelociPy()


@app.get("/")
async def index(settings: Config) -> dict[str, object]:
    logger.warning("settings in use: %r", settings)
    return {"name": settings.name, "key_length": len(settings.api_key)}


@app.get("/boom")
async def boom(settings: Config) -> None:
    raise RuntimeError(f"failed with {settings!r}, key {settings.api_key}")
"""


@contextlib.contextmanager
def velocipy_run(root: Path, *options: str) -> Iterator[ServerProcess]:
    port = free_port()
    argv = [executable("velocipy"), "run", "--no-reload", "--port", str(port), *options]
    server = ServerProcess(argv, port, root, env={"COLUMNS": "200"}).start()
    try:
        yield server
    finally:
        server.stop()


def _project(tmp_path: Path, env_file: str | None) -> Path:
    root = tmp_path / "shop"
    root.mkdir()
    (root / "main.py").write_text(APP)
    if env_file is not None:
        (root / "secrets.env").write_text(env_file)
    return root


@pytest.mark.parametrize("interface", ["--asgi", "--rsgi"])
def test_env_file_feeds_the_settings_and_the_secret_never_prints(
    tmp_path: Path, interface: str
) -> None:
    root = _project(tmp_path, f"# shop\nSHOP_API_KEY={SECRET}\nexport SHOP_NAME='corner shop'\n")
    with velocipy_run(root, interface, "--env-file", "secrets.env", "--debug") as server:
        server.wait_ready()
        answer = http_request(server.url + "/")
        assert answer.status == 200, server.output()
        assert json.loads(answer.body) == {"name": "corner shop", "key_length": len(SECRET)}
        failed = http_request(server.url + "/boom")
        assert failed.status == 500
        assert wait_until(lambda: "RuntimeError: failed with" in server.output(), 10)
    output = server.output()
    assert "env    secrets.env (2 variables)" in output
    # the settings were logged and the error carried them, masked both times
    assert "settings in use: ShopSettings(api_key=SecretStr('**********'), name='corner shop')" in (
        output
    )
    assert "RuntimeError: failed with ShopSettings(api_key=SecretStr('**********')" in output
    assert "key **********" in output
    assert SECRET not in output
    assert SECRET not in failed.text


def test_a_missing_setting_stops_the_start_up_with_one_line(tmp_path: Path) -> None:
    root = _project(tmp_path, "SHOP_NAME=corner\n")
    with velocipy_run(root, "--env-file", "secrets.env") as server:
        line = "ShopSettings: 1 problem: api_key is missing (set SHOP_API_KEY)"
        assert wait_until(lambda: line in server.output(), 20), server.output()
    assert "Traceback" not in server.output()


def test_a_malformed_env_file_is_refused_naming_the_line_not_its_text(tmp_path: Path) -> None:
    root = _project(tmp_path, f"SHOP_NAME=corner\nSHOP_API_KEY {SECRET}\n")
    with velocipy_run(root, "--env-file", "secrets.env") as server:
        assert wait_until(lambda: not server.alive(), 20)
    output = server.output()
    assert server.process is not None
    assert server.process.returncode == 2
    assert "--env-file secrets.env: 1 problem: line 2 is not KEY=value" in output
    assert SECRET not in output
