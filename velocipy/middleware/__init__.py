"""Class middleware and the built-ins: ``app.add_middleware(CORSMiddleware, allow_origins=[...])``.

Each built-in is written against the neutral request/response, so it runs on ASGI and RSGI;
the first middleware added runs outermost (see docs/middleware.md).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from velocipy.middleware.base import CallNext, Middleware

if TYPE_CHECKING:
    from velocipy.middleware.compression import CompressionMiddleware
    from velocipy.middleware.cors import CORSMiddleware
    from velocipy.middleware.gzip import GZipMiddleware
    from velocipy.middleware.httpsredirect import HTTPSRedirectMiddleware
    from velocipy.middleware.proxyheaders import ProxyHeadersMiddleware
    from velocipy.middleware.securityheaders import SecurityHeadersMiddleware
    from velocipy.middleware.sessions import SessionMiddleware
    from velocipy.middleware.trustedhost import TrustedHostMiddleware
    from velocipy.middleware.websocket_origin import WebSocketOriginMiddleware

# PERF: each built-in is imported when first named, so an app pays only for the ones it uses.
_BUILT_INS = {
    "CompressionMiddleware": "compression",
    "CORSMiddleware": "cors",
    "GZipMiddleware": "gzip",
    "HTTPSRedirectMiddleware": "httpsredirect",
    "ProxyHeadersMiddleware": "proxyheaders",
    "SecurityHeadersMiddleware": "securityheaders",
    "SessionMiddleware": "sessions",
    "TrustedHostMiddleware": "trustedhost",
    "WebSocketOriginMiddleware": "websocket_origin",
}

__all__ = [
    "CORSMiddleware",
    "CallNext",
    "CompressionMiddleware",
    "GZipMiddleware",
    "HTTPSRedirectMiddleware",
    "Middleware",
    "ProxyHeadersMiddleware",
    "SecurityHeadersMiddleware",
    "SessionMiddleware",
    "TrustedHostMiddleware",
    "WebSocketOriginMiddleware",
]


def __getattr__(name: str) -> Any:
    module = _BUILT_INS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
