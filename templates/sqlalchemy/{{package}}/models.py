"""The `items` table and the JSON shapes of an item (what clients send and what they get)."""

from typing import Annotated

import msgspec
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from .database import Base


class Item(Base):
    __tablename__ = "items"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    price_cents: Mapped[int]


class ItemIn(msgspec.Struct, forbid_unknown_fields=True):
    """What a client sends to create or replace an item."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    price_cents: Annotated[int, msgspec.Meta(ge=0)]


class ItemOut(msgspec.Struct):
    """An item as the API answers it."""

    id: int
    name: str
    price_cents: int
