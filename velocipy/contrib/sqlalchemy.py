"""SQLAlchemy 2 (async): an app-scoped engine and a session per request that commits or rolls back.

    database = Database("sqlite+aiosqlite:///./app.db")   # or a callable reading the settings
    Session = Annotated[AsyncSession, Depends(database.session)]

``database.engine`` is an app-scoped provider: the engine is made once per worker at start-up
and disposed of at shutdown. ``database.session`` is a request-scoped ``yield`` provider: it
opens an ``AsyncSession`` on that engine, commits once the handler succeeded (after the response
was sent, so a streamed body can still use the session) and rolls back when the handler, a later
provider or the stream raised. In a WebSocket handler the same dependency spans the connection;
``database.transaction(engine)`` gives one transaction per message instead.

URLs choose the driver: ``sqlite://`` runs on aiosqlite (the embedded default, nothing to
install beyond the extra), ``postgresql://`` (or ``postgres://``) on asyncpg.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import msgspec

try:
    from sqlalchemy import Select, func, select
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
    from sqlalchemy.orm import InstrumentedAttribute
except ImportError as exc:  # pragma: no cover - the message is the feature
    raise ImportError(
        "velocipy.contrib.sqlalchemy needs SQLAlchemy 2 with its async drivers: in a clone of "
        "VelociPy run pip install -e '.[sqlalchemy]' (or add sqlalchemy[asyncio], aiosqlite "
        "and asyncpg to your project's dependencies)"
    ) from exc

from velocipy.dependencies import Depends
from velocipy.exceptions import StartupError
from velocipy.pagination import Cursor, CursorPage, LimitOffset, Page, encode_cursor
from velocipy.settings import SecretStr

__all__ = ["Database", "async_url", "paginate", "paginate_cursor"]

T = TypeVar("T")

_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
}

URL = str | SecretStr


def async_url(url: URL) -> str:
    """The URL with the async driver of its database when it names none (``sqlite://`` ->
    ``sqlite+aiosqlite://``, ``postgresql://`` -> ``postgresql+asyncpg://``)."""
    text = url.get_secret_value() if isinstance(url, SecretStr) else url
    scheme, separator, rest = text.partition("://")
    if not separator:
        raise StartupError("the database URL has no scheme (expected sqlite:// or postgresql://)")
    return f"{_DRIVERS.get(scheme, scheme)}://{rest}"


class Database:
    """An async engine (app-scoped) and sessions on it (request-scoped), from one URL.

    ``url`` is the URL itself or a function returning it, called when the engine is made (at
    start-up), so it can read the settings. ``engine_options`` go to ``create_async_engine``,
    ``session_options`` to ``AsyncSession`` (``expire_on_commit`` defaults to False, so objects
    stay readable after the commit).
    """

    def __init__(
        self,
        url: URL | Callable[[], URL],
        *,
        engine_options: dict[str, Any] | None = None,
        session_options: dict[str, Any] | None = None,
    ) -> None:
        self.url = url
        self.engine_options = dict(engine_options or {})
        self.session_options = {"expire_on_commit": False, **(session_options or {})}
        engine_dependency = Depends(self.engine, scope="app")

        async def session(
            engine: AsyncEngine = engine_dependency,  # type: ignore[assignment]
        ) -> AsyncIterator[AsyncSession]:
            async with self.transaction(engine) as opened:
                yield opened

        session.__qualname__ = "Database.session"
        self.session = session

    def __repr__(self) -> str:  # never the URL: it may hold a password
        return "Database(...)"

    async def engine(self) -> AsyncIterator[AsyncEngine]:
        """The app-scoped provider of the engine: made at start-up, disposed of at shutdown."""
        given = self.url() if callable(self.url) else self.url
        url = async_url(given)
        try:
            engine = create_async_engine(url, **self.engine_options)
        except (ArgumentError, ImportError) as exc:
            shown = make_url(url).render_as_string(hide_password=True)
            raise StartupError(f"cannot make a database engine for {shown}: {exc}") from None
        try:
            yield engine
        finally:
            await engine.dispose()

    @asynccontextmanager
    async def transaction(self, engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
        """A session whose work is committed when the block ends, rolled back when it raises."""
        async with AsyncSession(engine, **self.session_options) as session:
            try:
                yield session
            except BaseException:
                await session.rollback()
                raise
            await session.commit()


async def paginate(
    session: AsyncSession, statement: Select[Any], page: LimitOffset, to: type[T] | None = None
) -> Page[T]:
    """One :class:`Page` of ``statement``'s rows (its ORM objects, or ``to`` structs built from
    their attributes) and the count of all of them."""
    total = await session.scalar(
        select(func.count()).select_from(statement.order_by(None).subquery())
    )
    rows = (await session.scalars(statement.limit(page.limit).offset(page.offset))).all()
    return Page(
        items=_converted(rows, to), total=int(total or 0), limit=page.limit, offset=page.offset
    )


async def paginate_cursor(
    session: AsyncSession,
    statement: Select[Any],
    page: Cursor,
    key: InstrumentedAttribute[Any],
    to: type[T] | None = None,
) -> CursorPage[T]:
    """One :class:`CursorPage` of ``statement`` ordered by the unique column ``key``: the items
    after the cursor's key, and the cursor of the last one when more follow."""
    if page.after is not None:
        statement = statement.where(key > page.after)
    found = list((await session.scalars(statement.order_by(key).limit(page.limit + 1))).all())
    more = len(found) > page.limit
    found = found[: page.limit]
    next_cursor = encode_cursor(getattr(found[-1], key.key)) if more and found else None
    return CursorPage(items=_converted(found, to), next_cursor=next_cursor)


def _converted(rows: Any, to: type[T] | None) -> list[T]:
    if to is None:
        return list(rows)
    return [msgspec.convert(row, to, from_attributes=True) for row in rows]
