"""Credentials, client addresses, sessions and forms from hostile clients on real servers.

Served by uvicorn and granian (RSGI and ASGI) in tests/interop/test_inputs_interop.py.
"""

from __future__ import annotations

from typing import Annotated

from velocipy import Depends, Request, VelociPy
from velocipy.middleware import SessionMiddleware
from velocipy.security import (
    HTTPAuthorizationCredentials,
    HTTPBasic,
    HTTPBasicCredentials,
    HTTPBearer,
)

app = VelociPy(middleware=[SessionMiddleware(secret_key="inputs-interop-secret-0123456789")])
basic = HTTPBasic(realm="inputs")
bearer = HTTPBearer()


@app.get("/hello")
async def hello() -> str:
    return "hello"


@app.get("/basic")
async def with_basic(credentials: Annotated[HTTPBasicCredentials, Depends(basic)]) -> str:
    return f"{credentials.username}:{credentials.password}"


@app.get("/bearer")
async def with_bearer(credentials: Annotated[HTTPAuthorizationCredentials, Depends(bearer)]) -> str:
    return credentials.credentials


@app.get("/client")
async def client(request: Request) -> dict[str, object]:
    address = request.client
    assert address is not None
    return {"host": address.host, "port": address.port, "port_type": type(address.port).__name__}


@app.post("/remember/{size}")
async def remember(request: Request, size: int) -> str:
    request.session["notes"] = "n" * size
    return "remembered"


@app.post("/form")
async def form(request: Request) -> dict[str, str]:
    return {name: str(value) for name, value in (await request.form()).items()}
