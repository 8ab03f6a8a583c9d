from velocipy.testing import TestClient


def test_a_newcomer_is_welcomed_with_who_is_online(client: TestClient) -> None:
    with client.websocket_connect("/ws?name=Ada") as ada:
        assert ada.receive_json() == {"type": "welcome", "name": "Ada", "online": ["Ada"]}


def test_a_guest_name_is_given_when_none_is_asked_for(client: TestClient) -> None:
    with client.websocket_connect("/ws") as guest:
        assert guest.receive_json()["name"] == "guest-1"


def test_a_message_reaches_everyone_in_the_room(client: TestClient) -> None:
    with client.websocket_connect("/ws?name=Ada") as ada:
        ada.receive_json()  # welcome
        with client.websocket_connect("/ws?name=Bob") as bob:
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


def test_a_message_that_is_too_long_is_refused_to_its_author_only(client: TestClient) -> None:
    with client.websocket_connect("/ws?name=Ada") as ada:
        ada.receive_json()
        ada.send_text("x" * 1001)
        assert ada.receive_json() == {
            "type": "error",
            "detail": "messages are limited to 1000 characters",
        }
        ada.send_text("still here")
        assert ada.receive_json()["text"] == "still here"
