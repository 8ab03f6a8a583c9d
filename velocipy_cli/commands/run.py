"""The `velocipy run` command: the dev server with VelociPy's own reloader.

The server is uvicorn (ASGI), granian (RSGI) or granian (ASGI): see :mod:`velocipy_cli.dev.choice`.

This module merges options (CLI > VELOCIPY_* > [tool.velocipy] > defaults) and renders what the
supervisor reports; the work happens in :mod:`velocipy_cli.dev`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import typer
from rich.markup import escape
from rich.text import Text

from velocipy_cli.console import console, err_console, fail, warning
from velocipy_cli.dev.choice import ServerChoice, ServerChoiceError, choose_server
from velocipy_cli.dev.sockets import PortInUseError, bind_listening_socket
from velocipy_cli.discovery import (
    AppLocation,
    DiscoveryError,
    attribute_in_source,
    discover_app,
)
from velocipy_cli.help import PlainHelpCommand
from velocipy_cli.ranges import between
from velocipy_cli.settings import (
    LOG_LEVELS,
    SettingsError,
    load_project_settings,
    setting_source,
)

if TYPE_CHECKING:
    from velocipy_cli.dev.reports import AppFailure
    from velocipy_cli.dev.supervisor import DevServerConfig
    from velocipy_cli.dev.tls import DevCertificate

# PERF: the supervisor (watchfiles, the dev proxy), the TLS helper (trustme) and --check (the
# app and a WebSocket client) are imported where they are used, so `velocipy --help` and the
# other commands do not load them.


def register(app: typer.Typer) -> None:
    """Attach this command to the `velocipy` Typer app."""
    app.command("run", cls=PlainHelpCommand, short_help="Serve the app, reloading on every save.")(
        run
    )


def run(
    app_spec: str | None = typer.Argument(
        None,
        metavar="APP",
        help="module:attr or path/to/file.py[:attr]. (default: see above)",
        show_default=False,
    ),
    server: Literal["uvicorn", "granian"] | None = typer.Option(
        None,
        "--server",
        metavar="uvicorn|granian",
        help="Server to run: uvicorn (ASGI) or granian (RSGI or ASGI). "
        "(default: uvicorn; granian for --interface rsgi)",
        show_default=False,
    ),
    interface: Literal["asgi", "rsgi"] | None = typer.Option(
        None,
        "--interface",
        metavar="asgi|rsgi",
        help="Interface the app is served through. (default: the server's own: asgi on "
        "uvicorn, rsgi on granian)",
        show_default=False,
    ),
    rsgi: bool | None = typer.Option(
        None,
        "--rsgi/--asgi",
        help="Short for --interface rsgi (served by granian) / --interface asgi.",
        show_default=False,
    ),
    host: str | None = typer.Option(
        None, "--host", metavar="HOST", help="Address to bind. (default: 127.0.0.1)"
    ),
    port: int | None = typer.Option(
        None,
        "--port",
        metavar="PORT",
        callback=between(0, 65535),
        help="Port to bind, 0 for any free one. (default: 8000)",
    ),
    reload: bool | None = typer.Option(
        None, "--reload/--no-reload", help="Restart on code changes. (default: --reload)"
    ),
    reload_dirs: list[Path] | None = typer.Option(
        None,
        "--reload-dir",
        metavar="DIR",
        help="Folder to watch (repeatable). (default: the current folder)",
    ),
    reload_includes: list[str] | None = typer.Option(
        None,
        "--reload-include",
        metavar="GLOB",
        help="Also restart on files matching this glob (repeatable).",
    ),
    reload_excludes: list[str] | None = typer.Option(
        None,
        "--reload-exclude",
        metavar="GLOB",
        help="Never restart on files matching this glob (repeatable).",
    ),
    workers: int | None = typer.Option(
        None,
        "--workers",
        metavar="N",
        callback=between(1),
        help="Server processes (needs --no-reload). (default: 1)",
    ),
    debug: bool = typer.Option(
        False, "--debug", help="Debug mode: sets VELOCIPY_DEBUG=1 for the app. (default: off)"
    ),
    log_level: str | None = typer.Option(
        None,
        "--log-level",
        metavar="LEVEL",
        help=f"Server log level: {', '.join(LOG_LEVELS)}. (default: info)",
    ),
    access_log: bool | None = typer.Option(
        None, "--access-log/--no-access-log", help="Log every request. (default: --access-log)"
    ),
    https: bool | None = typer.Option(
        None,
        "--https/--no-https",
        help="Serve TLS (https://, wss://) with a certificate from a local development CA,"
        " made once per user; the banner says how to trust it. (default: --no-https)",
        show_default=False,
    ),
    env_file: Path | None = typer.Option(
        None,
        "--env-file",
        metavar="FILE",
        help="Load KEY=value lines into the app's environment (variables already set win); "
        "read once at start.",
        show_default=False,
    ),
    header_timeout: int | None = typer.Option(
        None,
        "--header-timeout",
        metavar="SECONDS",
        callback=between(1),
        help="With --no-reload: close a client whose request headers take longer. (default: 10)",
    ),
    body_timeout: int | None = typer.Option(
        None,
        "--body-timeout",
        metavar="SECONDS",
        callback=between(1),
        help="With --no-reload, on uvicorn: close a body slower than this plus 1 s per 8 KiB. "
        "(default: 30)",
    ),
    check: bool = typer.Option(
        False,
        "--check",
        help="Probe what the chosen server supports (subprotocols, close codes, deflate, early"
        " 413, backpressure) next to the app's routes that rely on it, then exit.",
    ),
    proxy: bool | None = typer.Option(
        None,
        "--proxy/--no-proxy",
        help="In reload mode, keep HTTP requests and WebSockets open across restarts through a"
        " small dev proxy (docs/dev-proxy.md). (default: --proxy)",
        show_default=False,
    ),
) -> None:
    """Serve the app for development; reload on every save, survive every broken save.

    APP is module:attr or path/to/file.py[:attr]; without it, the app setting of
    [tool.velocipy] in pyproject.toml, else the first of main.py, app.py, api.py found in the
    current folder, then in app/, then in the package named by [project] (PKG/ or src/PKG/).

    Options can also come from VELOCIPY_* environment variables and from [tool.velocipy] in
    pyproject.toml (the command line wins, then the environment, then pyproject).
    """
    cwd = Path.cwd()
    loaded = load_env_file(env_file) if env_file is not None else 0
    try:
        settings = load_project_settings(cwd)
    except SettingsError as exc:
        fail(str(exc), 2)
    short_interface = None if rsgi is None else ("rsgi" if rsgi else "asgi")
    if interface and short_interface and interface != short_interface:
        fail(f"--{short_interface} contradicts --interface {interface}; give one of them", 2)
    given: dict[str, object] = {
        "app": app_spec,
        "server": server,
        "interface": interface or short_interface,
        "host": host,
        "port": port,
        "reload": reload,
        "reload_dirs": [str(folder) for folder in reload_dirs or []] or None,
        "reload_includes": reload_includes or None,
        "reload_excludes": reload_excludes or None,
        "workers": workers,
        "debug": debug or None,
        "log_level": log_level.lower() if log_level else None,
        "access_log": access_log,
        "https": https,
        "header_timeout": header_timeout,
        "body_timeout": body_timeout,
        "proxy": proxy,
    }
    settings.update({key: value for key, value in given.items() if value is not None})
    app_given_by = "the APP argument" if app_spec else setting_source("app", cwd)
    config = build_config(settings, cwd, app_given_by or "the APP argument")
    if check:
        from velocipy_cli.dev.check import print_check

        raise typer.Exit(print_check(config.server, config.interface, config.location))
    try:
        listener = bind_listening_socket(config.host, config.port)
    except PortInUseError as exc:
        fail(str(exc), 1)
    except OSError as exc:
        fail(f"cannot listen on {config.host}:{config.port}: {exc.strerror or exc}", 1)
    config = replace(config, port=int(listener.getsockname()[1]))  # --port 0 picks one
    render_banner(config)
    if env_file is not None:  # names and values are not shown: they may be secrets
        plural = "" if loaded == 1 else "s"
        console.print(
            f"  [bold cyan]{'env':<7}[/]{escape(str(env_file))} ({loaded} variable{plural})",
            soft_wrap=True,
        )
    from velocipy_cli.dev.supervisor import Supervisor

    with listener:
        code = Supervisor(
            config, listener, TerminalEvents(config.project_root, reload=config.reload)
        ).run()
    raise typer.Exit(code)


def load_env_file(path: Path) -> int:
    """Put ``path``'s variables into this process's environment (inherited by the server);
    variables already set are kept. Returns how many the file holds; a bad file exits 2."""
    from velocipy.settings import SettingsError as FileError
    from velocipy.settings import read_env_file

    try:
        found = read_env_file(path)
    except OSError as exc:
        fail(f"--env-file {path}: cannot read it ({exc.strerror or exc})", 2)
    except FileError as exc:
        fail(f"--env-file {exc}", 2)
    for name, value in found.items():
        os.environ.setdefault(name, value)
    return len(found)


def build_config(
    settings: dict[str, object], cwd: Path, app_given_by: str = "the APP argument"
) -> DevServerConfig:
    """Validate the merged settings and find the app; usage errors exit with code 2."""
    from velocipy_cli.dev.supervisor import DevServerConfig

    if settings["log_level"] not in LOG_LEVELS:
        fail(
            f"--log-level must be one of {', '.join(LOG_LEVELS)}, not {settings['log_level']!r}", 2
        )
    workers = _int(settings["workers"])
    reload = bool(settings["reload"])
    if reload and workers > 1:
        fail(
            f"--reload runs a single worker; drop --workers {workers} or add --no-reload "
            "(settings from [tool.velocipy] or VELOCIPY_* count too)",
            2,
        )
    try:
        choice = choose_server(
            _optional_str(settings["server"]), _optional_str(settings["interface"])
        )
    except ServerChoiceError as exc:
        fail(str(exc), 2)
    app_spec = settings["app"]
    try:
        location = discover_app(app_spec if isinstance(app_spec, str) else None, cwd, app_given_by)
    except DiscoveryError as exc:
        fail(str(exc), 1)
    watch_dirs = [(cwd / folder).resolve() for folder in _strings(settings["reload_dirs"])]
    for folder in watch_dirs:
        if not folder.is_dir():
            fail(f"--reload-dir {folder} is not a folder", 2)
    if not watch_dirs:
        watch_dirs = [cwd.resolve()]
        if not location.import_root.resolve().is_relative_to(cwd.resolve()):
            watch_dirs.append(location.import_root.resolve())
    return DevServerConfig(
        location=location,
        project_root=cwd.resolve(),
        server=choice.server,
        interface=choice.interface,
        host=str(settings["host"]),
        port=_int(settings["port"]),
        reload=reload,
        watch_dirs=watch_dirs,
        reload_includes=_strings(settings["reload_includes"]),
        reload_excludes=_strings(settings["reload_excludes"]),
        workers=workers,
        log_level=str(settings["log_level"]),
        access_log=bool(settings["access_log"]),
        debug=bool(settings["debug"]),
        tls=_dev_certificate(str(settings["host"])) if settings["https"] else None,
        header_timeout=_int(settings["header_timeout"]),
        body_timeout=_int(settings["body_timeout"]),
        proxy=bool(settings.get("proxy", True)),
    )


def _dev_certificate(host: str) -> DevCertificate:
    from velocipy_cli.dev.tls import dev_certificate

    try:
        return dev_certificate(host)
    except OSError as exc:
        fail(f"--https: cannot write the development certificate: {exc.strerror or exc}", 1)


def _int(value: object) -> int:
    return value if isinstance(value, int) else int(str(value))


def _optional_str(value: object) -> str | None:
    return None if value is None else str(value)


def _strings(value: object) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list) else []


def describe_app(location: AppLocation) -> str:
    """The app the child will load: the attribute named, else the one its source shows (read,
    not imported), else the module (the "ready" line then names the attribute)."""
    attribute = location.attribute or attribute_in_source(location.source)
    if attribute:
        return f"{location.module}:{attribute}, {location.reason}"
    return (
        f"{location.module} (its app attribute, or its only VelociPy instance), {location.reason}"
    )


def banner_rows(config: DevServerConfig) -> list[tuple[str, str]]:
    """The banner's lines as (label, plain text); a new line is one ``rows.append``."""
    url_host = f"[{config.host}]" if ":" in config.host else config.host
    http, ws = ("https", "wss") if config.tls else ("http", "ws")
    url = f"{http}://{url_host}:{config.port}"
    rows = [
        ("app", describe_app(config.location)),
        ("server", f"{config.server} ({config.interface.upper()})"),
        ("url", f"{url}  (WebSocket: {ws}://{url_host}:{config.port})"),
    ]
    if config.debug:
        rows.append(
            ("debug", "on: VELOCIPY_DEBUG=1, unhandled errors re-raised; slow async handlers named")
        )
    if config.reload:
        from velocipy_cli.dev.watcher import WATCHED_DIRS

        folders = ", ".join(_shown(folder, config.project_root) for folder in config.watch_dirs)
        kinds = ", ".join(["*.py", ".env", *(f"{name}/" for name in sorted(WATCHED_DIRS))])
        rows.append(("reload", f"on: watching {folders} ({kinds})"))
        if config.proxied:
            rows.append(("proxy", "on: sockets and requests stay open across reloads (--no-proxy)"))
    else:
        plural = "s" if config.workers > 1 else ""
        rows.append(("reload", f"off ({config.workers} worker{plural})"))
    if config.tls:
        made = "made now" if config.tls.ca_created else "kept"
        rows.append(("tls", f"signed by the development CA {config.tls.ca} ({made})"))
        rows.append(
            ("trust", f"curl --cacert {config.tls.ca}; ws-probe trusts it already; browsers: "
             "import it as an authority (docs/cli.md)")
        )  # fmt: skip
    return rows


def render_banner(config: DevServerConfig) -> None:
    """The first screen: what is served, where, and what is watched."""
    rows = banner_rows(config)
    console.print("[bold]VelociPy dev server[/]", soft_wrap=True)
    for label, value in rows:
        console.print(f"  [bold cyan]{label:<7}[/]{escape(value)}", soft_wrap=True)
    for message in ServerChoice(config.server, config.interface).warnings:
        warning(message)


def _shown(path: Path, root: Path) -> str:
    if path == root:
        return "."
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)


class TerminalEvents:
    """Renders supervisor events: one line per reload, the error once per broken save."""

    def __init__(self, project_root: Path, *, reload: bool = True) -> None:
        self.project_root = project_root
        self.reload = reload

    def serving(self, seconds: float, app: str) -> None:
        serving = f": serving {escape(app)}" if app else ""
        console.print(f"[green]ready[/] in {seconds:.2f} s{serving}", soft_wrap=True)

    def reloading(self, changes: Sequence[Path]) -> None:
        """Nothing to say yet: :meth:`reloaded` or :meth:`app_failed` follows."""

    def reloaded(self, changes: Sequence[Path], seconds: float) -> None:
        console.print(
            f"[green]reloaded[/] in {seconds:.2f} s after changes to "
            f"{escape(self._files(changes))}",
            soft_wrap=True,
        )

    def app_failed(self, failure: AppFailure) -> None:
        err_console.print(
            Text.assemble(("error:", "bold red"), f" {failure.title}: {failure.summary}"),
            soft_wrap=True,
        )
        if failure.detail:
            err_console.print(failure.detail, style="dim", soft_wrap=True, markup=False)
        if self.reload:
            err_console.print(
                "[yellow]waiting for a change; until then requests get a 503 naming this error[/]",
                soft_wrap=True,
            )

    def stopping(self) -> None:
        console.print("stopping", style="dim", soft_wrap=True)

    def _files(self, changes: Sequence[Path]) -> str:
        names = [_shown(path, self.project_root) for path in changes[:3]]
        more = len(changes) - len(names)
        return ", ".join(names) + (f" and {more} more" if more > 0 else "")
