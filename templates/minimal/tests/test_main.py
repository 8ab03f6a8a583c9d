from velocipy.testing import TestClient


def test_hello_greets_the_world_by_default(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {"message": "Hello, world!"}


def test_hello_greets_the_name_in_the_query_string(client: TestClient) -> None:
    assert client.get("/", params={"name": "Ada"}).json() == {"message": "Hello, Ada!"}


def test_unknown_paths_are_404(client: TestClient) -> None:
    assert client.get("/nowhere").status_code == 404
