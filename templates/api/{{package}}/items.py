"""The `/api/items` routes: create, list, read, replace and delete items, and item images."""

from velocipy import APIRouter, HTTPException, JSONResponse, Response, UploadFile

from .models import Image, Item, ItemIn


class ItemStore:
    """Items kept in memory (swap in a database; the routes only use these methods)."""

    def __init__(self) -> None:
        self._items: dict[int, Item] = {}
        self._images: dict[int, tuple[Image, bytes]] = {}
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
        self._images.pop(item_id, None)

    def set_image(self, item_id: int, image: Image, content: bytes) -> None:
        self.get(item_id)
        self._images[item_id] = (image, content)

    def image(self, item_id: int) -> tuple[Image, bytes]:
        self.get(item_id)
        try:
            return self._images[item_id]
        except KeyError:
            raise HTTPException(404, f"item {item_id} has no image") from None


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

    @router.put("/items/{item_id:int}/image")
    async def upload_image(item_id: int, image: UploadFile) -> Image:
        """Attach an image sent as multipart/form-data (field `image`); 415 unless image/*."""
        store.get(item_id)
        content_type = image.content_type or ""
        if not content_type.startswith("image/"):
            raise HTTPException(415, f"send an image/* file, not {content_type or 'no type'}")
        content = await image.read()
        stored = Image(filename=image.filename or "", content_type=content_type, size=len(content))
        store.set_image(item_id, stored, content)
        return stored

    @router.get("/items/{item_id:int}/image")
    async def read_image(item_id: int) -> Response:
        image, content = store.image(item_id)
        return Response(content, media_type=image.content_type)

    @router.delete("/items/{item_id:int}")
    async def delete_item(item_id: int) -> None:
        """Delete an item; 204 No Content."""
        store.delete(item_id)

    return router
