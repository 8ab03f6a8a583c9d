"""The app: the item routes on a database, a health check that asks the database, /docs."""

from sqlalchemy import text
from velocipy import VelociPy

from .database import Engine
from .items import router


def create_app() -> VelociPy:
    app = VelociPy(title="Items API", description="Items stored with SQLAlchemy.")
    app.include_router(router)

    @app.get("/health", tags=["health"])
    async def health(engine: Engine) -> dict[str, str]:
        """200 while the app is up and its database answers."""
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        return {"status": "ok", "database": engine.dialect.name}

    return app


app = create_app()
