"""The contract between supervisor and child: a :class:`ChildSpec` passed as JSON on argv."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass

CHILD_MODULE = "velocipy_cli.dev.child"


@dataclass(frozen=True)
class ChildSpec:
    """Everything a child needs to import the app and serve it on an inherited socket."""

    module: str
    attribute: str | None
    import_root: str
    project_root: str
    server: str  # "uvicorn" | "granian" (velocipy_cli.dev.choice)
    interface: str  # "asgi" | "rsgi"
    host: str
    port: int
    socket_fd: int
    report_fd: int
    supervisor_pid: int
    workers: int = 1
    log_level: str = "info"
    access_log: bool = True
    debug: bool = False
    watch_loop: bool = False  # name handlers that keep the event loop busy (reload or --debug)
    app_reason: str = ""  # where the APP came from, for the "serving" line
    tls_cert: str | None = None  # --https: the server certificate chain and its key
    tls_key: str | None = None
    header_timeout: int | None = None  # seconds; None: the server's own (with --reload)
    body_timeout: int | None = None  # seconds; None: the server's own (with --reload)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ChildSpec:
        return cls(**json.loads(text))

    def argv(self) -> list[str]:
        """The command line that starts a child with this spec (same interpreter as the CLI)."""
        return [sys.executable, "-m", CHILD_MODULE, self.to_json()]
