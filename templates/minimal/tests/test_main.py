import json
import urllib.request

from velocipy.testing import TestClient
from velocipy.testing.pytest_plugin import LiveServer


def test_hello_greets_the_world_by_default(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {"message": "Hello, world!"}


def test_hello_greets_the_name_in_the_query_string(client: TestClient) -> None:
    assert client.get("/", params={"name": "Ada"}).json() == {"message": "Hello, Ada!"}


def test_unknown_paths_are_404(client: TestClient) -> None:
    assert client.get("/nowhere").status_code == 404


def test_a_real_server_serves_it(live_server: LiveServer) -> None:
    """uvicorn (ASGI) or granian (RSGI) on a free port, as in production."""
    with urllib.request.urlopen(f"{live_server.url}/?name=Server", timeout=10) as response:
        assert json.load(response) == {"message": "Hello, Server!"}
