"""An app whose startup fails: every server must stop and show why."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from velocipy import VelociPy


@asynccontextmanager
async def lifespan(app: VelociPy) -> AsyncIterator[None]:
    raise RuntimeError("database unreachable: startup refused")
    yield


app = VelociPy(lifespan=lifespan)


@app.get("/")
async def index() -> str:
    return "never served"
