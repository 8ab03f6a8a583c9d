"""Where the running VelociPy came from, written as the dependency line of a generated project.

The package index holds an unrelated project named ``velocipy``, so a generated project never
depends on the bare name: it names this framework by where it was installed from, read from the
installed distribution's PEP 610 ``direct_url.json`` (a clone, editable or not; a wheel or archive
file or URL; a VCS checkout). A source tree run without installing counts as a clone. When the
origin cannot be recorded (installed from an index, or the recorded file is gone), the line is a
direct reference that cannot resolve and whose path tells the reader what to do, so installing
stops with one clear line instead of fetching someone else's package.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from importlib.metadata import Distribution, PackageNotFoundError, distribution
from pathlib import Path
from urllib.parse import unquote, urlparse

DISTRIBUTION = "velocipy"
# pip's one-line error names this path when a project made by an unrecorded VelociPy is installed.
NOT_RECORDED_URL = "file:///velocipy-origin-unknown/install-velocipy-from-its-clone-or-wheel-first"


@dataclass(frozen=True)
class Origin:
    """Where VelociPy was installed from, and the requirement that installs it from there."""

    kind: str  # "clone" | "wheel" | "archive" | "vcs" | "unknown"
    url: str  # a direct-reference URL (for "unknown": NOT_RECORDED_URL)
    note: str  # one line for a person: where it came from, or why it is unknown

    @property
    def recorded(self) -> bool:
        return self.kind != "unknown"

    @property
    def requirement(self) -> str:
        """The PEP 508 line for ``[project].dependencies``."""
        return f"{DISTRIBUTION} @ {self.url}"


def velocipy_origin() -> Origin:
    """The origin of the VelociPy this code belongs to."""
    here = Path(__file__).resolve().parent  # .../velocipy_cli
    dist = _our_distribution(here)
    if dist is None:
        return _source_tree(here.parent) or _unknown(
            "this VelociPy is neither an installed distribution nor a source tree"
        )
    text = dist.read_text("direct_url.json")
    if not text:
        return _unknown(f"velocipy {dist.version} was installed from a package index")
    return _from_direct_url(json.loads(text))


def _our_distribution(package_dir: Path) -> Distribution | None:
    """The installed ``velocipy`` distribution, if it is the one that holds this package.

    An editable install (PEP 660) does not list our files; its direct_url.json points at the
    tree this package lives in.
    """
    try:
        dist = distribution(DISTRIBUTION)
    except PackageNotFoundError:
        return None
    for file in dist.files or ():
        if file.parts[:1] == ("velocipy_cli",) and file.name == "__init__.py":
            located = Path(str(dist.locate_file(file))).resolve().parent
            return dist if located == package_dir else None
    text = dist.read_text("direct_url.json")
    if text:
        url = json.loads(text).get("url", "")
        local = _local_path(url)
        if local is not None and package_dir.is_relative_to(local.resolve()):
            return dist
    return None


def _from_direct_url(info: dict[str, object]) -> Origin:
    url = str(info.get("url", ""))
    local = _local_path(url)
    if isinstance(info.get("vcs_info"), dict):
        vcs = info["vcs_info"]
        assert isinstance(vcs, dict)
        commit = vcs.get("commit_id")
        reference = f"{vcs.get('vcs', 'git')}+{url}" + (f"@{commit}" if commit else "")
        return Origin("vcs", reference, f"installed from {reference}")
    if local is not None and not local.exists():
        return _unknown(f"velocipy was installed from {local}, which no longer exists")
    if "dir_info" in info:
        editable = isinstance(info["dir_info"], dict) and info["dir_info"].get("editable")
        how = "an editable install of the clone" if editable else "installed from the clone"
        return Origin("clone", url, f"{how} at {local or url}")
    kind = "wheel" if url.endswith(".whl") else "archive"
    return Origin(kind, url, f"installed from {local or url}")


def _source_tree(root: Path) -> Origin | None:
    """A checkout run without installing (``python -m velocipy_cli`` from the clone)."""
    try:
        with (root / "pyproject.toml").open("rb") as stream:
            name = tomllib.load(stream).get("project", {}).get("name")
    except (OSError, tomllib.TOMLDecodeError):
        return None
    if name != DISTRIBUTION:
        return None
    return Origin("clone", root.as_uri(), f"the source tree at {root}")


def _unknown(reason: str) -> Origin:
    return Origin("unknown", NOT_RECORDED_URL, reason)


def _local_path(url: str) -> Path | None:
    parsed = urlparse(url)
    if parsed.scheme != "file":
        return None
    return Path(unquote(parsed.path))
