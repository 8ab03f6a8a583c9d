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


def test_upload_an_image_and_read_it_back(client: TestClient) -> None:
    client.post("/api/items", json=PEN)
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 100
    uploaded = client.put("/api/items/1/image", files={"image": ("pen.png", png, "image/png")})
    assert uploaded.status_code == 200
    assert uploaded.json() == {"filename": "pen.png", "content_type": "image/png", "size": 108}
    image = client.get("/api/items/1/image")
    assert image.headers["content-type"] == "image/png"
    assert image.content == png


def test_an_upload_that_is_not_an_image_is_415(client: TestClient) -> None:
    client.post("/api/items", json=PEN)
    response = client.put("/api/items/1/image", files={"image": ("a.txt", b"hi", "text/plain")})
    assert response.status_code == 415


def test_an_image_too_large_is_413(client: TestClient) -> None:
    client.post("/api/items", json=PEN)
    big = ("big.png", b"\0" * (2 * 1024 * 1024 + 1), "image/png")
    assert client.put("/api/items/1/image", files={"image": big}).status_code == 413


def test_an_image_for_a_missing_item_is_404(client: TestClient) -> None:
    response = client.put("/api/items/9/image", files={"image": ("a.png", b"x", "image/png")})
    assert response.status_code == 404
