"""The writes are rate-limited and the item list is cached (see items.py)."""

from velocipy import VelociPy
from velocipy.testing import TestClient

PEN = {"name": "pen", "price": 1.5}


def test_twenty_writes_a_minute_then_429(client: TestClient) -> None:
    for _ in range(20):
        assert client.post("/api/items", json=PEN).status_code == 201
    refused = client.post("/api/items", json=PEN)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["ratelimit-policy"] == '"item-writes";q=20;w=60'
    assert client.delete("/api/items/1").status_code == 429  # one budget for every write
    assert client.get("/api/items/1").status_code == 200  # reads are not limited
    assert len(client.get("/api/items").json()) == 20  # the refused write stored nothing


def test_the_list_is_cached_until_a_write(app: VelociPy, client: TestClient) -> None:
    client.post("/api/items", json=PEN)
    first = client.get("/api/items")
    assert first.headers["cache-control"] == "max-age=30"
    app.state.store._items.clear()
    cached = client.get("/api/items")
    assert cached.json() == first.json()  # ...is not seen: the handler did not run
    assert "age" in cached.headers
    client.post("/api/items", json={"name": "cup", "price": 3})  # a write forgets the list
    assert [item["name"] for item in client.get("/api/items").json()] == ["cup"]
