"""The database: an engine made once per worker and a session per request.

`Session` commits after a successful handler and rolls back when it fails; `Engine` is the
worker's engine (for work outside a request, like a WebSocket message's transaction).
"""

from typing import Annotated

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import DeclarativeBase
from velocipy import Depends
from velocipy.contrib.sqlalchemy import Database

from .settings import get_settings


class Base(DeclarativeBase):
    """The tables' base class; Alembic compares migrations against its metadata."""


# the URL is read when the engine is made, at start-up: a bad setting stops it with one line
database = Database(lambda: get_settings().database_url)
Engine = Annotated[AsyncEngine, Depends(database.engine, scope="app")]
Session = Annotated[AsyncSession, Depends(database.session)]
