"""TARGET resolution, header and option checks (velocipy_cli.probe.targets)."""

from __future__ import annotations

from pathlib import Path

import pytest

from velocipy_cli.probe.outcomes import UsageError
from velocipy_cli.probe.targets import (
    check_origin,
    check_subprotocol,
    parse_header,
    resolve_target,
)


@pytest.fixture(autouse=True)
def no_velocipy_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VELOCIPY_HOST", raising=False)
    monkeypatch.delenv("VELOCIPY_PORT", raising=False)


def write_settings(folder: Path, body: str) -> Path:
    (folder / "pyproject.toml").write_text(f'[project]\nname = "demo"\n\n[tool.velocipy]\n{body}')
    return folder


@pytest.mark.parametrize(
    ("target", "url"),
    [
        ("/ws", "ws://127.0.0.1:8000/ws"),
        ("/rooms/42?x=1", "ws://127.0.0.1:8000/rooms/42?x=1"),
        ("/a b?q=x y", "ws://127.0.0.1:8000/a%20b?q=x%20y"),
        ("/caf\u00e9", "ws://127.0.0.1:8000/caf%C3%A9"),
    ],
)
def test_path_targets_use_the_default_address(tmp_path: Path, target: str, url: str) -> None:
    resolved = resolve_target(target, project_dir=tmp_path)
    assert (resolved.url, resolved.source) == (url, "defaults")


def test_host_and_port_options_win(tmp_path: Path) -> None:
    write_settings(tmp_path, "port = 9000\n")
    resolved = resolve_target("/ws", host="localhost", port=8123, project_dir=tmp_path)
    assert (resolved.url, resolved.source) == ("ws://localhost:8123/ws", "options")


def test_project_settings_give_host_and_port(tmp_path: Path) -> None:
    write_settings(tmp_path, 'host = "0.0.0.0"\nport = 9001\n')
    resolved = resolve_target("/ws", project_dir=tmp_path)
    # A bind-all address is where the server listens; the probe connects to loopback.
    assert (resolved.url, resolved.source) == ("ws://127.0.0.1:9001/ws", "project settings")


def test_environment_settings_win_over_pyproject(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_settings(tmp_path, "port = 9001\n")
    monkeypatch.setenv("VELOCIPY_PORT", "9002")
    assert resolve_target("/ws", project_dir=tmp_path).url == "ws://127.0.0.1:9002/ws"


def test_ipv6_hosts_are_bracketed(tmp_path: Path) -> None:
    assert resolve_target("/ws", host="::", project_dir=tmp_path).url == "ws://[::1]:8000/ws"
    assert resolve_target("/ws", host="::1", project_dir=tmp_path).url == "ws://[::1]:8000/ws"


def test_broken_settings_are_a_usage_error(tmp_path: Path) -> None:
    write_settings(tmp_path, 'port = "eighty"\n')
    with pytest.raises(UsageError):
        resolve_target("/ws", project_dir=tmp_path)
    # ...unless both --host and --port make them irrelevant.
    assert resolve_target("/ws", host="h", port=1, project_dir=tmp_path).url == "ws://h:1/ws"


@pytest.mark.parametrize(
    ("target", "url"),
    [
        ("ws://example.test/ws", "ws://example.test/ws"),
        ("wss://example.test:8443/ws?t=1", "wss://example.test:8443/ws?t=1"),
        ("WS://example.test", "ws://example.test/"),
        ("http://127.0.0.1:8000/ws", "ws://127.0.0.1:8000/ws"),
        ("https://example.test/ws", "wss://example.test/ws"),
        ("ws://[::1]:8000/ws", "ws://[::1]:8000/ws"),
    ],
)
def test_urls_are_kept_and_http_schemes_mapped(tmp_path: Path, target: str, url: str) -> None:
    resolved = resolve_target(target, project_dir=tmp_path)
    assert (resolved.url, resolved.source) == (url, "URL")


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("ws", "neither a path starting with / nor a ws:// or wss:// URL"),
        ("example.test:8000/ws", "did you mean ws://example.test:8000/ws?"),
        ("ftp://example.test/", "unsupported URL scheme 'ftp'"),
        ("ws://example.test/#top", "#fragment"),
        ("ws://example.test:70000/", "invalid WebSocket URL"),
        ("ws:///nohost", "invalid WebSocket URL"),
    ],
)
def test_bad_targets_are_usage_errors(tmp_path: Path, target: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        resolve_target(target, project_dir=tmp_path)
    assert message in caught.value.message


def test_port_out_of_range_for_a_path(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="out of range"):
        resolve_target("/ws", port=70000, project_dir=tmp_path)


def test_headers_are_split_and_trimmed() -> None:
    assert parse_header("X-Token:  abc def ") == ("X-Token", "abc def")
    assert parse_header("Authorization: Bearer a:b") == ("Authorization", "Bearer a:b")
    assert parse_header("X-Empty:") == ("X-Empty", "")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("no colon", 'expected "Name: value"'),
        (": value", 'expected "Name: value"'),
        ("Bad Name: v", "invalid header name"),
        ("X-Split: a\r\nInjected: 1", "line break"),
        ("Host: other", "it comes from the URL"),
        ("sec-websocket-key: x", "the handshake sets it"),
        ("Origin: http://x", "use --origin"),
    ],
)
def test_bad_headers_are_usage_errors(raw: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_header(raw)
    assert message in caught.value.message


def test_subprotocols_and_origins_are_checked() -> None:
    assert check_subprotocol("chat.v1") == "chat.v1"
    with pytest.raises(UsageError):
        check_subprotocol("chat v1")
    assert check_origin("http://localhost:3000/") == "http://localhost:3000"
    for bad in ("localhost", "http://", "http://host/path"):
        with pytest.raises(UsageError):
            check_origin(bad)
