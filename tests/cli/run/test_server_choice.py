"""Which server and interface `velocipy run` picks from --server / --interface / --rsgi."""

from __future__ import annotations

from pathlib import Path

import pytest

from velocipy_cli.dev.choice import ServerChoice, ServerChoiceError, choose_server


@pytest.mark.parametrize(
    ("server", "interface", "expected"),
    [
        (None, None, ServerChoice("uvicorn", "asgi")),
        (None, "asgi", ServerChoice("uvicorn", "asgi")),
        (None, "rsgi", ServerChoice("granian", "rsgi")),  # --rsgi alone: granian
        ("granian", None, ServerChoice("granian", "rsgi")),  # granian's own default
        ("granian", "asgi", ServerChoice("granian", "asgi")),
        ("uvicorn", None, ServerChoice("uvicorn", "asgi")),
    ],
)
def test_a_partial_choice_is_completed(
    server: str | None, interface: str | None, expected: ServerChoice
) -> None:
    assert choose_server(server, interface) == expected


def test_uvicorn_cannot_serve_rsgi_and_says_what_can() -> None:
    with pytest.raises(ServerChoiceError) as refused:
        choose_server("uvicorn", "rsgi")
    assert str(refused.value) == (
        "uvicorn cannot serve the RSGI interface (it serves ASGI); use --server granian"
    )


def test_labels_name_server_and_interface() -> None:
    assert choose_server("granian", "asgi").label == "granian (ASGI)"


def test_the_banner_says_where_the_app_came_from(tmp_path: Path) -> None:
    from velocipy_cli.commands.run import banner_rows, build_config
    from velocipy_cli.settings import DEFAULTS

    (tmp_path / "service_mod.py").write_text("app = None\n")
    settings = {**DEFAULTS, "app": "service_mod:app", "server": "granian", "interface": "asgi"}
    by_env = dict(banner_rows(build_config(settings, tmp_path, "VELOCIPY_APP")))
    assert by_env["app"] == "service_mod:app, from VELOCIPY_APP"
    assert by_env["server"] == "granian (ASGI)"
    by_argument = dict(banner_rows(build_config({**settings, "app": "service_mod.py"}, tmp_path)))
    assert by_argument["app"] == "service_mod:app, file service_mod.py, from the APP argument"
    assert "debug" not in by_argument

    (tmp_path / "single.py").write_text("from velocipy import VelociPy\nservice = VelociPy()\n")
    single = dict(banner_rows(build_config({**settings, "app": "single.py"}, tmp_path)))
    assert single["app"] == "single:service, file single.py, from the APP argument"

    (tmp_path / "two.py").write_text(
        "import velocipy\na = velocipy.VelociPy()\nb = velocipy.VelociPy()\n"
    )
    unsure = dict(banner_rows(build_config({**settings, "app": "two.py"}, tmp_path)))
    assert unsure["app"].startswith("two (its app attribute, or its only VelociPy instance)")

    debug = dict(banner_rows(build_config({**settings, "debug": True}, tmp_path, "VELOCIPY_APP")))
    assert debug["debug"].startswith("on: VELOCIPY_DEBUG=1")


def test_the_banner_says_when_the_dev_proxy_keeps_clients_connected(tmp_path: Path) -> None:
    from velocipy_cli.commands.run import banner_rows, build_config
    from velocipy_cli.settings import DEFAULTS

    (tmp_path / "main.py").write_text("from velocipy import VelociPy\napp = VelociPy()\n")
    reloading = dict(banner_rows(build_config({**DEFAULTS, "app": "main.py"}, tmp_path)))
    assert reloading["proxy"] == "on: sockets and requests stay open across reloads (--no-proxy)"
    for off in ({"proxy": False}, {"reload": False}):
        rows = dict(banner_rows(build_config({**DEFAULTS, "app": "main.py", **off}, tmp_path)))
        assert "proxy" not in rows
