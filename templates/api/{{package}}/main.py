"""The app: a health check and the item routes of `items.py`."""

from velocipy import FormLimits, VelociPy

from .items import ItemStore, items_router


def create_app() -> VelociPy:
    """A new app with an empty store (tests make one each, so data never leaks between them)."""
    # Uploads: one file per request, at most 2 MiB (a larger one is answered 413).
    app = VelociPy(form_limits=FormLimits(max_files=1, max_file_size=2 * 1024 * 1024))
    app.include_router(items_router(ItemStore()))

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


app = create_app()
