"""An app that serves ``example.com`` and its subdomains behind a trusted loopback proxy.

Served by real uvicorn and granian processes in tests/interop/test_host_header_interop.py.
"""

from __future__ import annotations

from velocipy import Request, VelociPy, WebSocket
from velocipy.middleware import ProxyHeadersMiddleware, TrustedHostMiddleware

app = VelociPy(
    middleware=[
        ProxyHeadersMiddleware(trusted_proxies=["127.0.0.1", "::1"]),
        TrustedHostMiddleware(allowed_hosts=["example.com", "*.example.com"]),
    ]
)


@app.get("/host")
async def host(request: Request) -> dict[str, object]:
    client = request.client
    return {
        "host": request.headers.get("host"),
        "url": str(request.url),
        "client": [client.host, client.port] if client else None,
    }


@app.get("/hello")
async def hello() -> str:
    return "hello"


@app.websocket("/ws")
async def ws(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text(str(websocket.url))
    await websocket.close()
