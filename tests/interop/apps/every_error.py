"""An app whose routes take a body with constraints, plus query, header and cookie parameters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import msgspec

from velocipy import Cookie, Depends, Header, VelociPy

app = VelociPy()


class Address(msgspec.Struct):
    city: Annotated[str, msgspec.Meta(min_length=1)]
    zip_code: Annotated[str, msgspec.Meta(pattern=r"^\d{5}$")]


class Item(msgspec.Struct):
    name: Annotated[str, msgspec.Meta(min_length=1)]
    price: Annotated[float, msgspec.Meta(ge=0)]
    quantity: int
    address: Address | None = None


@dataclass
class Order:
    reference: str
    count: int


@app.post("/items")
async def create_item(item: Item) -> dict[str, str]:
    return {"name": item.name}


@app.post("/items/{shop_id}")
async def create_in_shop(
    shop_id: int,
    item: Item,
    limit: int,
    x_tenant: Annotated[int, Header()],
    session: Annotated[int, Cookie()],
) -> dict[str, int]:
    return {"shop": shop_id, "limit": limit}


@app.post("/orders")
async def create_order(order: Order) -> dict[str, int]:
    return {"count": order.count}


def page_size(size: int = 10) -> int:
    return size


@app.put("/shops/{shop_id}/items")
async def replace_item(
    shop_id: int, item: Item, size: Annotated[int, Depends(page_size)]
) -> dict[str, int]:
    return {"shop": shop_id, "size": size}
