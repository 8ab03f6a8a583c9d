"""The app: a health check and the item routes of `items.py`."""

from velocipy import VelociPy

from .items import ItemStore, items_router


def create_app() -> VelociPy:
    """A new app with an empty store (tests make one each, so data never leaks between them)."""
    app = VelociPy()
    app.include_router(items_router(ItemStore()))

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


app = create_app()
