"""ws-probe reads the app's AsyncAPI document: types, templates, refusals and checks.

The app (tests/interop/apps/asyncapi_game.py) runs on uvicorn and granian RSGI.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.probe.helpers import probe
from tests.support import REPO_ROOT, ServerProcess, free_port, running, server_argv
from velocipy_cli.probe.terminal import MESSAGE_TYPES, complete_command

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module", params=["uvicorn", "granian-rsgi"])
def game(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    port = free_port()
    argv = server_argv(str(request.param), "tests.interop.apps.asyncapi_game:app", port)
    with running(argv, port=port, cwd=REPO_ROOT) as server:
        yield server


def received_lines(output: str) -> list[str]:
    """The text of each received message (--jsonl records)."""
    records = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    return [record["text"] for record in records if record["event"] == "received"]


def test_types_lists_what_the_route_takes_and_sends(game: ServerProcess) -> None:
    result = probe(f"{game.ws_url}/games/7", "--send", "/types", "--idle-timeout", "0.5")
    assert result.returncode == 0, result.stderr
    both = result.stdout + result.stderr
    assert "API /games/{game_id}: send Move; receive Played" in both
    assert "you send:" in both
    assert 'Move            {"x": 0, "y": 0}' in both
    assert 'Played          {"player": "", "move": {"x": 0, "y": 0}}' in both


def test_send_fills_the_template_and_replies_are_checked(game: ServerProcess) -> None:
    result = probe(
        f"{game.ws_url}/games/7?player=ada", "--send", "/send Move", "--send",
        '/send Move {"x": 2, "y": 1}', "--expect", "2", "--jsonl",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert received_lines(result.stdout) == [
        '{"player":"ada","move":{"x":0,"y":0}}',
        '{"player":"ada","move":{"x":2,"y":1}}',
    ]
    assert "does not match" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ('{"x": 7, "y": 0}', "not sent: not a Move: 7 is greater than the maximum of 2 at $.x"),
        ("hello", "not sent: the route takes JSON messages (Move), and this is not JSON"),
        ('/send Move {"x": 0}', "not sent: not a Move: 'y' is a required property"),
        ("/send Board", "the route takes no Board (it takes: Move)"),
    ],
)
def test_a_message_the_route_does_not_take_is_refused(
    game: ServerProcess, line: str, problem: str
) -> None:
    result = probe(f"{game.ws_url}/games/7", "--send", line, "--idle-timeout", "0.5", "--jsonl")
    assert result.returncode == 2  # a usage error, as for any line that cannot be sent
    assert problem in result.stderr
    assert received_lines(result.stdout) == []


def test_force_sends_it_anyway(game: ServerProcess) -> None:
    result = probe(f"{game.ws_url}/games/7", "--send", '/force {"x": 7, "y": 0}')
    assert "not sent" not in result.stderr
    assert "→" in result.stdout  # it was sent, and the app refused it: 1007 (RSGI: no code)
    expected = "1005" if "rsgi" in game.argv else "1007"
    assert f" {expected} " in result.stdout + result.stderr, result.stdout + result.stderr


def test_received_messages_that_do_not_match_are_flagged(game: ServerProcess) -> None:
    result = probe(f"{game.ws_url}/liar", "--send", "/send Move", "--expect", "1", "--jsonl")
    assert result.returncode == 0, result.stderr
    assert received_lines(result.stdout) == ['{"player":0}']
    assert (
        "^ does not match the route's API: not a Played: 0 is not of type 'string' at $.player"
        in result.stdout + result.stderr
    )


def test_without_an_asyncapi_document_nothing_changes(game: ServerProcess) -> None:
    result = probe(f"{game.ws_url}/nowhere", "--send", "/types", "--idle-timeout", "0.5")
    assert "API " not in result.stdout + result.stderr


@pytest.fixture
def without_jsonschema(tmp_path: Path) -> dict[str, str]:
    """An environment where ``import jsonschema`` fails: a base install, no ``probe`` extra."""
    (tmp_path / "jsonschema.py").write_text("raise ImportError('not installed')\n")
    return {"PYTHONPATH": str(tmp_path)}


@pytest.mark.parametrize(
    ("path", "warned"), [("/games/7", True), ("/chat", False)], ids=["typed", "untyped"]
)
def test_without_jsonschema_only_a_route_with_types_warns_they_are_not_checked(
    game: ServerProcess, without_jsonschema: dict[str, str], path: str, warned: bool
) -> None:
    result = probe(
        f"{game.ws_url}{path}", "--send", '{"x": 1, "y": 2}', "--expect", "1",
        env=without_jsonschema,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "API " in result.stdout + result.stderr  # the route's API was read either way
    output = result.stdout + result.stderr
    assert ("pip install jsonschema" in output) is warned, output
    if warned:
        assert "messages are not checked against the route's types: pip install" in output


def test_completion_offers_the_routes_types_after_send() -> None:
    saved = list(MESSAGE_TYPES)
    MESSAGE_TYPES[:] = ["Move", "Mark"]
    try:
        assert [complete_command("M", n, line="/send M") for n in range(3)] == [
            "Move",
            "Mark",
            None,
        ]
        assert complete_command("Mo", 0, line="/send Mo") == "Move"
        assert complete_command("M", 0, line="/send Move M") is None  # only the type is completed
        assert complete_command("/ty", 0, line="/ty") == "/types"
        assert complete_command("/fo", 0, line="/fo") == "/force"
    finally:
        MESSAGE_TYPES[:] = saved
