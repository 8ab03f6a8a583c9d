"""velocipy.hosts: the one parser for Host and forwarded-host values."""

from __future__ import annotations

import pytest

from velocipy.hosts import HostAndPort, parse_host, parse_port


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("example.com", HostAndPort("example.com", None)),
        ("example.com:", HostAndPort("example.com", None)),
        ("Example.COM:8080", HostAndPort("Example.COM", 8080)),
        ("127.0.0.1:0", HostAndPort("127.0.0.1", 0)),
        ("[::1]", HostAndPort("[::1]", None)),
        ("[::1]:", HostAndPort("[::1]", None)),
        ("[2001:db8::1]:65535", HostAndPort("[2001:db8::1]", 65535)),
        ("a_b-c~d.example", HostAndPort("a_b-c~d.example", None)),
    ],
)
def test_hosts_that_parse(value: str, parsed: HostAndPort) -> None:
    assert parse_host(value) == parsed


@pytest.mark.parametrize(
    "value",
    [
        "",
        ":80",
        "example.com:@evil.com",
        "a@example.com",
        "evil.com/.example.com",
        "evil.com#x",
        "evil.com?x",
        "evil.com\\x",
        "evil.com%2fx",
        "evil.com\tx",
        "evil .com",
        "exämple.com",
        "example.com:65536",
        "example.com:000080",
        "example.com:٨٠",  # Arabic-Indic digits are digits to str.isdigit, not to a port
        "example.com:8 0",
        "[::1",
        "[::1]80",
        "[fe80::1%eth0]",
        "[v1.x]",
        "[127.0.0.1]",
    ],
)
def test_values_that_are_not_hosts(value: str) -> None:
    assert parse_host(value) is None


@pytest.mark.parametrize(
    ("text", "port"),
    [("0", 0), ("65534", 65534), ("65535", 65535), ("65536", None), ("", None), ("-1", None)],
)
def test_port_range_at_below_and_above_the_limit(text: str, port: int | None) -> None:
    assert parse_port(text) == port
