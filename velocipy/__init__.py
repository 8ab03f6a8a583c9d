"""VelociPy: a small, fast web framework whose one app runs on ASGI and RSGI."""

from typing import TYPE_CHECKING, Any

from velocipy.app import VelociPy
from velocipy.background import BackgroundTask, BackgroundTasks
from velocipy.datastructures import URL, Address, Headers, QueryParams, State
from velocipy.dependencies import Depends
from velocipy.exceptions import (
    HTTPException,
    RequestValidationError,
    WebSocketDisconnect,
    WebSocketException,
)
from velocipy.forms import FormData, FormLimits, UploadFile
from velocipy.params import Body, Cookie, File, Form, Header, Query
from velocipy.requests import Request
from velocipy.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from velocipy.routers import APIRouter
from velocipy.websockets import WebSocket

if TYPE_CHECKING:
    from velocipy.security.oauth2 import Security, SecurityScopes

__all__ = [
    "URL",
    "APIRouter",
    "Address",
    "BackgroundTask",
    "BackgroundTasks",
    "Body",
    "Cookie",
    "Depends",
    "File",
    "FileResponse",
    "Form",
    "FormData",
    "FormLimits",
    "HTMLResponse",
    "HTTPException",
    "Header",
    "Headers",
    "JSONResponse",
    "PlainTextResponse",
    "Query",
    "QueryParams",
    "RedirectResponse",
    "Request",
    "RequestValidationError",
    "Response",
    "Security",
    "SecurityScopes",
    "State",
    "StreamingResponse",
    "UploadFile",
    "VelociPy",
    "WebSocket",
    "WebSocketDisconnect",
    "WebSocketException",
]

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """``Security`` and ``SecurityScopes`` as FastAPI users import them, from the package root;
    imported on first use, so ``import velocipy`` does not load the security modules."""
    if name in ("Security", "SecurityScopes"):
        from velocipy.security import oauth2

        return getattr(oauth2, name)
    raise AttributeError(f"module 'velocipy' has no attribute {name!r}")
