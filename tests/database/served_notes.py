"""The app the database tests serve with uvicorn and granian: settings, an app-scoped engine, a
session per request, a route that fails after writing, and a paginated listing."""

import functools
from collections.abc import AsyncIterator
from typing import Annotated, Any

import msgspec
from sqlalchemy import String, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from velocipy import Depends, VelociPy
from velocipy.contrib.sqlalchemy import Database, paginate
from velocipy.pagination import LimitOffset, Page, limit_offset
from velocipy.settings import SecretStr, Settings


class NotesSettings(Settings):
    env_prefix = "NOTES_"
    env_file = None
    pyproject = False

    database_url: SecretStr


@functools.cache
def get_settings() -> NotesSettings:
    return NotesSettings.load()


class Base(DeclarativeBase):
    pass


class Note(Base):
    __tablename__ = "notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(String(200))


class NoteIn(msgspec.Struct):
    text: str


class NoteOut(msgspec.Struct):
    id: int
    text: str


database = Database(lambda: get_settings().database_url)


async def create_schema(
    engine: Annotated[AsyncEngine, Depends(database.engine, scope="app")],
) -> AsyncIterator[None]:
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    yield


app = VelociPy(dependencies=[Depends(create_schema, scope="app")])
Session = Annotated[AsyncSession, Depends(database.session)]


@app.post("/notes", status_code=201)
async def add_note(note: NoteIn, session: Session) -> dict[str, Any]:
    row = Note(text=note.text)
    session.add(row)
    await session.flush()
    return {"id": row.id}


@app.post("/notes/failing")
async def add_note_then_fail(note: NoteIn, session: Session) -> dict[str, Any]:
    session.add(Note(text=note.text))
    await session.flush()  # the row is in the transaction: only a rollback removes it
    raise RuntimeError("the handler failed after writing")


@app.get("/notes")
async def list_notes(
    session: Session, page: Annotated[LimitOffset, Depends(limit_offset(default_limit=10))]
) -> Page[NoteOut]:
    return await paginate(session, select(Note).order_by(Note.id), page, NoteOut)
