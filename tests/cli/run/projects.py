"""Fixture projects for the `velocipy run` tests, written into ``tmp_path`` by each test.

The served app records every import (the importing pid) in ``<state>/imports.txt`` and its
lifespan shutdown in ``<state>/shutdown.txt``; the state folder lives outside the project, so
writing there never counts as a change.
"""

from __future__ import annotations

from pathlib import Path

APP_SOURCE = """\
import os
import pathlib

from velocipy import VelociPy, WebSocket

STATE = pathlib.Path(os.environ["VELOCIPY_TEST_STATE"])
with (STATE / "imports.txt").open("a") as marker:
    marker.write(f"{os.getpid()}\\n")


def on_startup() -> None:
    __STARTUP__


def on_shutdown() -> None:
    (STATE / "shutdown.txt").write_text("lifespan shutdown ran")


app = VelociPy(on_startup=[on_startup], on_shutdown=[on_shutdown])


@app.get("/")
async def index() -> str:
    return "__MESSAGE__"


@app.get("/write-log")
async def write_log() -> str:
    with open("app.log", "a") as log:
        log.write("a line the app logs\\n")
    with open("data.sqlite3", "a") as database:
        database.write("x")
    return "logged"


@app.websocket("/ws")
async def echo(ws: WebSocket) -> None:
    await ws.accept()
    async for text in ws.iter_text():
        await ws.send_text(text)
"""

STARTUP_OK = "return None"
STARTUP_FAILS = 'raise RuntimeError("startup exploded")'


def app_source(message: str, *, startup: str = STARTUP_OK) -> str:
    """A VelociPy app answering ``message`` on ``/``."""
    return APP_SOURCE.replace("__MESSAGE__", message).replace("__STARTUP__", startup)


def write_tree(root: Path, files: dict[str, str]) -> Path:
    """Create ``files`` (relative path -> text) under ``root``; return ``root``."""
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


ROUTES_APP = """\
from velocipy import APIRouter, VelociPy, WebSocket

app = VelociPy()
api = APIRouter(prefix="/api")


@app.get("/")
async def home() -> str:
    return "home"


@api.post("/items/{item_id:int}")
async def update_item(item_id: int) -> dict:
    '''Update an :class:`Item` by ``item_id`` (*one* at a time).'''
    return {"id": item_id}


@app.websocket("/chat")
async def chat_room(ws: WebSocket) -> None:
    await ws.accept()


app.include_router(api)
"""
