"""Typed settings on msgspec: environment variables, a ``.env`` file and TOML, checked at once.

Subclass :class:`Settings` (a ``msgspec.Struct``) and declare fields with types and defaults.
``load()`` reads, highest first: environment variables (``env_prefix`` + the field name in
capitals; a nested struct's fields joined with ``__``), the ``env_file`` (``.env``), the
``toml_file`` and the ``[tool.velocipy.settings]`` table of the nearest pyproject.toml, then the
defaults. Every missing or invalid value is collected into one :class:`SettingsError` whose
one-line message names each field and where its value came from, never the value itself.

:class:`SecretStr` holds a value that never prints: its ``repr``/``str`` (so a settings object's
repr, a log line, a traceback or a 500 page) show ``**********``; ``get_secret_value()`` reads it.

Inject settings with ``Depends(AppSettings.load, scope="app")``: read once per worker at start-up,
and a settings error fails the start-up with that one line.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Self, get_args, get_origin

import msgspec

from velocipy.exceptions import StartupError

__all__ = ["SecretStr", "Settings", "SettingsError", "read_env_file"]

_MASK = "**********"
_FLAGS = {"yes": "true", "on": "true", "no": "false", "off": "false", "": "false"}


class SecretStr:
    """A string that never shows itself: ``repr``, ``str`` and formatting print ``**********``."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"SecretStr('{_MASK}')"

    def __str__(self) -> str:
        return _MASK

    def __format__(self, spec: str) -> str:
        return format(_MASK, spec)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretStr) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __len__(self) -> int:
        return len(self._value)


class SettingsError(StartupError):
    """One or more settings are missing or invalid; the message lists every one of them."""

    def __init__(self, subject: str, problems: list[str]) -> None:
        self.problems = list(problems)
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        super().__init__(f"{subject}: {count}: " + "; ".join(problems))


# --- the .env file ------------------------------------------------------------------------------
_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(.*?)\s*$")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}


def read_env_file(path: str | os.PathLike[str]) -> dict[str, str]:
    """``KEY=value`` lines of a dotenv file (``export``, quotes and ``#`` comments allowed).

    A line that is not an assignment raises :class:`SettingsError` naming the file and line (the
    line itself is not shown: it may hold a secret).
    """
    found: dict[str, str] = {}
    text = Path(path).read_text(encoding="utf-8")
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _LINE.match(line)
        value = _env_value(match.group(2)) if match else None
        if match is None or value is None:
            raise SettingsError(
                str(path), [f"line {number} is not KEY=value (or has an unclosed quote)"]
            )
        found[match.group(1)] = value
    return found


def _env_value(raw: str) -> str | None:
    if raw[:1] in ("'", '"'):
        quote = raw[0]
        end = raw.find(quote, 1)
        while quote == '"' and end > 0 and raw[end - 1] == "\\":
            end = raw.find(quote, end + 1)
        if end < 0:
            return None
        inner = raw[1:end]
        if quote == '"':
            inner = re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(0)), inner)
        return inner
    return re.split(r"\s+#", raw, maxsplit=1)[0]


# --- the settings base --------------------------------------------------------------------------
class _SettingsMeta(msgspec.StructMeta):
    """Fields of every subclass are keyword-only, so required ones may follow defaults."""

    def __new__(
        mcls, name: str, bases: tuple[type, ...], namespace: dict[str, Any], **options: Any
    ) -> _SettingsMeta:
        options.setdefault("kw_only", True)
        return super().__new__(mcls, name, bases, namespace, **options)


class Settings(msgspec.Struct, metaclass=_SettingsMeta):
    """Typed settings; subclasses declare fields (``msgspec.Struct`` syntax) and sources.

    Class options (plain class attributes): ``env_prefix`` (``""``), ``env_file`` (``".env"``,
    ``None`` for none), ``toml_file`` (``None``), ``pyproject`` (``True``: read
    ``[tool.velocipy.settings]`` of the nearest pyproject.toml).
    """

    env_prefix: ClassVar[str] = ""
    env_file: ClassVar[str | None] = ".env"
    toml_file: ClassVar[str | None] = None
    pyproject: ClassVar[bool] = True

    @classmethod
    def load(cls) -> Self:
        """Read every source from the process environment and the current directory."""
        return cls.from_sources()

    @classmethod
    def from_sources(
        cls,
        *,
        environ: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> Self:
        """Read the sources (``values`` first, then ``environ`` or ``os.environ``, files
        relative to ``cwd``); raise :class:`SettingsError` listing every problem."""
        folder = Path.cwd() if cwd is None else Path(cwd)
        environ = os.environ if environ is None else environ
        data: dict[str, Any] = {}
        origins: dict[str, str] = {}
        problems: list[str] = []
        if cls.pyproject:
            found = _pyproject_table(folder, problems)
            if found is not None:
                _merge(data, origins, found[1], found[0], "")
        if cls.toml_file is not None:
            path = folder / cls.toml_file
            if path.is_file():
                table = _read_toml(path, problems)
                _merge(data, origins, table, cls.toml_file, "")
        if cls.env_file is not None and (folder / cls.env_file).is_file():
            try:
                dotenv = read_env_file(folder / cls.env_file)
            except SettingsError as exc:
                problems.extend(f"{cls.env_file}: {problem}" for problem in exc.problems)
            else:
                _merge(data, origins, *_from_environment(cls, dotenv, cls.env_file), "")
        _merge(data, origins, *_from_environment(cls, environ, "the environment"), "")
        if values:
            _merge(data, origins, dict(values), "the arguments", "")
        built = _build(cls, cls, data, "", origins, problems)
        if problems:
            raise SettingsError(cls.__name__, problems)
        return built  # type: ignore[no-any-return]

    @classmethod
    def env_name(cls, path: str) -> str:
        """The environment variable of a dotted field path: ``db.url`` -> ``APP_DB__URL``."""
        return cls.env_prefix + path.replace(".", "__").upper()


def _pyproject_table(folder: Path, problems: list[str]) -> tuple[str, dict[str, Any]] | None:
    for parent in (folder, *folder.parents):
        path = parent / "pyproject.toml"
        if path.is_file():
            tool = _read_toml(path, problems).get("tool", {})
            table = tool.get("velocipy", {}).get("settings") if isinstance(tool, dict) else None
            if table is None:
                return None
            label = "[tool.velocipy.settings] of pyproject.toml"
            if not isinstance(table, dict):
                problems.append(f"{label} must be a table")
                return None
            return label, table
    return None


def _read_toml(path: Path, problems: list[str]) -> dict[str, Any]:
    try:
        with path.open("rb") as stream:
            return tomllib.load(stream)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        problems.append(f"cannot read {path.name}: {exc}")
        return {}


def _merge(
    data: dict[str, Any],
    origins: dict[str, str],
    new: dict[str, Any],
    where: str | Mapping[str, str],
    path: str,
) -> None:
    """Lay ``new`` over ``data``; ``where`` names the source (or, per dotted path, a variable)."""
    for key, value in new.items():
        dotted = f"{path}{key}"
        if isinstance(value, dict):
            if not isinstance(data.get(key), dict):
                data[key] = {}
            _merge(data[key], origins, value, where, dotted + ".")
        else:
            data[key] = value
            origins[dotted] = where if isinstance(where, str) else _nearest(where, dotted)


def _nearest(names: Mapping[str, str], dotted: str) -> str:
    """The source of ``dotted`` or of the closest struct around it."""
    while dotted not in names and "." in dotted:
        dotted = dotted.rsplit(".", 1)[0]
    return names.get(dotted, "the environment")


def _from_environment(
    cls: type[Settings], environ: Mapping[str, str], where: str
) -> tuple[dict[str, Any], dict[str, str]]:
    """The nested values ``environ`` holds for ``cls``'s fields (unknown variables ignored), and
    for each dotted path the variable it came from."""
    found: dict[str, Any] = {}
    names: dict[str, str] = {}

    def walk(struct: type[msgspec.Struct], path: str, into: dict[str, Any]) -> None:
        for field in msgspec.structs.fields(struct):
            dotted = f"{path}{field.name}"
            nested = _struct_type(field.type)
            if nested is not None:
                inner: dict[str, Any] = {}
                walk(nested, dotted + ".", inner)
                if inner:
                    into[field.name] = inner
                    names[dotted] = where
            name = cls.env_name(dotted)
            if name in environ:
                into[field.name] = _environment_value(environ[name], field.type)
                names[dotted] = f"{name} in {where}"

    walk(cls, "", found)
    return found, names


def _environment_value(raw: str, annotation: Any) -> Any:
    """Text as is; a container or struct field's JSON (``[1, 2]``, ``{"a": 1}``) decoded;
    a flag's ``yes``/``on``/``no``/``off`` as ``true``/``false``."""
    if _strip(annotation) is bool:
        return _FLAGS.get(raw.strip().lower(), raw)
    if _is_container(annotation) and raw.lstrip()[:1] in ("[", "{"):
        try:
            return msgspec.json.decode(raw)
        except msgspec.DecodeError:
            return raw  # reported by the field's validation (type mismatch)
    return raw


def _is_container(annotation: Any) -> bool:
    base = _strip(annotation)
    origin = get_origin(base) or base
    if origin in (list, dict, set, frozenset, tuple):
        return True
    return isinstance(origin, type) and issubclass(origin, msgspec.Struct)


def _strip(annotation: Any) -> Any:
    while get_origin(annotation) is not None and hasattr(annotation, "__metadata__"):
        annotation = get_args(annotation)[0]
    return annotation


def _struct_type(annotation: Any) -> type[msgspec.Struct] | None:
    base = _strip(annotation)
    return base if isinstance(base, type) and issubclass(base, msgspec.Struct) else None


def _build(
    root: type[Settings],
    struct: type[msgspec.Struct],
    data: dict[str, Any],
    path: str,
    origins: dict[str, str],
    problems: list[str],
) -> Any:
    fields = msgspec.structs.fields(struct)
    known = {field.name for field in fields}
    for key in data:
        if key not in known:
            problems.append(f"unknown setting {path}{key} ({origins.get(path + key, 'given')})")
    values: dict[str, Any] = {}
    for field in fields:
        dotted = f"{path}{field.name}"
        if field.name not in data:
            nested = _struct_type(field.type)
            if nested is not None and field.required:
                values[field.name] = _build(root, nested, {}, dotted + ".", origins, problems)
            elif field.required:
                problems.append(f"{dotted} is missing (set {root.env_name(dotted)})")
            continue
        value = data[field.name]
        nested = _struct_type(field.type)
        if nested is not None and isinstance(value, dict):
            values[field.name] = _build(root, nested, value, dotted + ".", origins, problems)
            continue
        try:
            values[field.name] = msgspec.convert(
                value, field.type, strict=False, dec_hook=_decode_custom
            )
        except msgspec.ValidationError as exc:
            where = origins.get(dotted, "given")
            problems.append(f"{dotted}: {_reason(exc)} (from {where})")
    if any(field.required and field.name not in values for field in fields):
        return None  # problems were recorded; nothing is built
    try:
        return struct(**values)
    except (TypeError, ValueError) as exc:  # a __post_init__ check
        problems.append(f"{path.rstrip('.') or struct.__name__}: {exc}")
        return None


def _reason(exc: msgspec.ValidationError) -> str:
    """msgspec's message without the ``- at `$...``` suffix (the field path is said already)."""
    return re.sub(r" - at `\$[^`]*`$", "", str(exc))


def _decode_custom(annotation: Any, value: Any) -> Any:
    if annotation is SecretStr:
        if isinstance(value, SecretStr):
            return value
        if isinstance(value, str):
            return SecretStr(value)
        raise msgspec.ValidationError(f"Expected `str`, got `{type(value).__name__}`")
    raise NotImplementedError(f"settings cannot hold a {annotation!r}")
