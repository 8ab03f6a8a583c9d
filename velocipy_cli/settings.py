"""Project settings for ``velocipy run``: ``[tool.velocipy]`` in pyproject.toml and ``VELOCIPY_*``.

Precedence is CLI > environment > pyproject > defaults. This module only reads and validates the
two file/environment sources (:func:`load_project_settings`); the command merges its own options
on top. Keys use the option names with underscores: ``app``, ``server`` ("uvicorn" | "granian"),
``interface`` ("asgi" | "rsgi"), ``host``, ``port``, ``reload``, ``reload_dirs``,
``reload_includes``, ``reload_excludes``, ``workers``, ``debug``, ``log_level``, ``access_log``,
``header_timeout``, ``body_timeout``.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path

from velocipy_cli.dev.choice import INTERFACES, SERVERS

ENV_PREFIX = "VELOCIPY_"
LOG_LEVELS = ("critical", "error", "warning", "info", "debug")

_STRINGS = ("app", "host", "server", "interface", "log_level")
_INTEGERS = ("port", "workers", "header_timeout", "body_timeout")
_BOOLEANS = ("reload", "debug", "access_log", "https", "proxy")
_LISTS = ("reload_dirs", "reload_includes", "reload_excludes")
KNOWN_KEYS = frozenset(_STRINGS + _INTEGERS + _BOOLEANS + _LISTS)

DEFAULTS: dict[str, object] = {
    "app": None,
    "server": None,  # None: chosen from the interface (velocipy_cli.dev.choice)
    "interface": None,  # None: the server's own
    "host": "127.0.0.1",
    "port": 8000,
    "reload": True,
    "reload_dirs": [],
    "reload_includes": [],
    "reload_excludes": [],
    "workers": 1,
    "debug": False,
    "log_level": "info",
    "access_log": True,
    "https": False,
    "header_timeout": 10,  # seconds, applied without --reload (velocipy_cli.dev.timeouts)
    "body_timeout": 30,
    "proxy": True,  # reload mode only: velocipy_cli.dev.proxy
}

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class SettingsError(ValueError):
    """A setting in pyproject.toml or the environment has a value we cannot use."""


def find_pyproject(cwd: Path) -> Path | None:
    """The nearest pyproject.toml at or above ``cwd`` (the project root marker)."""
    for folder in (cwd, *cwd.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def read_pyproject(path: Path) -> dict[str, object]:
    """The parsed pyproject.toml, or a one-line :class:`SettingsError` when it is not valid TOML."""
    try:
        with path.open("rb") as stream:
            return tomllib.load(stream)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"cannot read {path}: {exc}") from None


def pyproject_settings(cwd: Path) -> dict[str, object]:
    """Validated ``[tool.velocipy]`` values of the project around ``cwd`` (empty when absent)."""
    path = find_pyproject(cwd)
    if path is None:
        return {}
    tool = read_pyproject(path).get("tool", {})
    table = tool.get("velocipy", {}) if isinstance(tool, dict) else {}
    if not isinstance(table, dict):
        raise SettingsError(f"[tool.velocipy] in {path} must be a table")
    settings: dict[str, object] = {}
    for raw_key, value in table.items():
        key = raw_key.replace("-", "_")
        if key == "rsgi":  # `rsgi = true` reads naturally too
            settings["interface"] = "rsgi" if _as_bool(value, f"{path}: rsgi") else "asgi"
            continue
        if key == "settings":  # [tool.velocipy.settings]: the app's own (velocipy.settings)
            continue
        if key not in KNOWN_KEYS:
            raise SettingsError(unknown_key_message(raw_key, path))
        settings[key] = _convert(key, value, f"{path}: {raw_key}")
    return settings


def unknown_key_message(raw_key: str, path: Path) -> str:
    """One line naming the unknown key, the closest known one, and every known key."""
    candidates = sorted(KNOWN_KEYS | {"rsgi"})
    spelled = raw_key.replace("-", "_").lower()
    close = difflib.get_close_matches(spelled, candidates, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return (
        f"unknown key {raw_key!r} in [tool.velocipy] of {path}{hint} "
        f"(known keys: {', '.join(sorted(KNOWN_KEYS))})"
    )


def setting_source(key: str, cwd: Path, environ: Mapping[str, str] | None = None) -> str | None:
    """Where the merged value of ``key`` came from: ``VELOCIPY_<KEY>``, pyproject, or None."""
    environ = os.environ if environ is None else environ
    if ENV_PREFIX + key.upper() in environ:
        return ENV_PREFIX + key.upper()
    path = find_pyproject(cwd)
    if path is not None and key in pyproject_settings(cwd):
        shown = path.relative_to(cwd) if path.is_relative_to(cwd) else path
        return f"{key} in [tool.velocipy] of {shown}"
    return None


def environment_settings(environ: Mapping[str, str] | None = None) -> dict[str, object]:
    """Validated ``VELOCIPY_<KEY>`` values; lists are comma-separated."""
    environ = os.environ if environ is None else environ
    settings: dict[str, object] = {}
    for key in sorted(KNOWN_KEYS):
        name = ENV_PREFIX + key.upper()
        if name in environ:
            raw = environ[name]
            value: object = [part.strip() for part in raw.split(",") if part.strip()]
            settings[key] = _convert(key, value if key in _LISTS else raw, name)
    if ENV_PREFIX + "RSGI" in environ:
        rsgi = _as_bool(environ[ENV_PREFIX + "RSGI"], ENV_PREFIX + "RSGI")
        settings["interface"] = "rsgi" if rsgi else "asgi"
    return settings


def load_project_settings(cwd: Path, environ: Mapping[str, str] | None = None) -> dict[str, object]:
    """Defaults, overridden by ``[tool.velocipy]``, overridden by ``VELOCIPY_*`` variables."""
    return {**DEFAULTS, **pyproject_settings(cwd), **environment_settings(environ)}


def _convert(key: str, value: object, where: str) -> object:
    if key in _BOOLEANS:
        return _as_bool(value, where)
    if key in _INTEGERS:
        return _as_int(value, where)
    if key in _LISTS:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise SettingsError(f"{where} must be a list of strings")
        return list(value)
    if not isinstance(value, str):
        raise SettingsError(f"{where} must be a string")
    if key == "interface" and value.lower() not in INTERFACES:
        raise SettingsError(f"{where} must be 'asgi' or 'rsgi', not {value!r}")
    if key == "server" and value.lower() not in SERVERS:
        raise SettingsError(f"{where} must be 'uvicorn' or 'granian', not {value!r}")
    if key == "log_level" and value.lower() not in LOG_LEVELS:
        raise SettingsError(f"{where} must be one of {', '.join(LOG_LEVELS)}, not {value!r}")
    return value.lower() if key in ("server", "interface", "log_level") else value


def _as_bool(value: object, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise SettingsError(f"{where} must be true or false, not {value!r}")


def _as_int(value: object, where: str) -> int:
    if isinstance(value, bool):
        raise SettingsError(f"{where} must be a whole number, not {value!r}")
    if isinstance(value, int):
        number = value
    else:
        try:
            number = int(str(value).strip())
        except ValueError:
            raise SettingsError(f"{where} must be a whole number, not {value!r}") from None
    if number < 0:
        raise SettingsError(f"{where} must not be negative")
    return number
