"""The `/api/items` routes: create, list, read, replace and delete items."""

from velocipy import APIRouter, HTTPException, JSONResponse

from .models import Item, ItemIn


class ItemStore:
    """Items kept in memory (swap in a database; the routes only use these methods)."""

    def __init__(self) -> None:
        self._items: dict[int, Item] = {}
        self._last_id = 0

    def add(self, data: ItemIn) -> Item:
        self._last_id += 1
        item = Item(id=self._last_id, name=data.name, price=data.price, tags=data.tags)
        self._items[item.id] = item
        return item

    def all(self, tag: str | None = None) -> list[Item]:
        return [item for item in self._items.values() if tag is None or tag in item.tags]

    def get(self, item_id: int) -> Item:
        try:
            return self._items[item_id]
        except KeyError:
            raise HTTPException(404, f"item {item_id} not found") from None

    def replace(self, item_id: int, data: ItemIn) -> Item:
        self.get(item_id)
        item = Item(id=item_id, name=data.name, price=data.price, tags=data.tags)
        self._items[item_id] = item
        return item

    def delete(self, item_id: int) -> None:
        self.get(item_id)
        del self._items[item_id]


def items_router(store: ItemStore) -> APIRouter:
    """The item routes, bound to `store`, under the `/api` prefix."""
    router = APIRouter(prefix="/api")

    @router.get("/items")
    async def list_items(tag: str | None = None) -> list[Item]:
        """Every item, or only those tagged `tag` (GET /api/items?tag=red)."""
        return store.all(tag)

    @router.post("/items")
    async def create_item(data: ItemIn) -> JSONResponse:
        """Create an item from the JSON body; 201 with the stored item."""
        return JSONResponse(store.add(data), status_code=201)

    @router.get("/items/{item_id:int}")
    async def read_item(item_id: int) -> Item:
        return store.get(item_id)

    @router.put("/items/{item_id:int}")
    async def replace_item(item_id: int, data: ItemIn) -> Item:
        return store.replace(item_id, data)

    @router.delete("/items/{item_id:int}")
    async def delete_item(item_id: int) -> None:
        """Delete an item; 204 No Content."""
        store.delete(item_id)

    return router
