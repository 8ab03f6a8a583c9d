"""No orphans: a dev child exits (with its whole process group) when its supervisor dies."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
import time

ORPHAN_GRACE_SECONDS = 3.0
_PR_SET_PDEATHSIG = 1


def exit_with_supervisor(supervisor_pid: int) -> None:
    """Make this process (and its process group) go away when the supervisor does.

    On Linux the kernel sends SIGTERM on parent death (PR_SET_PDEATHSIG); everywhere a daemon
    thread also polls the parent pid, and if a graceful stop takes too long it kills the group.
    """
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM))
    if os.getppid() != supervisor_pid:  # it died before the guard was armed
        os._exit(1)
    threading.Thread(
        target=_watch_parent, args=(supervisor_pid,), name="velocipy-parent-watch", daemon=True
    ).start()


def _watch_parent(supervisor_pid: int) -> None:
    while os.getppid() == supervisor_pid:
        time.sleep(0.25)
    with contextlib.suppress(OSError):
        os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(ORPHAN_GRACE_SECONDS)
    with contextlib.suppress(OSError):
        os.killpg(os.getpgrp(), signal.SIGKILL)
    os._exit(1)
