"""One route behind the stack a real app carries, in VelociPy, FastAPI and Litestar.

``POST /orders`` passes CORS (an allowed origin, credentials), GZip (the answer is about 1.5
KiB, so it is compressed), a signed-cookie session (read and written), a bearer-token check,
a ``Depends`` chain of three (config -> repository -> service) and a validated JSON body.
Every provider is ``async def`` in all three apps: a plain ``def`` provider runs in a worker
thread in VelociPy and FastAPI (not in Litestar), and that hop alone would cost more than the
rest of the chain, so it would measure a thread pool rather than the frameworks.
``GET /login`` starts the session the timed requests send back, and ``/plaintext`` answers
the servers' readiness check. Each framework's bare route is its plaintext route in the HTTP
tier's app (``peers.py``), which has none of this. No ``from __future__ import annotations``:
the handlers' annotations are objects, so the frameworks need not resolve names local to a
factory.
"""

from collections.abc import Callable
from typing import Any

ORIGIN = "https://app.example.com"
TOKEN = "bench-token"
SECRET = "bench-session-secret-0123456789abcdef"
ORDER = b'{"item": "book", "quantity": 2, "note": "gift wrap"}'
LINES = 24  # line items in each answer: about 1.5 KiB of JSON, above GZip's 500-byte minimum


def answer(item: str, quantity: int, user: str, visits: int, service: dict[str, Any]) -> Any:
    lines = [{"line": n, "item": item, "quantity": quantity, "price": 12.5} for n in range(LINES)]
    return {"user": user, "visits": visits, "service": service["name"], "lines": lines}


def settings() -> dict[str, str]:
    return {"name": "orders", "currency": "EUR"}


def velocipy_app(interface: str) -> Any:
    from typing import Annotated

    import msgspec

    from velocipy import Depends, PlainTextResponse, Request, VelociPy
    from velocipy.middleware import CORSMiddleware, GZipMiddleware, SessionMiddleware
    from velocipy.security import HTTPAuthorizationCredentials, HTTPBearer, forbidden

    class Order(msgspec.Struct):
        item: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
        quantity: Annotated[int, msgspec.Meta(gt=0, le=1000)]
        note: str | None = None

    bearer = HTTPBearer()

    async def user(credentials: HTTPAuthorizationCredentials = Depends(bearer)) -> str:
        if credentials.credentials != TOKEN:
            raise forbidden("unknown token")
        return "bench"

    async def config() -> dict[str, str]:
        return settings()

    async def repository(config: dict[str, str] = Depends(config)) -> dict[str, str]:
        return {"name": config["name"], "table": "orders"}

    async def service(repo: dict[str, str] = Depends(repository)) -> dict[str, Any]:
        return {"name": repo["name"], "repository": repo}

    app = VelociPy()
    app.add_middleware(
        CORSMiddleware,
        allow_origins=[ORIGIN],
        allow_methods=["GET", "POST"],
        allow_headers=["authorization", "content-type"],
        allow_credentials=True,
    )
    app.add_middleware(GZipMiddleware, minimum_size=500)
    app.add_middleware(SessionMiddleware, secret_key=SECRET)

    @app.get("/plaintext")
    async def plaintext() -> PlainTextResponse:
        return PlainTextResponse(b"Hello, World!")

    @app.get("/login")
    async def login(request: Request) -> dict[str, str]:
        request.session["visits"] = 0
        return {"session": "started"}

    async def orders(
        order: Order, request: Request, who: str = Depends(user), svc: Any = Depends(service)
    ) -> Any:
        visits = request.session.get("visits", 0) + 1
        request.session["visits"] = visits
        return answer(order.item, order.quantity, who, visits, svc)

    app.post("/orders")(orders)
    return app


def fastapi_app(interface: str) -> Any:
    if interface != "asgi":
        return None
    try:
        from fastapi import Depends, FastAPI, HTTPException, Request
        from fastapi.middleware.cors import CORSMiddleware
        from fastapi.middleware.gzip import GZipMiddleware
        from fastapi.responses import PlainTextResponse
        from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
        from pydantic import BaseModel, Field
        from starlette.middleware.sessions import SessionMiddleware
    except ImportError:
        return None

    class Order(BaseModel):
        item: str = Field(min_length=1, max_length=100)
        quantity: int = Field(gt=0, le=1000)
        note: str | None = None

    bearer = HTTPBearer()

    async def user(credentials: HTTPAuthorizationCredentials = Depends(bearer)) -> str:
        if credentials.credentials != TOKEN:
            raise HTTPException(403, "unknown token")
        return "bench"

    async def config() -> dict[str, str]:
        return settings()

    async def repository(config: Any = Depends(config)) -> dict[str, str]:
        return {"name": config["name"], "table": "orders"}

    async def service(repo: Any = Depends(repository)) -> dict[str, Any]:
        return {"name": repo["name"], "repository": repo}

    app = FastAPI()
    app.add_middleware(SessionMiddleware, secret_key=SECRET)
    app.add_middleware(GZipMiddleware, minimum_size=500)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=[ORIGIN],
        allow_methods=["GET", "POST"],
        allow_headers=["authorization", "content-type"],
        allow_credentials=True,
    )  # added last: outermost, as in VelociPy (the first added there is the outermost)

    async def plaintext() -> Any:
        return PlainTextResponse(b"Hello, World!")

    async def login(request: Request) -> Any:
        request.session["visits"] = 0
        return {"session": "started"}

    async def orders(
        order: Order, request: Request, who: str = Depends(user), svc: Any = Depends(service)
    ) -> Any:
        visits = request.session.get("visits", 0) + 1
        request.session["visits"] = visits
        return answer(order.item, order.quantity, who, visits, svc)

    app.get("/plaintext")(plaintext)
    app.get("/login")(login)
    app.post("/orders")(orders)
    return app


def litestar_app(interface: str) -> Any:
    if interface != "asgi":
        return None
    try:
        from typing import Annotated

        import msgspec
        from litestar import Litestar, MediaType, Request, get, post
        from litestar.config.compression import CompressionConfig
        from litestar.config.cors import CORSConfig
        from litestar.di import Provide
        from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
        from litestar.middleware.session.server_side import ServerSideSessionConfig
    except ImportError:
        return None

    class Order(msgspec.Struct):
        item: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
        quantity: Annotated[int, msgspec.Meta(gt=0, le=1000)]
        note: str | None = None

    async def user(request: Request) -> str:  # Litestar has no bearer provider: a guard-like dep
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise NotAuthorizedException("Not authenticated")
        if token != TOKEN:
            raise PermissionDeniedException("unknown token")
        return "bench"

    async def config() -> dict[str, str]:
        return settings()

    async def repository(config: dict[str, str]) -> dict[str, str]:
        return {"name": config["name"], "table": "orders"}

    async def service(repository: dict[str, str]) -> dict[str, Any]:
        return {"name": repository["name"], "repository": repository}

    async def plaintext() -> bytes:
        return b"Hello, World!"

    async def login(request: Request) -> dict[str, str]:
        request.session["visits"] = 0
        return {"session": "started"}

    async def orders(data: Order, request: Request, user: str, service: dict[str, Any]) -> Any:
        visits = request.session.get("visits", 0) + 1
        request.session["visits"] = visits
        return answer(data.item, data.quantity, user, visits, service)

    return Litestar(
        route_handlers=[
            get("/plaintext", media_type=MediaType.TEXT)(plaintext),
            get("/login")(login),
            post(
                "/orders",
                status_code=200,
                dependencies={
                    "user": Provide(user),
                    "config": Provide(config),
                    "repository": Provide(repository),
                    "service": Provide(service),
                },
            )(orders),
        ],
        cors_config=CORSConfig(
            allow_origins=[ORIGIN],
            allow_methods=["GET", "POST"],
            allow_headers=["authorization", "content-type"],
            allow_credentials=True,
        ),
        compression_config=CompressionConfig(backend="gzip", minimum_size=500),
        middleware=[ServerSideSessionConfig().middleware],
        logging_config=None,
    )


FACTORIES: dict[str, Callable[[str], Any]] = {
    "velocipy": velocipy_app,
    "fastapi": fastapi_app,
    "litestar": litestar_app,
}
