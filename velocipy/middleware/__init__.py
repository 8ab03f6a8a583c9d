"""Class middleware and the built-ins: ``app.add_middleware(CORSMiddleware, allow_origins=[...])``.

Each built-in is written against the neutral request/response, so it runs on ASGI and RSGI;
the first middleware added runs outermost (see docs/middleware.md).
"""

from velocipy.middleware.base import CallNext, Middleware
from velocipy.middleware.cors import CORSMiddleware
from velocipy.middleware.gzip import GZipMiddleware
from velocipy.middleware.httpsredirect import HTTPSRedirectMiddleware
from velocipy.middleware.proxyheaders import ProxyHeadersMiddleware
from velocipy.middleware.securityheaders import SecurityHeadersMiddleware
from velocipy.middleware.sessions import SessionMiddleware
from velocipy.middleware.trustedhost import TrustedHostMiddleware
from velocipy.middleware.websocket_origin import WebSocketOriginMiddleware

__all__ = [
    "CORSMiddleware",
    "CallNext",
    "GZipMiddleware",
    "HTTPSRedirectMiddleware",
    "Middleware",
    "ProxyHeadersMiddleware",
    "SecurityHeadersMiddleware",
    "SessionMiddleware",
    "TrustedHostMiddleware",
    "WebSocketOriginMiddleware",
]
