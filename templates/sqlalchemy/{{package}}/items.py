"""The `/items` routes: create, list (by page or by cursor), read, replace and delete items.

Every handler takes a `Session`: its changes are committed when the handler succeeds and rolled
back when it raises (an `HTTPException` too), so a handler never commits by hand.
"""

from typing import Annotated

from sqlalchemy import select
from velocipy import APIRouter, Depends, HTTPException, Response
from velocipy.contrib.sqlalchemy import paginate, paginate_cursor
from velocipy.pagination import Cursor, CursorPage, LimitOffset, Page, cursor, limit_offset

from .database import Session
from .models import Item, ItemIn, ItemOut

router = APIRouter(prefix="/items", tags=["items"])

# ?limit= (1 to 100, default 20) with ?offset= or ?cursor=; described in /docs
ByPage = Annotated[LimitOffset, Depends(limit_offset(default_limit=20, max_limit=100))]
ByCursor = Annotated[Cursor, Depends(cursor(default_limit=20, max_limit=100))]


def _out(item: Item) -> ItemOut:
    return ItemOut(id=item.id, name=item.name, price_cents=item.price_cents)


async def _find(session: Session, item_id: int) -> Item:
    item = await session.get(Item, item_id)
    if item is None:
        raise HTTPException(404, f"item {item_id} not found")
    return item


@router.post("", status_code=201)
async def create_item(data: ItemIn, session: Session) -> ItemOut:
    """Add an item; the answer carries its id."""
    item = Item(name=data.name, price_cents=data.price_cents)
    session.add(item)
    await session.flush()  # the database gives the id now; the commit follows the handler
    return _out(item)


@router.get("")
async def list_items(session: Session, page: ByPage) -> Page[ItemOut]:
    """Items by page: `limit` of them after skipping `offset`, and how many there are."""
    return await paginate(session, select(Item).order_by(Item.id), page, ItemOut)


@router.get("/feed")
async def feed(session: Session, page: ByCursor) -> CursorPage[ItemOut]:
    """Items in id order by cursor: pass `next_cursor` back to continue (stable under inserts)."""
    return await paginate_cursor(session, select(Item), page, Item.id, ItemOut)


@router.get("/{item_id}")
async def read_item(item_id: int, session: Session) -> ItemOut:
    return _out(await _find(session, item_id))


@router.put("/{item_id}")
async def replace_item(item_id: int, data: ItemIn, session: Session) -> ItemOut:
    item = await _find(session, item_id)
    item.name, item.price_cents = data.name, data.price_cents
    return _out(item)


@router.delete("/{item_id}", status_code=204)
async def delete_item(item_id: int, session: Session) -> Response:
    await session.delete(await _find(session, item_id))
    return Response(status_code=204)
