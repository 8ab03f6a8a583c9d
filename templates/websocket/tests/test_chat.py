from collections.abc import Callable

import pytest
from velocipy.testing import TestClient, WebSocketDenied

Join = Callable[..., str]


def test_a_newcomer_is_welcomed_with_who_is_online(client: TestClient, join: Join) -> None:
    with client.websocket_connect(join("Ada")) as ada:
        assert ada.receive_json() == {"type": "welcome", "name": "Ada", "online": ["Ada"]}


def test_a_guest_name_is_given_when_none_is_asked_for(client: TestClient, join: Join) -> None:
    with client.websocket_connect(join()) as guest:
        assert guest.receive_json()["name"] == "guest-1"


def test_a_message_reaches_everyone_in_the_room(client: TestClient, join: Join) -> None:
    with client.websocket_connect(join("Ada")) as ada:
        ada.receive_json()  # welcome
        with client.websocket_connect(join("Bob")) as bob:
            assert bob.receive_json() == {
                "type": "welcome",
                "name": "Bob",
                "online": ["Ada", "Bob"],
            }
            assert ada.receive_json() == {"type": "joined", "name": "Bob", "online": ["Ada", "Bob"]}

            ada.send_text("  hello, Bob  ")
            expected = {"type": "message", "name": "Ada", "text": "hello, Bob"}
            assert bob.receive_json() == expected
            assert ada.receive_json() == expected  # the author sees what the room saw
        assert ada.receive_json() == {"type": "left", "name": "Bob", "online": ["Ada"]}


def test_a_message_that_is_too_long_is_refused_to_its_author_only(
    client: TestClient, join: Join
) -> None:
    with client.websocket_connect(join("Ada")) as ada:
        ada.receive_json()
        ada.send_text("x" * 1001)
        assert ada.receive_json() == {
            "type": "error",
            "detail": "messages are limited to 1000 characters",
        }
        ada.send_text("still here")
        assert ada.receive_json()["text"] == "still here"


def test_a_socket_needs_a_ticket_and_a_ticket_opens_one_socket(
    client: TestClient, join: Join
) -> None:
    for path in ("/ws", "/ws?ticket=made-up"):
        with pytest.raises(WebSocketDenied) as refused:
            client.websocket_connect(path).__enter__()
        assert refused.value.status_code == 403
    path = join("Ada")
    with client.websocket_connect(path) as ada:
        assert ada.receive_json()["name"] == "Ada"
    with pytest.raises(WebSocketDenied):  # used once already
        client.websocket_connect(path).__enter__()
