from velocipy.testing import TestClient

PEN = {"name": "pen", "price": 1.5, "tags": ["office"]}


def test_health(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_create_then_read_an_item(client: TestClient) -> None:
    created = client.post("/api/items", json=PEN)
    assert created.status_code == 201
    assert created.json() == {"id": 1, **PEN}
    assert client.get("/api/items/1").json() == {"id": 1, **PEN}


def test_tags_default_to_an_empty_list(client: TestClient) -> None:
    created = client.post("/api/items", json={"name": "cup", "price": 3})
    assert created.json()["tags"] == []


def test_list_items_filtered_by_tag(client: TestClient) -> None:
    client.post("/api/items", json=PEN)
    client.post("/api/items", json={"name": "apple", "price": 0.4, "tags": ["food"]})
    assert [item["name"] for item in client.get("/api/items").json()] == ["pen", "apple"]
    food = client.get("/api/items", params={"tag": "food"}).json()
    assert [item["name"] for item in food] == ["apple"]


def test_replace_and_delete_an_item(client: TestClient) -> None:
    client.post("/api/items", json=PEN)
    replaced = client.put("/api/items/1", json={"name": "pencil", "price": 0.9})
    assert replaced.json() == {"id": 1, "name": "pencil", "price": 0.9, "tags": []}
    assert client.delete("/api/items/1").status_code == 204
    assert client.get("/api/items/1").status_code == 404


def test_a_missing_item_is_404_with_a_detail(client: TestClient) -> None:
    response = client.get("/api/items/42")
    assert response.status_code == 404
    assert response.json() == {"detail": "item 42 not found"}


def test_an_invalid_body_is_422_naming_the_field(client: TestClient) -> None:
    response = client.post("/api/items", json={"name": "pen", "price": -1})
    assert response.status_code == 422
    assert "price" in response.text


def test_a_missing_field_is_422(client: TestClient) -> None:
    response = client.post("/api/items", json={"price": 2})
    assert response.status_code == 422
    assert "name" in response.text


def test_an_unknown_field_is_422(client: TestClient) -> None:
    response = client.post("/api/items", json={**PEN, "colour": "blue"})
    assert response.status_code == 422
    assert "colour" in response.text
