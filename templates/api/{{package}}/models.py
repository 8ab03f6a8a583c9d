"""The data the API accepts and returns, as msgspec Structs.

Constraints live in the types (`msgspec.Meta`), so a body that breaks them is answered with
422 and a list of errors before any handler runs.
"""

from typing import Annotated

import msgspec

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
Price = Annotated[float, msgspec.Meta(gt=0)]
Tag = Annotated[str, msgspec.Meta(min_length=1, max_length=30)]


class ItemIn(msgspec.Struct, forbid_unknown_fields=True):
    """What a client sends to create or replace an item."""

    name: Name
    price: Price
    tags: list[Tag] = []


class Item(msgspec.Struct):
    """An item as the API returns it."""

    id: int
    name: str
    price: float
    tags: list[str]


class Image(msgspec.Struct):
    """An item's uploaded image, as the API describes it."""

    filename: str
    content_type: str
    size: int
