"""Find the user's app: ``module:attr``, ``path/to/file.py[:attr]``, or the usual file names.

:func:`discover_app` never imports anything, so the dev supervisor can call it; it returns an
:class:`AppLocation` that says what was chosen and why. :func:`load_app` does the import and picks
the attribute (``app``, or the only ``VelociPy`` instance); the dev child and ``velocipy routes``
call it.
"""

from __future__ import annotations

import ast
import difflib
import importlib
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from velocipy_cli.settings import SettingsError, find_pyproject, read_pyproject

CONVENTIONAL_FILES = ("main.py", "app.py", "api.py")
_MODULE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


class DiscoveryError(Exception):
    """No app matched; ``looked_for`` lists every place that was tried."""

    def __init__(self, message: str, looked_for: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.looked_for = looked_for

    def __str__(self) -> str:
        message = super().__str__()
        if self.looked_for:
            return f"{message} (looked for: {', '.join(self.looked_for)})"
        return message


@dataclass(frozen=True)
class AppLocation:
    """Where the app lives, without importing it."""

    module: str
    attribute: str | None  # None: the importer takes `app` or the only VelociPy instance
    import_root: Path  # put first on sys.path before importing `module`
    source: Path | None  # the module's file, when known
    reason: str  # one sentence: why this one

    @property
    def target(self) -> str:
        return f"{self.module}:{self.attribute}" if self.attribute else self.module


@dataclass(frozen=True)
class LoadedApp:
    """The imported app object and the attribute it came from."""

    app: object
    location: AppLocation
    attribute: str
    reason: str  # why this attribute

    @property
    def target(self) -> str:
        return f"{self.location.module}:{self.attribute}"


def discover_app(spec: str | None, cwd: Path, given_by: str = "the APP argument") -> AppLocation:
    """Turn the APP argument (or its absence) into an :class:`AppLocation`.

    ``given_by`` names where ``spec`` came from (the argument, ``VELOCIPY_APP``, or
    ``[tool.velocipy]``); it goes into the location's ``reason``.
    """
    cwd = cwd.resolve()
    if spec:
        return _from_spec(spec.strip(), cwd, given_by)
    return _by_convention(cwd)


def _from_spec(spec: str, cwd: Path, given_by: str) -> AppLocation:
    path_part, attribute = _split_attribute(spec)
    if attribute is not None and not _MODULE_NAME.match(attribute):
        raise DiscoveryError(f"{attribute!r} in {spec!r} is not a Python attribute name")
    if path_part.endswith(".py") or "/" in path_part or "\\" in path_part:
        file = (cwd / path_part).resolve()
        if file.is_dir():
            file = file / "__init__.py"
        if not file.is_file():
            raise DiscoveryError(f"no such file: {path_part}", (str(file),))
        module, root = module_for_file(file)
        return AppLocation(module, attribute, root, file, f"file {path_part}, from {given_by}")
    if not _MODULE_NAME.match(path_part):
        raise DiscoveryError(
            f"{spec!r} is neither a module (pkg.module[:attr]) nor a file (path/file.py[:attr])"
        )
    source = _module_file(cwd, path_part)
    return AppLocation(path_part, attribute, cwd, source, f"from {given_by}")


def _split_attribute(spec: str) -> tuple[str, str | None]:
    # A Windows drive letter ("C:\\x.py") is not an attribute separator.
    head, sep, tail = spec.rpartition(":")
    if not sep or (len(head) == 1 and head.isalpha()):
        return spec, None
    return head, tail or None


def _module_file(root: Path, module: str) -> Path | None:
    base = root.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def module_for_file(file: Path) -> tuple[str, Path]:
    """Dotted module name and sys.path root for ``file``, climbing packages (``__init__.py``)."""
    parts = [] if file.name == "__init__.py" else [file.stem]
    folder = file.parent
    while (folder / "__init__.py").is_file() and folder.parent != folder:
        parts.insert(0, folder.name)
        folder = folder.parent
    if not parts:  # a top-level __init__.py without a package name: use the folder
        parts, folder = [file.parent.name], file.parent.parent
    return ".".join(parts), folder


def _by_convention(cwd: Path) -> AppLocation:
    looked_for: list[str] = []
    folders: list[tuple[Path, str]] = [(cwd, ""), (cwd / "app", "app/")]
    package = pyproject_package(cwd)
    if package:
        for base in (cwd, cwd / "src"):
            folders.append((base / package, f"{base.relative_to(cwd).as_posix()}/{package}/"))
    for folder, label in folders:
        for name in CONVENTIONAL_FILES:
            shown = f"{label}{name}".removeprefix("./")
            looked_for.append(shown)
            file = folder / name
            if file.is_file():
                module, root = module_for_file(file)
                return AppLocation(module, None, root, file, f"found {shown} (no APP given)")
    raise DiscoveryError(
        "no app found: pass APP as module:attr or path/to/file.py, or set app in "
        "[tool.velocipy] of pyproject.toml, or add main.py, app.py or api.py",
        tuple(looked_for),
    )


def pyproject_package(cwd: Path) -> str | None:
    """The import name of ``[project].name`` in the nearest pyproject.toml, if any."""
    path = find_pyproject(cwd)
    if path is None:
        return None
    try:
        project = read_pyproject(path).get("project", {})
    except SettingsError:
        return None
    name = project.get("name") if isinstance(project, dict) else None
    if not isinstance(name, str):
        return None
    package = re.sub(r"[-.]+", "_", name).lower()
    return package if _MODULE_NAME.match(package) else None


def load_app(location: AppLocation) -> LoadedApp:
    """Import ``location.module`` and pick the app attribute. Import errors propagate as-is."""
    root = str(location.import_root)
    if root not in sys.path:
        sys.path.insert(0, root)
    module = importlib.import_module(location.module)
    if location.attribute:
        return LoadedApp(
            _get_dotted(module, location.attribute),
            location,
            location.attribute,
            location.reason or "the attribute named",
        )
    return _pick_attribute(module, location)


def _get_dotted(module: ModuleType, attribute: str) -> object:
    value: object = module
    for part in attribute.split("."):
        try:
            value = getattr(value, part)
        except AttributeError:
            raise DiscoveryError(
                f"module {module.__name__!r} has no attribute {attribute!r}"
                + _did_you_mean(module, part if value is module else None)
            ) from None
    return value


def _did_you_mean(module: ModuleType, typed: str | None) -> str:
    """For a missing app attribute: the module's VelociPy apps, else a name close to ``typed``."""
    instances = _velocipy_instances(module)
    if instances:
        return "; did you mean " + " or ".join(f"{module.__name__}:{n}" for n in instances) + "?"
    close = difflib.get_close_matches(typed, vars(module), n=1) if typed else []
    return f"; did you mean {module.__name__}:{close[0]}?" if close else ""


def _velocipy_instances(module: ModuleType) -> list[str]:
    return [name for name, value in vars(module).items() if _is_velocipy_app(value)]


def _pick_attribute(module: ModuleType, location: AppLocation) -> LoadedApp:
    if hasattr(module, "app"):
        return LoadedApp(module.app, location, "app", "attribute named app")
    instances = _velocipy_instances(module)
    if len(instances) == 1:
        name = instances[0]
        return LoadedApp(getattr(module, name), location, name, "the only VelociPy instance")
    if instances:
        raise DiscoveryError(
            f"module {module.__name__!r} holds several VelociPy apps ({', '.join(instances)}); "
            f"choose one with {location.module}:NAME"
        )
    raise DiscoveryError(
        f"module {module.__name__!r} has no app",
        ("an attribute named app", "a VelociPy instance"),
    )


def attribute_in_source(source: Path | None) -> str | None:
    """The attribute :func:`load_app` would pick, read from the module's source without
    importing it (for the banner): ``app`` if assigned or imported at top level, else the one
    ``X = VelociPy(...)``; None when the source does not say."""
    if source is None:
        return None
    try:
        tree = ast.parse(source.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return None
    names: set[str] = set()
    instances: list[str] = []
    for node in tree.body:
        targets: list[ast.expr] = []
        value: ast.expr | None = None
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign):
            targets, value = [node.target], node.value
        elif isinstance(node, ast.ImportFrom | ast.Import):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        for target in targets:
            if isinstance(target, ast.Name):
                names.add(target.id)
                if isinstance(value, ast.Call) and _called_name(value.func) == "VelociPy":
                    instances.append(target.id)
    if "app" in names:
        return "app"
    return instances[0] if len(instances) == 1 else None


def _called_name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    return func.attr if isinstance(func, ast.Attribute) else ""


def _is_velocipy_app(value: object) -> bool:
    try:
        from velocipy import VelociPy  # type: ignore[attr-defined,unused-ignore]
    except ImportError:  # the framework is missing: nothing can be an instance of it
        return False
    return isinstance(value, VelociPy)
