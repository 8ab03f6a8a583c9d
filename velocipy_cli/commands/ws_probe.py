"""The `velocipy ws-probe` command: parse options, then hand over to velocipy_cli.probe."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from velocipy_cli.console import configure, fail
from velocipy_cli.help import PlainHelpCommand
from velocipy_cli.probe import ExitCode, ProbeOptions, run_probe
from velocipy_cli.probe.actions import InputError, parse_line
from velocipy_cli.probe.options import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_SIZE,
)
from velocipy_cli.probe.outcomes import UsageError
from velocipy_cli.probe.targets import check_origin, check_subprotocol, parse_header, resolve_target
from velocipy_cli.ranges import between

# click reflows each paragraph, so a paragraph is one string.
HELP = "\n\n".join(
    (
        "Talk to a WebSocket endpoint, interactively or from a script.",
        "TARGET is a path such as /ws or /rooms/42?x=1, joined to --host and --port, else to the"
        " host and port `velocipy run` would use (VELOCIPY_HOST/VELOCIPY_PORT, then"
        " [tool.velocipy] in pyproject.toml), else to 127.0.0.1:8000; or a full ws:// or wss://"
        " URL (http:// and"
        " https:// URLs are taken as ws:// and wss://).",
        "In a terminal you get a prompt: each line is sent as a text frame; /help lists the slash"
        " commands (/json, /bin, /file, /ping, /close, /headers, /help, /quit; // sends a line"
        " starting with /). History is kept in $VELOCIPY_PROBE_HISTORY, else $XDG_STATE_HOME"
        "/velocipy/ws-probe-history, else ~/.local/state/velocipy/ws-probe-history.",
        "When stdin is not a terminal, or --send is given, each input line (or --send value) is"
        " sent in order, with the same slash commands, and the probe exits once input has ended"
        " and either --expect messages arrived or nothing happened for --idle-timeout seconds.",
        "--jsonl prints one JSON object per line: event (open, sent, received, pong, close) and"
        " time (Unix seconds); open adds url and subprotocol; sent and received add type (text or"
        " binary), size (bytes), text for text frames, json when that text is a JSON object or"
        " array, and base64 for binary frames; pong adds rtt_ms; close adds code, name, reason"
        " and initiator (server, client, or nobody when the connection dropped: 1006).",
        "Exit status: 0 normal close or done (the server's 1000, 1001, 1005 or 3000-4999, or"
        " your own close), 1 connection or protocol error (any other close code, a dropped"
        " connection, a message over --max-size), 2 usage error, 3 --expect not met in time."
        " On RSGI (granian) every server close arrives as 1005 and exits 0.",
    )
)


def ws_probe(
    target: str = typer.Argument(
        ..., metavar="TARGET", help="A path like /ws, or a ws:// or wss:// URL.", show_default=False
    ),
    host: str | None = typer.Option(
        None, "--host", metavar="HOST", help="Host for a path TARGET. (default: 127.0.0.1)"
    ),
    port: int | None = typer.Option(
        None,
        "--port",
        metavar="PORT",
        callback=between(1, 65535),
        help="Port for a path TARGET. (default: 8000)",
    ),
    header: list[str] = typer.Option(
        [],
        "-H",
        "--header",
        metavar="'NAME: VALUE'",
        help="Handshake header (repeatable).",
        show_default=False,
    ),
    subprotocol: list[str] = typer.Option(
        [],
        "-s",
        "--subprotocol",
        metavar="NAME",
        help="Offer this subprotocol (repeatable, in order).",
        show_default=False,
    ),
    origin: str | None = typer.Option(
        None, "--origin", metavar="URL", help="Origin header, e.g. http://localhost:3000."
    ),
    connect_timeout: float = typer.Option(
        DEFAULT_CONNECT_TIMEOUT,
        "--connect-timeout",
        metavar="SECONDS",
        callback=between(0.1),
        help=f"Seconds to wait for the handshake. (default: {DEFAULT_CONNECT_TIMEOUT:g})",
        show_default=False,
    ),
    insecure: bool = typer.Option(
        False, "--insecure", help="wss://: accept self-signed certificates."
    ),
    json_only: bool = typer.Option(
        False, "--json", help="Send each line only if it is valid JSON."
    ),
    no_color: bool = typer.Option(False, "--no-color", help="Plain output without colours."),
    timestamps: bool = typer.Option(
        True,
        "--timestamps/--no-timestamps",
        help="Show frame times. (default: --timestamps)",
        show_default=False,
    ),
    max_size: int = typer.Option(
        DEFAULT_MAX_SIZE,
        "--max-size",
        metavar="BYTES",
        callback=between(0),
        help=f"Largest incoming message, 0 for no limit. (default: {DEFAULT_MAX_SIZE})",
        show_default=False,
    ),
    send: list[str] = typer.Option(
        [],
        "--send",
        metavar="LINE",
        help="Send this line (repeatable); implies scripted mode.",
        show_default=False,
    ),
    expect: int | None = typer.Option(
        None,
        "--expect",
        metavar="N",
        callback=between(1),
        help="Scripted: wait for this many incoming messages.",
    ),
    idle_timeout: float | None = typer.Option(
        None,
        "--idle-timeout",
        metavar="SECONDS",
        callback=between(0.0),
        help="Scripted: seconds of quiet, after input ends, before exiting. "
        f"(default: {DEFAULT_IDLE_TIMEOUT:g})",
    ),
    jsonl: bool = typer.Option(
        False,
        "--jsonl",
        help="One JSON object per event on stdout (open, sent, received, pong, close).",
    ),
    reconnect: bool = typer.Option(
        False, "--reconnect", help="Reconnect with backoff when the server restarts."
    ),
) -> None:
    configure(color=not no_color)
    interactive = not send and sys.stdin.isatty()
    try:
        resolved = resolve_target(target, host=host, port=port, project_dir=Path.cwd())
        headers = tuple(parse_header(raw) for raw in header)
        subprotocols = tuple(check_subprotocol(name) for name in subprotocol)
        checked_origin = check_origin(origin) if origin is not None else None
    except UsageError as exc:
        fail(exc.message, ExitCode.USAGE)
    if interactive and (expect is not None or idle_timeout is not None):
        fail("--expect and --idle-timeout are for scripted mode: pipe input or use --send", 2)
    for value in send:  # check every --send value before connecting
        try:
            parse_line(value, json_only=json_only)
        except InputError as exc:
            fail(f"--send {value!r}: {exc}", ExitCode.USAGE)
    options = ProbeOptions(
        url=resolved.url,
        url_source=resolved.source,
        headers=headers,
        subprotocols=subprotocols,
        origin=checked_origin,
        connect_timeout=connect_timeout,
        insecure=insecure,
        json_only=json_only,
        timestamps=timestamps,
        max_size=max_size or None,
        interactive=interactive,
        sends=tuple(send),
        expect=expect,
        idle_timeout=DEFAULT_IDLE_TIMEOUT if idle_timeout is None else idle_timeout,
        jsonl=jsonl,
        reconnect=reconnect,
    )
    raise typer.Exit(int(run_probe(options)))


def register(app: typer.Typer) -> None:
    """Attach this command to the `velocipy` Typer app."""
    app.command(
        "ws-probe",
        help=HELP,
        short_help="Talk to a WebSocket, interactively or from a script.",
        no_args_is_help=False,  # "missing TARGET" and one usage line, not the whole help
        cls=PlainHelpCommand,
    )(ws_probe)
