"""The app: a health check, logging in (`auth.py`) and the item routes of `items.py`; the API
described at /docs, where *Authorize* logs in."""

from velocipy import FormLimits, VelociPy

from . import auth
from .items import ItemStore, router


def create_app() -> VelociPy:
    """A new app with an empty store (tests make one each, so data never leaks between them)."""
    app = VelociPy(
        title="Items API",
        description="Items with a name, a price, tags and an image.",
        # Uploads: one file per request, at most 2 MiB (a larger one is answered 413).
        form_limits=FormLimits(max_files=1, max_file_size=2 * 1024 * 1024),
    )
    app.state.store = ItemStore()
    app.include_router(auth.router)
    app.include_router(router)

    @app.get("/health", tags=["health"])
    async def health() -> dict[str, str]:
        """Answer 200 while the app is up."""
        return {"status": "ok"}

    return app


app = create_app()
