"""velocipy.contrib.sqlalchemy in process (ASGI and RSGI): commit and rollback per request, per
WebSocket connection and per WebSocket message; the engine's start-up errors; paginate helpers."""

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated

import msgspec
import pytest
from sqlalchemy import String, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from velocipy import Depends, HTTPException, VelociPy, WebSocket, WebSocketDisconnect
from velocipy.contrib.sqlalchemy import Database, async_url
from velocipy.exceptions import StartupError
from velocipy.responses import StreamingResponse
from velocipy.testing import IncompleteResponse, TestClient
from velocipy.testing.errors import WebSocketClosed


class Base(DeclarativeBase):
    pass


class Row(Base):
    __tablename__ = "rows"
    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(String(50))


class Texts(msgspec.Struct):
    texts: list[str]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    file = tmp_path / "rows.db"
    with sqlite3.connect(file) as connection:
        connection.execute("CREATE TABLE rows (id INTEGER PRIMARY KEY, text VARCHAR(50))")
    return file


def stored(path: Path) -> list[str]:
    with sqlite3.connect(path) as connection:
        return [row[0] for row in connection.execute("SELECT text FROM rows ORDER BY id")]


def make_app(path: Path) -> tuple[VelociPy, Database]:
    database = Database(f"sqlite:///{path}")
    Session = Annotated[AsyncSession, Depends(database.session)]
    Engine = Annotated[AsyncEngine, Depends(database.engine, scope="app")]
    app = VelociPy()

    @app.post("/rows/{text}")
    async def add(text: str, session: Session, fail: int = 0) -> str:
        session.add(Row(text=text))
        await session.flush()
        if fail:
            raise HTTPException(409, "refused after writing")
        return text

    @app.post("/streamed/{text}")
    async def streamed(text: str, session: Session, fail: int = 0) -> StreamingResponse:
        """Writes, then streams an answer that fails half-way when asked to."""
        session.add(Row(text=text))
        await session.flush()

        async def body() -> AsyncIterator[bytes]:
            yield b"first\n"
            if fail:
                raise RuntimeError("the stream failed after it started")
            yield b"second\n"

        return StreamingResponse(body())

    @app.get("/rows")
    async def rows(session: Session) -> Texts:
        return Texts(list((await session.scalars(select(Row.text).order_by(Row.id))).all()))

    @app.websocket("/connection")
    async def per_connection(websocket: WebSocket, session: Session) -> None:
        """Everything the connection writes commits when it ends well, else rolls back."""
        await websocket.accept()
        while (text := await websocket.receive_text()) != "bye":
            if text == "fail":
                raise RuntimeError("the connection failed")
            session.add(Row(text=text))
            await session.flush()
            await websocket.send_text(f"added {text}")
        await websocket.close(1000)

    @app.websocket("/messages")
    async def per_message(websocket: WebSocket, engine: Engine) -> None:
        """Each message is its own transaction."""
        await websocket.accept()
        try:
            while True:
                text = await websocket.receive_text()
                try:
                    async with database.transaction(engine) as session:
                        session.add(Row(text=text.removesuffix("!")))
                        await session.flush()
                        if text.endswith("!"):
                            raise ValueError(text)
                except ValueError:
                    await websocket.send_text(f"rolled back {text}")
                else:
                    await websocket.send_text(f"committed {text}")
        except WebSocketDisconnect:
            pass

    return app, database


def test_a_request_commits_on_success_and_rolls_back_on_error(protocol: str, path: Path) -> None:
    app, _ = make_app(path)
    with TestClient(app, interface=protocol) as client:  # type: ignore[arg-type]
        assert client.post("/rows/kept").status_code == 200
        assert client.post("/rows/lost?fail=1").status_code == 409
        assert stored(path) == ["kept"]  # the rollback ran before the 409 was answered
        assert client.get("/rows").json() == {"texts": ["kept"]}
    assert stored(path) == ["kept"]


def test_a_stream_that_fails_after_it_started_rolls_back(protocol: str, path: Path) -> None:
    """The hardening issue's rule: the provider sees the body's exception, so the session rolls
    back; a stream that ends well commits."""
    app, _ = make_app(path)
    client = TestClient(app, interface=protocol, raise_server_exceptions=False)  # type: ignore[arg-type]
    with client:
        assert client.post("/streamed/kept").text == "first\nsecond\n"
        if protocol == "asgi":  # an ASGI server drops the connection: the client sees it cut
            with pytest.raises(IncompleteResponse):
                client.post("/streamed/lost?fail=1")
        else:  # RSGI cannot abort a stream: the body ends early, normally
            assert client.post("/streamed/lost?fail=1").text == "first\n"
        assert client.get("/rows").json() == {"texts": ["kept"]}
    assert stored(path) == ["kept"]


def test_a_websocket_connection_is_one_transaction(protocol: str, path: Path) -> None:
    app, _ = make_app(path)
    with TestClient(app, interface=protocol) as client:  # type: ignore[arg-type]
        with client.websocket_connect("/connection") as ws:
            for text in ("a", "b"):
                ws.send_text(text)
                assert ws.receive_text() == f"added {text}"
            ws.send_text("bye")
            with pytest.raises(WebSocketClosed):  # the server closed first: no client close
                ws.receive_text()
        assert stored(path) == ["a", "b"]  # committed once the handler returned
        with client.websocket_connect("/connection") as ws:
            ws.send_text("c")
            assert ws.receive_text() == "added c"
            ws.send_text("fail")
            with pytest.raises(WebSocketClosed) as closed:
                ws.receive_text()
            # RSGI cannot send close codes: granian's clients see 1005 (documented)
            assert closed.value.code == (1011 if protocol == "asgi" else 1005)
        assert stored(path) == ["a", "b"]


def test_a_websocket_message_is_one_transaction(protocol: str, path: Path) -> None:
    app, _ = make_app(path)
    with TestClient(app, interface=protocol) as client:  # type: ignore[arg-type]
        with client.websocket_connect("/messages") as ws:
            answers = []
            for text in ("one", "two!", "three"):
                ws.send_text(text)
                answers.append(ws.receive_text())
            assert answers == ["committed one", "rolled back two!", "committed three"]
            assert stored(path) == ["one", "three"]  # while the connection is still open


def test_the_engine_is_made_at_startup_and_disposed_of_at_shutdown(path: Path) -> None:
    app, database = make_app(path)
    scope = app.dependency_overrides.app_scope
    with TestClient(app):
        engine = scope.values[database.engine]
        assert isinstance(engine, AsyncEngine)
        assert engine.pool.checkedout() == 0
    assert database.engine not in scope.values


def test_an_engine_that_cannot_be_made_fails_startup_without_the_password(path: Path) -> None:
    app, _ = make_app(path)
    app.dependency_overrides.app_scope.values.clear()
    database = Database("mysql+nodriver://user:hunter2@db.internal/shop")

    @app.get("/other")
    async def other(session: Annotated[AsyncSession, Depends(database.session)]) -> str:
        return "never"

    with pytest.raises(StartupError) as raised:
        asyncio.run(app.startup())
    message = str(raised.value)
    assert message == (
        "app-scoped dependency Database.engine: cannot make a database engine for "
        "mysql+nodriver://user:***@db.internal/shop: Can't load plugin: "
        "sqlalchemy.dialects:mysql.nodriver"
    )
    assert "hunter2" not in message
    assert "\n" not in message
    assert repr(database) == "Database(...)"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("sqlite:///app.db", "sqlite+aiosqlite:///app.db"),
        ("postgresql://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgres://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
    ],
)
def test_the_url_chooses_the_async_driver(given: str, expected: str) -> None:
    assert async_url(given) == expected


def test_a_url_without_a_scheme_is_a_startup_error() -> None:
    with pytest.raises(StartupError, match="the database URL has no scheme"):
        async_url("app.db")
