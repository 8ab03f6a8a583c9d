"""The dev child: import the app, then serve it on the socket the supervisor bound.

Run as ``python -m velocipy_cli.dev.child SPEC_JSON``. It reports ``ready`` or ``failed`` to the
supervisor (see :mod:`velocipy_cli.dev.reports`) and exits when its supervisor dies, so a killed
``velocipy run`` never leaves a server behind.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from velocipy_cli.dev.launch import ChildSpec
from velocipy_cli.dev.orphans import exit_with_supervisor
from velocipy_cli.dev.reports import AppFailure, Report, send_report
from velocipy_cli.discovery import AppLocation, DiscoveryError, LoadedApp, load_app

EXIT_APP_FAILED = 3


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv if argv is None else argv
    spec = ChildSpec.from_json(argv[1])
    exit_with_supervisor(spec.supervisor_pid)
    prepare_server(spec.server)
    if not sys.stdin.buffer.readline():  # the supervisor shut down before it needed us
        return 0
    # stdin stays open until the supervisor has shown "ready"; a copy of it, because server
    # workers (multiprocessing) replace their fd 0 with /dev/null.
    acknowledgement_fd = os.dup(sys.stdin.fileno())
    if spec.debug:
        os.environ["VELOCIPY_DEBUG"] = "1"
    if spec.watch_loop:
        os.environ["VELOCIPY_WATCH_LOOP"] = "1"
    loaded = import_app(spec)
    if loaded is None:
        return EXIT_APP_FAILED
    from velocipy_cli.dev.servers import serve

    return serve(loaded, spec, acknowledgement_fd)


def prepare_server(server: str) -> None:
    """Import the server before being told to go, so a reload only pays for the app's import.

    Only the server and this package: the user's code, and the framework it may be editing,
    are imported after the go, so they are always fresh.
    """
    if server == "granian":
        import granian.server  # noqa: F401
    else:
        import uvicorn.server  # noqa: F401
    import velocipy_cli.dev.servers  # noqa: F401


def import_app(spec: ChildSpec) -> LoadedApp | None:
    """The loaded app, or None after reporting why it could not be imported."""
    location = AppLocation(
        spec.module, spec.attribute, Path(spec.import_root), None, spec.app_reason
    )
    try:
        return load_app(location)
    except DiscoveryError as exc:
        failure = AppFailure("import", str(exc))
    except BaseException as exc:  # the user's module may raise anything, SystemExit included
        failure = AppFailure.from_exception(exc, "import", Path(spec.project_root))
    send_report(spec.report_fd, Report("failed", failure))
    return None


if __name__ == "__main__":
    sys.exit(main())
