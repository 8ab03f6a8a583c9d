from velocipy.testing import TestClient


def test_the_page_is_html_that_opens_the_websocket(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "<form" in response.text
    assert "new WebSocket(" in response.text
    assert 'fetch("/ticket"' in response.text
    assert "/ws?ticket=" in response.text
