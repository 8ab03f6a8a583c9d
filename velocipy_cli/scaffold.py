"""List and render the project templates behind ``velocipy new`` (plain logic, no typer/rich).

A template is a folder under ``templates/`` holding a ``template.toml`` manifest and the files of
the project to create. Placeholders ``{{ name }}`` are substituted in file and folder names and in
the contents of files ending in ``.tmpl`` (the suffix is dropped); every other file is copied byte
for byte. Rendering goes to a temporary folder next to the target and is moved into place at the
end, so a failure leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import keyword
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from velocipy_cli.origin import velocipy_origin

DEFAULT_TEMPLATE = "minimal"
MANIFEST_NAME = "template.toml"
BASE_LAYER = "_base"  # files every template gets (a template's own file of the same path wins)
RENDERED_SUFFIX = ".tmpl"
Server = Literal["asgi", "rsgi"]
SERVERS: tuple[Server, ...] = ("asgi", "rsgi")

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
# PEP 508 distribution names: letters, digits, and . _ - inside (not at either end).
_DISTRIBUTION_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$")
_SKIPPED_NAMES = frozenset({MANIFEST_NAME, "__pycache__", ".DS_Store"})
# Package names that would shadow something a generated project imports (or is tested with).
_RESERVED_PACKAGES = frozenset(
    {
        "velocipy", "velocipy_cli", "test", "tests", "msgspec", "orjson", "uvicorn", "granian",
        "websockets", "typer", "rich", "click", "watchfiles", "pytest", "anyio", "h11",
        "httptools", "uvloop", "setuptools", "pip", "hatchling", "templates",
    }
)  # fmt: skip
_SERVER_LABELS = {
    "asgi": "dev server: ASGI on uvicorn, reloads",
    "rsgi": "dev server: RSGI on granian, reloads",
}
_GIT_TIMEOUT = 30.0
_FALLBACK_AUTHOR = {"name": "VelociPy", "email": "velocipy@localhost"}


class ScaffoldError(Exception):
    """Something prevented the project from being created; the message is one line for a user."""


class UsageError(ScaffoldError):
    """The request itself is wrong (bad name, unknown template): the CLI exits with code 2."""


@dataclass(frozen=True)
class TemplateInfo:
    """One template folder and what its manifest says about it."""

    name: str
    description: str
    path: Path
    order: int = 100
    websocket_path: str | None = None
    # commands to type after installing, before running: (command, comment), e.g. migrations
    setup: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ProjectSpec:
    """Everything needed to render one project."""

    name: str
    package: str
    template: TemplateInfo
    target: Path
    server: Server = "asgi"

    def context(self) -> dict[str, str]:
        """The placeholder values every template may use."""
        module = f"{self.package}.main:app"
        if self.server == "rsgi":
            serve_command = f"granian --interface rsgi {module}"
        else:
            serve_command = f"uvicorn {module}"
        origin = velocipy_origin()
        return {
            "name": self.name,
            "package": self.package,
            "module": module,
            "server": self.server,
            # `velocipy run` takes the app and the interface from [tool.velocipy] in pyproject.toml
            "run_command": "velocipy run",
            "serve_command": serve_command,
            "velocipy_requirement": origin.requirement,
            "velocipy_origin": origin.note,
        }


@dataclass
class ScaffoldResult:
    """What ``create_project`` did: files written (relative to the target) and files kept."""

    target: Path
    created: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)
    git_commit: bool = False
    git_note: str | None = None


# --- templates ---------------------------------------------------------------------------------


def template_roots() -> list[Path]:
    """Where templates may live: inside the installed package first, then the source checkout."""
    here = Path(__file__).resolve().parent
    return [here / "templates", here.parent / "templates"]


def templates_root() -> Path:
    """The first template folder that holds at least one template."""
    for root in template_roots():
        if root.is_dir() and any(root.glob(f"*/{MANIFEST_NAME}")):
            return root
    searched = ", ".join(str(root) for root in template_roots())
    raise ScaffoldError(f"no project templates found (looked in {searched}); reinstall velocipy")


def load_template(path: Path) -> TemplateInfo:
    """Read one template's manifest."""
    manifest = path / MANIFEST_NAME
    try:
        data = tomllib.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ScaffoldError(f"template manifest {manifest} is unreadable: {exc}") from exc
    description = data.get("description")
    if not isinstance(description, str) or not description.strip():
        raise ScaffoldError(f"template manifest {manifest} needs a one-line `description`")
    order = data.get("order", 100)
    websocket_path = data.get("websocket_path")
    setup = data.get("setup", [])
    if not isinstance(setup, list) or not all(
        isinstance(step, list) and len(step) == 2 and all(isinstance(p, str) for p in step)
        for step in setup
    ):
        raise ScaffoldError(f"template manifest {manifest}: `setup` is a list of [command, note]")
    return TemplateInfo(
        name=path.name,
        description=description.strip(),
        path=path,
        order=order if isinstance(order, int) else 100,
        websocket_path=websocket_path if isinstance(websocket_path, str) else None,
        setup=tuple((command, note) for command, note in setup),
    )


def list_templates(root: Path | None = None) -> list[TemplateInfo]:
    """Every template under ``root`` (default: :func:`templates_root`), in display order."""
    root = root or templates_root()
    found = [load_template(path.parent) for path in root.glob(f"*/{MANIFEST_NAME}")]
    return sorted(found, key=lambda info: (info.order, info.name))


def find_template(name: str, root: Path | None = None) -> TemplateInfo:
    """The template called ``name``, or a usage error listing the ones that exist."""
    templates = list_templates(root)
    for info in templates:
        if info.name == name:
            return info
    known = ", ".join(info.name for info in templates)
    raise UsageError(f"unknown template {name!r}; choose one of: {known}")


# --- names -------------------------------------------------------------------------------------


def validate_project_name(name: str) -> str:
    """Return ``name`` if it can name a distribution and a folder; else raise UsageError."""
    if not name.strip():
        raise UsageError("the project name is empty; try something like `velocipy new chat`")
    if not _DISTRIBUTION_NAME.match(name):
        folder = name.rstrip("/\\")
        last = re.split(r"[/\\]", folder)[-1]
        suggestion = re.sub(r"[^A-Za-z0-9._-]+", "-", last).strip("-._").lower()
        if last != name and suggestion:  # a path: its last part names the project
            raise UsageError(
                f"{name!r} is a folder, not a project name; the folder goes in --path: "
                f"velocipy new {suggestion} --path {folder}"
            )
        hint = f" (try {suggestion!r})" if suggestion else ""
        raise UsageError(
            f"{name!r} is not a usable project name: use letters, digits, '-', '_' or '.', "
            f"starting and ending with a letter or digit{hint}"
        )
    return name


def derive_package_name(name: str) -> str:
    """The Python package name for project ``name`` (``My-Chat`` -> ``my_chat``), checked."""
    validate_project_name(name)
    package = re.sub(r"[-_.]+", "_", name).lower()  # PEP 503 normalization, "_" for "-"
    if not package.isidentifier():
        raise UsageError(
            f"{name!r} gives the package name {package!r}, which is not a Python identifier "
            "(it must not start with a digit)"
        )
    if keyword.iskeyword(package) or keyword.issoftkeyword(package):
        raise UsageError(f"{name!r} gives the package name {package!r}, a Python keyword")
    if package in sys.stdlib_module_names or package in _RESERVED_PACKAGES:
        raise UsageError(
            f"{name!r} gives the package name {package!r}, which would shadow the module of "
            "that name; pick another name"
        )
    return package


def velocipy_requirement() -> str:
    """The dependency line generated projects use: this framework, by where it came from.

    Never the bare name: the package index holds an unrelated ``velocipy`` (see
    :mod:`velocipy_cli.origin`).
    """
    return velocipy_origin().requirement


# --- rendering ---------------------------------------------------------------------------------


def render_text(text: str, context: Mapping[str, str]) -> str:
    """Replace each ``{{ key }}`` with ``context[key]``; an unknown key is an error."""

    def substitute(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in context:
            raise ScaffoldError(f"template uses unknown placeholder {{{{ {key} }}}}")
        return context[key]

    return _PLACEHOLDER.sub(substitute, text)


def render_relative_path(relative: Path, context: Mapping[str, str]) -> Path:
    """The output path for a template file: placeholders substituted, ``.tmpl`` dropped."""
    parts = [render_text(part, context) for part in relative.parts]
    if parts[-1].endswith(RENDERED_SUFFIX):
        parts[-1] = parts[-1][: -len(RENDERED_SUFFIX)]
    if any(part in ("", ".", "..") or "/" in part or "\\" in part for part in parts):
        raise ScaffoldError(f"template file {relative} renders to an unsafe path {parts}")
    return Path(*parts)


def template_files(template: TemplateInfo) -> list[tuple[Path, Path]]:
    """``(relative path, source file)`` of a template: the shared ``_base`` layer and its own.

    A template file with the same path as a ``_base`` file replaces it. Manifests and caches
    are left out.
    """
    chosen: dict[Path, Path] = {}
    for layer in (template.path.parent / BASE_LAYER, template.path):
        if not layer.is_dir():
            continue
        for path in sorted(layer.rglob("*")):
            relative = path.relative_to(layer)
            skipped = any(part in _SKIPPED_NAMES for part in relative.parts)
            if path.is_file() and not skipped and path.suffix != ".pyc":
                chosen[relative] = path
    return sorted(chosen.items())


def render_template(
    template: TemplateInfo, destination: Path, context: Mapping[str, str]
) -> list[Path]:
    """Write the rendered template into ``destination``; return the relative paths written."""
    written: list[Path] = []
    for relative, source in template_files(template):
        output = render_relative_path(relative, context)
        target = destination / output
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.name.endswith(RENDERED_SUFFIX):
            try:
                text = source.read_text(encoding="utf-8")
            except UnicodeDecodeError as exc:
                raise ScaffoldError(f"template file {relative} is not UTF-8 text") from exc
            target.write_text(render_text(text, context), encoding="utf-8", newline="")
        else:
            shutil.copyfile(source, target)
        shutil.copymode(source, target)
        written.append(output)
    return sorted(written)


def next_steps(spec: ProjectSpec, cwd: Path) -> list[tuple[str, str]]:
    """The commands to type after creating ``spec``, each with a short comment."""
    target = Path(os.path.abspath(spec.target))
    try:
        shown = target.relative_to(os.path.abspath(cwd))
    except ValueError:
        shown = target
    steps: list[tuple[str, str]] = []
    if shown != Path("."):
        steps.append((f"cd {shlex.quote(str(shown))}", "the new project"))
    context = spec.context()
    steps.append(("python3 -m venv .venv", "a virtual environment first"))
    steps.append((". .venv/bin/activate", "use it in this shell"))
    steps.append(('pip install -e ".[dev]"', "the project, velocipy and pytest"))
    steps.extend(spec.template.setup)
    steps.append((context["run_command"], _SERVER_LABELS[spec.server]))
    if spec.template.websocket_path:
        steps.append(
            (
                f"velocipy ws-probe {spec.template.websocket_path}",
                "talk to the socket (new terminal)",
            )
        )
    steps.append(("pytest", "the tests, on ASGI and RSGI"))
    return steps


# --- creating a project ------------------------------------------------------------------------


def check_target(target: Path, *, force: bool) -> bool:
    """Raise if ``target`` cannot receive a project; return True when it already exists."""
    if target.exists() or target.is_symlink():
        if not target.is_dir():
            raise ScaffoldError(f"{target} exists and is not a directory")
        if any(target.iterdir()) and not force:
            raise ScaffoldError(
                f"{target} exists and is not empty; choose another name or --path, "
                "or pass --force to add the project's files next to what is there"
            )
        return True
    if not _nearest_existing_parent(target).is_dir():
        raise ScaffoldError(f"cannot create {target}: a parent is not a directory")
    return False


def create_project(spec: ProjectSpec, *, force: bool = False, git: bool = False) -> ScaffoldResult:
    """Render ``spec`` into its target, optionally with a first git commit, all or nothing.

    With ``force`` an existing non-empty folder is accepted: files it already holds are kept
    as they are (never overwritten or deleted) and reported in ``ScaffoldResult.kept``.
    """
    target = Path(os.path.abspath(spec.target))
    exists = check_target(target, force=force)
    created_dirs = [] if exists else _missing_dirs(target.parent)
    result = ScaffoldResult(target=target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        # Stage on the same filesystem as the target, so the final moves are renames.
        staging = Path(
            tempfile.mkdtemp(
                prefix=f".{target.name}-velocipy-new-", dir=target if exists else target.parent
            )
        )
        try:
            written = render_template(spec.template, staging, spec.context())
            for relative in written:
                if exists and _occupied(target, relative):
                    (staging / relative).unlink()
                    result.kept.append(relative)
                else:
                    result.created.append(relative)
            if git:
                inside_repo = _inside_git_repo(target if exists else target.parent)
                _git_initial_commit(staging, result, inside_repo=inside_repo)
            if exists:
                _merge_into(staging, target)
            else:
                staging.chmod(0o777 & ~_current_umask())  # mkdtemp made it private (0o700)
                staging.rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    except BaseException:
        for directory in created_dirs:  # only folders this call created, deepest first
            with contextlib.suppress(OSError):
                directory.rmdir()
        raise
    return result


def _occupied(target: Path, relative: Path) -> bool:
    """Whether ``target/relative`` is already taken; a file where a folder must go is an error."""
    for parent in reversed(relative.parents[:-1]):
        if (target / parent).exists() and not (target / parent).is_dir():
            raise ScaffoldError(
                f"{target / parent} is a file, but the template needs a folder there"
            )
    return (target / relative).exists() or (target / relative).is_symlink()


def _nearest_existing_parent(path: Path) -> Path:
    for candidate in path.absolute().parents:
        if candidate.exists():
            return candidate
    return Path(path.absolute().anchor)


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _missing_dirs(path: Path) -> list[Path]:
    """The folders ``mkdir(parents=True)`` would create for ``path``, deepest first."""
    missing: list[Path] = []
    current = path.absolute()
    while not current.exists() and current != current.parent:
        missing.append(current)
        current = current.parent
    return missing


def _merge_into(staging: Path, target: Path) -> None:
    """Move every staged file into ``target``; on failure remove what was moved, then re-raise."""
    moved: list[Path] = []
    made: list[Path] = []
    try:
        for source in sorted(staging.rglob("*")):
            destination = target / source.relative_to(staging)
            if source.is_dir() and not source.is_symlink():
                if not destination.exists():
                    destination.mkdir()
                    made.append(destination)
            else:
                os.replace(source, destination)
                moved.append(destination)
    except BaseException:
        for path in reversed(moved):
            with contextlib.suppress(OSError):
                path.unlink()
        for path in reversed(made):
            with contextlib.suppress(OSError):
                path.rmdir()
        raise


# --- git ---------------------------------------------------------------------------------------


def git_available() -> bool:
    """Whether a ``git`` executable is on PATH (the default for ``--git``)."""
    return shutil.which("git") is not None


def _run_git(args: list[str], cwd: Path, env: Mapping[str, str] | None = None) -> str:
    try:
        completed = subprocess.run(
            ["git", *args],
            cwd=cwd,
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0", **(env or {})},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ScaffoldError(f"`git {args[0]}` failed: {exc}") from exc
    if completed.returncode != 0:
        detail = (completed.stderr or completed.stdout).strip().splitlines()
        reason = detail[-1] if detail else f"exit code {completed.returncode}"
        raise ScaffoldError(f"`git {args[0]}` failed: {reason}")
    return completed.stdout.strip()


def _inside_git_repo(path: Path) -> bool:
    try:
        return _run_git(["rev-parse", "--is-inside-work-tree"], path) == "true"
    except ScaffoldError:
        return False


def _git_identity_env(repo: Path) -> dict[str, str]:
    """Author/committer variables for the first commit, only where git has no usable identity.

    ``git var`` fails exactly when ``git commit`` would ("Please tell me who you are"), whether
    the identity would come from config files or from ``GIT_*`` variables.
    """
    env: dict[str, str] = {}
    for role in ("AUTHOR", "COMMITTER"):
        try:
            _run_git(["var", f"GIT_{role}_IDENT"], repo)
        except ScaffoldError:
            env[f"GIT_{role}_NAME"] = _FALLBACK_AUTHOR["name"]
            env[f"GIT_{role}_EMAIL"] = _FALLBACK_AUTHOR["email"]
    return env


def _git_initial_commit(repo: Path, result: ScaffoldResult, *, inside_repo: bool) -> None:
    if inside_repo:
        result.git_note = "already inside a git repository: no repository created"
        return
    _run_git(["init", "--quiet"], repo)
    _run_git(["add", "--all"], repo)
    _run_git(
        ["-c", "commit.gpgsign=false", "commit", "--quiet", "--no-verify", "-m",
         "Initial commit from velocipy new"],
        repo,
        env=_git_identity_env(repo),
    )  # fmt: skip
    result.git_commit = True
