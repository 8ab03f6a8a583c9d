"""VelociPy: a small, fast web framework whose one app runs on ASGI and RSGI."""

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
    "State",
    "StreamingResponse",
    "UploadFile",
    "VelociPy",
    "WebSocket",
    "WebSocketDisconnect",
    "WebSocketException",
]

__version__ = "0.1.0"
