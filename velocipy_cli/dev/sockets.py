"""The listening socket the supervisor binds once, and who holds a port when binding fails."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

BACKLOG = 2048


@dataclass
class PortInUseError(Exception):
    """Binding failed because the address is taken; ``holder`` names the process when known."""

    host: str
    port: int
    holder: str | None
    next_free: int | None

    def __str__(self) -> str:
        held = f" by {self.holder}" if self.holder else ""
        hint = f"; try --port {self.next_free}" if self.next_free else ""
        return f"port {self.port} on {self.host} is already in use{held}{hint}"


def bind_listening_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket that children inherit (SO_REUSEADDR, like uvicorn)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortInUseError(
                host, port, find_port_holder(port), next_free_port(host, port)
            ) from None
        raise
    sock.listen(BACKLOG)
    sock.set_inheritable(True)
    return sock


def next_free_port(host: str, port: int, attempts: int = 50) -> int | None:
    """The first port after ``port`` that binds right now (it may be gone a moment later)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for candidate in range(port + 1, min(port + 1 + attempts, 65536)):
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((host, candidate))
            except OSError:
                continue
            return candidate
    return None


def find_port_holder(port: int) -> str | None:
    """ "python (pid 1234)" for the process listening on ``port``, when the OS tells us."""
    return _holder_from_proc(port) or _holder_from_ss(port)


def _listening_inodes(port: int) -> set[str]:
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                local, state, inode = fields[1], fields[3], fields[9]
                if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                    inodes.add(inode)
    return inodes


def _holder_from_proc(port: int) -> str | None:
    inodes = _listening_inodes(port)
    if not inodes:
        return None
    targets = {f"socket:[{inode}]" for inode in inodes}
    for pid_dir in Path("/proc").iterdir():
        if not pid_dir.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in (pid_dir / "fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) in targets:
                        return f"{_process_name(pid_dir)} (pid {pid_dir.name})"
    return None


def _process_name(pid_dir: Path) -> str:
    with contextlib.suppress(OSError):
        argv = (pid_dir / "cmdline").read_bytes().split(b"\0")
        words = [os.path.basename(part.decode(errors="replace")) for part in argv if part][:3]
        if words:
            return " ".join(words)
    with contextlib.suppress(OSError):
        return (pid_dir / "comm").read_text().strip()
    return "a process"


def _holder_from_ss(port: int) -> str | None:
    ss = shutil.which("ss")
    if ss is None:
        return None
    try:
        output = subprocess.run(
            [ss, "-Hltnp", f"sport = :{port}"], capture_output=True, text=True, timeout=3
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    marker = 'users:(("'
    if marker not in output:
        return None
    name, _, rest = output.split(marker, 1)[1].partition('"')
    pid = rest.split("pid=", 1)[1].split(",", 1)[0] if "pid=" in rest else "?"
    return f"{name} (pid {pid})"
