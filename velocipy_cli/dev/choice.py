"""Which server runs the app, through which interface: the one place that decides it.

Three combinations exist: uvicorn speaks ASGI; granian speaks RSGI (its native interface and its
own default) and ASGI. ``--rsgi`` / ``--asgi`` are short forms of ``--interface``; a server given
alone gets its natural interface, an interface given alone gets the server that speaks it.
"""

from __future__ import annotations

from dataclasses import dataclass

SERVERS = ("uvicorn", "granian")
INTERFACES = ("asgi", "rsgi")

# server -> interfaces it can serve, the first being what it serves when none is asked for
SERVER_INTERFACES: dict[str, tuple[str, ...]] = {
    "uvicorn": ("asgi",),
    "granian": ("rsgi", "asgi"),
}
DEFAULT_SERVER = "uvicorn"


class ServerChoiceError(ValueError):
    """The server cannot serve the interface asked for."""


@dataclass(frozen=True)
class ServerChoice:
    """A server and the interface it serves the app through."""

    server: str  # "uvicorn" | "granian"
    interface: str  # "asgi" | "rsgi"

    @property
    def label(self) -> str:
        """How the banner names it: ``granian (ASGI)``."""
        return f"{self.server} ({self.interface.upper()})"

    @property
    def warnings(self) -> tuple[str, ...]:
        """What this server cannot do that an app may count on (said once, at start-up)."""
        return (RSGI_STREAM_WARNING,) if self.interface == "rsgi" else ()


# granian 2.8 gives RSGI streams an unbounded channel: send_bytes never waits for the client.
RSGI_STREAM_WARNING = (
    "granian's RSGI interface cannot slow a streamed response down for a client that stops "
    "reading: the worker keeps everything the stream produces in memory. Serve large or fast "
    "streams with --interface asgi (docs/servers.md, 'Slow readers and streamed responses')"
)


def choose_server(server: str | None, interface: str | None) -> ServerChoice:
    """Complete a partial choice; ``None`` means "not given anywhere"."""
    if server is None:
        server = next(
            (name for name in SERVERS if interface in SERVER_INTERFACES[name]), DEFAULT_SERVER
        )
    if server not in SERVER_INTERFACES:
        raise ServerChoiceError(f"server must be one of {', '.join(SERVERS)}, not {server!r}")
    offered = SERVER_INTERFACES[server]
    if interface is None:
        interface = offered[0]
    if interface not in offered:
        others = [name for name in SERVERS if interface in SERVER_INTERFACES[name]]
        hint = f"; use --server {others[0]}" if others else ""
        raise ServerChoiceError(
            f"{server} cannot serve the {interface.upper()} interface "
            f"(it serves {', '.join(i.upper() for i in offered)}){hint}"
        )
    return ServerChoice(server, interface)
