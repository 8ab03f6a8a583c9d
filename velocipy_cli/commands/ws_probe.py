"""The `velocipy ws-probe` command: parse options, then hand over to velocipy_cli.probe."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer

from velocipy_cli.console import configure, console, err_console, error, fail
from velocipy_cli.help import PlainHelpCommand
from velocipy_cli.probe.options import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_SIZE,
)
from velocipy_cli.ranges import between

if TYPE_CHECKING:
    from velocipy.testing.transcripts import Transcript

# PERF: the probe itself (websockets, rich's renderers, the test client's transcripts) is
# imported inside the command, so `velocipy --help` and the other commands never load it.
USAGE_EXIT = 2  # ExitCode.USAGE, without importing the probe

LOAD_DURATION = 10.0  # --duration's default, seconds
REPLAY_REPLY_TIMEOUT = 5.0  # --replay: seconds to wait for each recorded reply by default

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
    target: str | None = typer.Argument(
        None,
        metavar="TARGET",
        help="A path like /ws, or a ws:// or wss:// URL (--replay: the recorded one by default).",
        show_default=False,
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
        False,
        "--json",
        help="Send each line only if it is valid JSON (with --clients: print the summary as"
        " one JSON object).",
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
    record: Path | None = typer.Option(
        None,
        "--record",
        metavar="FILE",
        help="Keep a transcript: the --jsonl records, written to FILE as they happen.",
        show_default=False,
    ),
    replay: Path | None = typer.Option(
        None,
        "--replay",
        metavar="FILE",
        help="Send a transcript's messages in order and check each reply matches (exit 3 with"
        " a diff when one does not).",
        show_default=False,
    ),
    ignore: list[str] = typer.Option(
        [],
        "--ignore",
        metavar="KEY",
        help="--replay: leave this JSON key out of the comparison, at any depth (repeatable).",
        show_default=False,
    ),
    clients: int | None = typer.Option(
        None,
        "--clients",
        metavar="N",
        callback=between(1, 100_000),
        help="Load mode: open N connections that each send the --send message (default"
        " 'ping') and wait for a reply, then print rate, latency and close codes.",
    ),
    rate: float = typer.Option(
        0.0,
        "--rate",
        metavar="PER_SECOND",
        callback=between(0.0),
        help="Load mode: messages per second across all clients; 0 sends as fast as replies"
        " come. (default: 0)",
        show_default=False,
    ),
    duration: float = typer.Option(
        LOAD_DURATION,
        "--duration",
        metavar="SECONDS",
        callback=between(0.1),
        help=f"Load mode: how long to send. (default: {LOAD_DURATION:g})",
        show_default=False,
    ),
) -> None:
    configure(color=not no_color)
    from velocipy_cli.probe.actions import InputError, parse_line
    from velocipy_cli.probe.outcomes import ExitCode, UsageError
    from velocipy_cli.probe.runner import ProbeOptions, run_probe
    from velocipy_cli.probe.targets import (
        check_origin,
        check_subprotocol,
        parse_header,
        resolve_target,
    )

    if clients is not None:
        _load(target, host, port, clients, rate, duration, send, json_only, headers=header,
              subprotocols=subprotocol, origin=origin, connect_timeout=connect_timeout,
              insecure=insecure, replay=replay, record=record)  # fmt: skip
    transcript = _load_replay(replay, send=send, ignore=ignore) if replay else None
    interactive = not send and transcript is None and sys.stdin.isatty()
    if target is None:
        if transcript is None or transcript.url is None:
            _missing_target()
        target = transcript.url
    if record is not None and not record.parent.is_dir():
        fail(f"--record {record}: the folder {record.parent} does not exist", ExitCode.USAGE)
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
        record=record,
        replay=transcript,
        ignore=tuple(ignore),
    )
    if transcript is not None and idle_timeout is None:
        options = dataclasses.replace(options, idle_timeout=REPLAY_REPLY_TIMEOUT)
    raise typer.Exit(int(run_probe(options)))


def _load(
    target: str | None,
    host: str | None,
    port: int | None,
    clients: int,
    rate: float,
    duration: float,
    send: list[str],
    summary_json: bool,
    *,
    headers: list[str],
    subprotocols: list[str],
    origin: str | None,
    connect_timeout: float,
    insecure: bool,
    replay: Path | None,
    record: Path | None,
) -> NoReturn:
    """Load mode: check its options, run it, print the summary, exit 0 when it ran clean."""
    from velocipy_cli.probe.actions import InputError, SendBinary, SendText, parse_line
    from velocipy_cli.probe.load import run_load, run_loop
    from velocipy_cli.probe.options import ProbeOptions
    from velocipy_cli.probe.outcomes import ExitCode, UsageError
    from velocipy_cli.probe.rendering import load_summary_view
    from velocipy_cli.probe.targets import (
        check_origin,
        check_subprotocol,
        parse_header,
        resolve_target,
    )

    if replay is not None or record is not None:
        fail("--clients is load mode: it cannot --record or --replay", ExitCode.USAGE)
    if len(send) > 1:
        fail("--clients sends one message over and over: give --send once", ExitCode.USAGE)
    if target is None:
        _missing_target()
    try:
        action = parse_line(send[0] if send else "ping", json_only=False)
        resolved = resolve_target(target, host=host, port=port, project_dir=Path.cwd())
        options = ProbeOptions(
            url=resolved.url,
            url_source=resolved.source,
            headers=tuple(parse_header(raw) for raw in headers),
            subprotocols=tuple(check_subprotocol(name) for name in subprotocols),
            origin=check_origin(origin) if origin is not None else None,
            connect_timeout=connect_timeout,
            insecure=insecure,
        )
    except (InputError, UsageError) as exc:
        fail(f"--send: {exc}" if isinstance(exc, InputError) else exc.message, ExitCode.USAGE)
    if not isinstance(action, SendText | SendBinary):
        fail("--clients sends a message: --send takes text or /bin, not a command", 2)
    payload = action.text if isinstance(action, SendText) else action.data
    stats = run_loop(
        run_load(options, clients=clients, rate=rate, duration=duration, payload=payload)
    )
    summary = stats.summary()
    if summary_json:
        console.out(json.dumps(summary), highlight=False)
    else:
        console.print(load_summary_view(summary), soft_wrap=True)
    raise typer.Exit(ExitCode.OK if stats.clean else ExitCode.FAILURE)


def _missing_target() -> NoReturn:
    """What click says of a missing argument, in the CLI's one-line style, plus the usage line
    (TARGET is optional only because --replay can take the recorded one)."""
    error("missing TARGET (see 'velocipy ws-probe -h')")
    err_console.print("usage: velocipy ws-probe [OPTIONS] [TARGET]", highlight=False)
    raise typer.Exit(USAGE_EXIT)


def _load_replay(path: Path, *, send: list[str], ignore: list[str]) -> Transcript:
    """The transcript to replay, or a one-line usage error."""
    from velocipy.testing.transcripts import TranscriptError, load_transcript

    if send:
        fail("--replay sends the transcript's messages: leave out --send", USAGE_EXIT)
    try:
        return load_transcript(path)
    except TranscriptError as exc:
        fail(f"--replay {path}: {exc}", USAGE_EXIT)


def register(app: typer.Typer) -> None:
    """Attach this command to the `velocipy` Typer app."""
    app.command(
        "ws-probe",
        help=HELP,
        short_help="Talk to a WebSocket, interactively or from a script.",
        no_args_is_help=False,  # "missing TARGET" and one usage line, not the whole help
        cls=PlainHelpCommand,
    )(ws_probe)
