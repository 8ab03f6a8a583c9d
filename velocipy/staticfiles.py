"""Serve a directory of files, and join user-named paths to a root safely.

``app.mount("/static", StaticFiles(directory="static"), name="static")`` serves every file
under ``static/``; ``safe_join(root, name)`` is the same check for handlers that send
user-named files with :class:`~velocipy.responses.FileResponse`.

A name is refused before any filesystem call when it could leave the root however the OS reads
it (``..``, NUL, a backslash, an absolute or drive path); what remains is resolved with
``os.path.realpath`` and must stay inside the (resolved) root, compared with
``os.path.commonpath``. Missing and refused files get the same 404, so a client cannot tell
them apart.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import stat
from typing import Final

from velocipy.exceptions import HTTPException
from velocipy.requests import Request
from velocipy.responses import FileResponse, RedirectResponse, Response

__all__ = ["StaticFiles", "safe_join"]

NOT_FOUND_DETAIL: Final = "File not found"  # the same text FileResponse gives a missing file
_DRIVE = re.compile(r"^[A-Za-z]:")  # C:, C:foo: absolute (or drive-relative) on Windows
_READ_METHODS: Final = ("GET", "HEAD")
# What os.stat says when a client named something that is not there: a 404, not an error.
_NOT_THERE: Final = frozenset({errno.ENOENT, errno.ENOTDIR, errno.ENAMETOOLONG})
logger = logging.getLogger("velocipy")


def _is_unsafe(name: str) -> bool:
    """Whether ``name`` could leave its root on some OS (checked on the text alone)."""
    if not name:
        return False
    if name.startswith("/") or "\\" in name or "\0" in name or _DRIVE.match(name):
        return True
    return ".." in name.split("/")


def resolve_inside(root: str, name: str, *, follow_symlinks: bool = False) -> str | None:
    """The real path of ``name`` under the directory ``root``, or ``None`` if it would leave it.

    ``root`` should already be absolute and resolved (``os.path.realpath``). With
    ``follow_symlinks=True`` a symlink inside the root may point anywhere (the link itself is
    what is checked); otherwise the target must be inside the root too.
    """
    if _is_unsafe(name):
        return None
    joined = os.path.join(root, name)
    full = os.path.abspath(joined) if follow_symlinks else os.path.realpath(joined)
    try:
        inside = os.path.commonpath([root, full]) == root
    except ValueError:
        return None
    return full if inside else None


def safe_join(directory: str | os.PathLike[str], *names: str, follow_symlinks: bool = False) -> str:
    """``directory`` joined with ``names`` (each ``/``-separated), refusing to leave it.

    Raises ``HTTPException(404)`` (the same answer as a missing file) for ``..``, NUL,
    backslashes, absolute or drive paths, and symlinks pointing out of ``directory``::

        return FileResponse(safe_join("uploads", name))
    """
    root = os.path.realpath(directory)
    name = "/".join(names)
    resolved = resolve_inside(root, name, follow_symlinks=follow_symlinks)
    if resolved is None:
        raise HTTPException(404, NOT_FOUND_DETAIL)
    return resolved


class StaticFiles:
    """Files under ``directory``, for :meth:`~velocipy.VelociPy.mount`.

    Answers GET and HEAD (405 otherwise) with a :class:`~velocipy.responses.FileResponse`, so
    content type, ``ETag`` / ``Last-Modified`` with 304, and ``Range`` with 206 / 416 come with
    it, sent natively by the server. With ``html=True`` a directory serves its ``index.html``
    (a request without the trailing slash is redirected to it) and a missing file serves
    ``404.html`` when the directory has one. ``follow_symlinks=True`` lets symlinks inside the
    directory point outside it.
    """

    def __init__(
        self,
        *,
        directory: str | os.PathLike[str],
        html: bool = False,
        follow_symlinks: bool = False,
        check_dir: bool = True,
    ) -> None:
        self.directory = os.path.realpath(directory)
        self.html = html
        self.follow_symlinks = follow_symlinks
        if check_dir and not os.path.isdir(self.directory):
            raise RuntimeError(
                f"StaticFiles directory {os.fspath(directory)!r} does not exist "
                f"(resolved to {self.directory!r}); create it or pass check_dir=False"
            )

    def __call__(self, request: Request) -> Response:
        if request.method not in _READ_METHODS:
            raise HTTPException(405, headers={"allow": ", ".join(_READ_METHODS)})
        name = request.path_params.get("path", "")
        found = self._lookup(name)
        if found is not None:
            full, info = found
            if not stat.S_ISDIR(info.st_mode):
                if not name.endswith("/"):  # "hello.txt/" names a directory: there is none
                    return FileResponse(full, stat_result=info)
            elif self.html:
                if name and not name.endswith("/"):
                    # request.path starts with the mount's prefix: never "//"
                    return RedirectResponse(request.path + "/", 307)
                index = self._lookup(f"{name}index.html")
                if index is not None and stat.S_ISREG(index[1].st_mode):
                    return FileResponse(index[0], stat_result=index[1])
        if self.html:
            page = self._lookup("404.html")
            if page is not None and stat.S_ISREG(page[1].st_mode):
                return FileResponse(page[0], 404, stat_result=page[1])
        raise HTTPException(404, NOT_FOUND_DETAIL)

    def _lookup(self, name: str) -> tuple[str, os.stat_result] | None:
        full = resolve_inside(self.directory, name, follow_symlinks=self.follow_symlinks)
        if full is None:
            return None
        try:
            return full, os.stat(full)
        except ValueError:  # a name the OS cannot take
            return None
        except OSError as exc:
            if exc.errno in _NOT_THERE:
                return None
            # The file is there but the disk or the tree is broken (EIO, a symlink loop, a
            # timeout on a network mount): the operator must hear of it, the client gets 500.
            logger.error(
                "static file %r could not be read: [Errno %s] %s", full, exc.errno, exc.strerror
            )
            raise HTTPException(500, "The file could not be read") from None

    def __repr__(self) -> str:
        return f"StaticFiles(directory={self.directory!r}, html={self.html})"
