"""The `/api/items` routes: create, list, read, replace and delete items, and item images.

Handlers get their store through a dependency, `get_store`: swap it for a database session
(open before the request, close after the response) and the routes stay as they are. Tests
replace it with `app.dependency_overrides[get_store] = ...`. Reading is open to everyone;
writing needs a token with the `items:write` scope (the `can_write` guard, see `auth.py`).

Writes are rate-limited (`WRITES`: 20 a minute per client, then 429 with Retry-After) and the
item list is cached (`CACHE`: 30 seconds, forgotten on every write). Both keep their state in
this process's memory; give them a `RedisStore` to share it between workers:
`RateLimit(..., store=RedisStore(url))`, `ResponseCache(RedisStore(url))`.
"""

from collections.abc import AsyncIterator
from typing import Annotated

from velocipy import APIRouter, Depends, HTTPException, Request, Response, UploadFile
from velocipy.caching import ResponseCache
from velocipy.ratelimit import RateLimit

from .auth import can_write
from .models import Image, Item, ItemIn


class ItemStore:
    """Items kept in memory (a stand-in for a database; the routes only use these methods)."""

    def __init__(self) -> None:
        self._items: dict[int, Item] = {}
        self._images: dict[int, tuple[Image, bytes]] = {}
        self._last_id = 0
        self.open_sessions = 0

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


async def get_store(request: Request) -> AsyncIterator[ItemStore]:
    """The app's store for one request; the code after `yield` runs once the response is sent."""
    store: ItemStore = request.app.state.store
    store.open_sessions += 1  # a database session would be opened here...
    try:
        yield store
    finally:
        store.open_sessions -= 1  # ...and closed here, even when the handler raised


Store = Annotated[ItemStore, Depends(get_store)]
NOT_FOUND = {404: "No item with this id"}
BINARY = {"type": "string", "format": "binary"}
IMAGE_SCHEMA = {"schema": BINARY}
IMAGE_CONTENT = {"image/*": IMAGE_SCHEMA}
IMAGE = {"description": "The image, as uploaded", "content": IMAGE_CONTENT}

WRITES = RateLimit(20, "minute", name="item-writes")  # one budget for every write route
CACHE = ResponseCache(ttl=30)

router = APIRouter(prefix="/api", tags=["items"])


@router.get("/items", cache=CACHE)
async def list_items(store: Store, tag: str | None = None) -> list[Item]:
    """List the items.

    Every item, or only those tagged `tag` (GET /api/items?tag=red). Answered from the cache
    for 30 seconds, or until the next write.
    """
    return store.all(tag)


@router.post("/items", status_code=201, guards=[can_write], rate_limit=WRITES)
async def create_item(data: ItemIn, store: Store) -> Item:
    """Create an item from the JSON body; answers 201 with the stored item."""
    item = store.add(data)
    await CACHE.invalidate("/api/items")
    return item


@router.get("/items/{item_id:int}", responses=NOT_FOUND)
async def read_item(item_id: int, store: Store) -> Item:
    """Read one item."""
    return store.get(item_id)


@router.put("/items/{item_id:int}", responses=NOT_FOUND, guards=[can_write], rate_limit=WRITES)
async def replace_item(item_id: int, data: ItemIn, store: Store) -> Item:
    """Replace an item with the JSON body."""
    item = store.replace(item_id, data)
    await CACHE.invalidate("/api/items")
    return item


@router.delete("/items/{item_id:int}", responses=NOT_FOUND, guards=[can_write], rate_limit=WRITES)
async def delete_item(item_id: int, store: Store) -> None:
    """Delete an item; answers 204 No Content."""
    store.delete(item_id)
    await CACHE.invalidate("/api/items")


@router.put("/items/{item_id:int}/image", responses=NOT_FOUND, guards=[can_write])
async def upload_image(item_id: int, image: UploadFile, store: Store) -> Image:
    """Attach an image sent as multipart/form-data (field `image`); 415 unless image/*."""
    store.get(item_id)
    content_type = image.content_type or ""
    if not content_type.startswith("image/"):
        raise HTTPException(415, f"send an image/* file, not {content_type or 'no type'}")
    content = await image.read()
    stored = Image(filename=image.filename or "", content_type=content_type, size=len(content))
    store.set_image(item_id, stored, content)
    return stored


@router.get("/items/{item_id:int}/image", responses={200: IMAGE, **NOT_FOUND})
async def read_image(item_id: int, store: Store) -> Response:
    """The item's image, with the content type it was uploaded with."""
    image, content = store.image(item_id)
    return Response(content, media_type=image.content_type)
