"""Test VelociPy apps (or any ASGI/RSGI app) in process: ``TestClient`` and its errors.

This package imports only the standard library, msgspec and httpx (whose client follows
redirects, keeps cookies and decodes bodies for ``TestClient``), so app authors can use it in
their own test suites without installing servers.
"""

from .client import AsyncTestClient, TestClient, TestResponse
from .errors import (
    ASGIProtocolViolation,
    ClientDisconnected,
    IncompleteResponse,
    LifespanError,
    RSGIProtocolClosed,
    RSGIProtocolError,
    StreamNotReleased,
    TransportNotReleased,
    WebSocketClosed,
    WebSocketDenied,
    WorkerCrash,
)
from .messages import Headers
from .transcripts import TranscriptError, TranscriptMismatch, replay_transcript
from .websocket import AsyncWebSocketTestSession, WebSocketTestSession

__all__ = [
    "ASGIProtocolViolation",
    "AsyncTestClient",
    "AsyncWebSocketTestSession",
    "ClientDisconnected",
    "Headers",
    "IncompleteResponse",
    "LifespanError",
    "RSGIProtocolClosed",
    "RSGIProtocolError",
    "StreamNotReleased",
    "TestClient",
    "TestResponse",
    "TranscriptError",
    "TranscriptMismatch",
    "TransportNotReleased",
    "WebSocketClosed",
    "WebSocketDenied",
    "WebSocketTestSession",
    "WorkerCrash",
    "replay_transcript",
]
