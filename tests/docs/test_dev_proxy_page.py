"""The "filling the gap" pattern of docs/dev-proxy.md does what the page says.

A member of the room is "resumed" (the headers the dev proxy sets): it receives the messages
published while it was away, after the last one it received, and nothing twice.
"""

from __future__ import annotations

from pathlib import Path

from tests.conftest import ClientFactory
from tests.docs.docs_blocks import doc_blocks, import_block, page_files

ROOM = next(
    block
    for block in doc_blocks()
    if block.page.name == "dev-proxy.md" and '@app.websocket("/room")' in block.source
)


def test_a_resumed_member_gets_what_it_missed(tmp_path: Path, make_client: ClientFactory) -> None:
    with page_files(ROOM, tmp_path):
        module = import_block(ROOM, tmp_path)
    first = {"x-velocipy-connection": "c1"}
    with make_client(module.app) as client:  # type: ignore[attr-defined]
        with client.websocket_connect("/room", headers=first) as alice:
            with client.websocket_connect("/room", headers={"x-velocipy-connection": "c2"}) as bob:
                bob.send_text("one")
                assert alice.receive_text(timeout=5) == "one"
                assert bob.receive_text(timeout=5) == "one"
        # alice's worker "restarted": bob talks meanwhile, then alice is resumed
        with client.websocket_connect("/room", headers={"x-velocipy-connection": "c2"}) as bob:
            bob.send_text("two")
            assert bob.receive_text(timeout=5) == "two"
            bob.send_text("three")
            assert bob.receive_text(timeout=5) == "three"
            resumed = {**first, "x-velocipy-resumed": "1"}
            with client.websocket_connect("/room", headers=resumed) as alice:
                assert alice.receive_text(timeout=5) == "two"
                assert alice.receive_text(timeout=5) == "three"
                bob.send_text("four")
                assert alice.receive_text(timeout=5) == "four"
