"""Thin wrappers that tell the supervisor whether the app's startup (lifespan) worked.

Servers only log a failed startup; the supervisor needs it as data (file, line, message) to show
it once and serve it as a 503. The ASGI guard intercepts only the lifespan scope; the RSGI guard
re-exports the app's own ``__rsgi__`` so requests do not pass through it at all.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

FailureSink = Callable[[BaseException | str], None]
ReadySink = Callable[[], None]
ASGIReceive = Callable[[], Awaitable[dict[str, Any]]]
ASGISend = Callable[[dict[str, Any]], Awaitable[None]]

EXIT_STARTUP_FAILED = 3


class ASGIStartupGuard:
    """ASGI wrapper: a failing lifespan startup is reported, then answered ``startup.failed``.

    ``on_ready`` (granian ASGI) is called when the startup completes; uvicorn reports readiness
    itself, once it listens.
    """

    def __init__(
        self, app: Any, on_failure: FailureSink, on_ready: ReadySink | None = None
    ) -> None:
        self.app = app
        self.on_failure = on_failure
        self.on_ready = on_ready

    async def __call__(self, scope: dict[str, Any], receive: ASGIReceive, send: ASGISend) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        started = False
        failed_message: str | None = None
        recorder = _ExceptionRecorder()  # frameworks that catch the error usually log it
        logging.getLogger().addHandler(recorder)

        async def watching_send(message: dict[str, Any]) -> None:
            nonlocal started, failed_message
            if message["type"] == "lifespan.startup.complete":
                started = True
            elif message["type"] == "lifespan.startup.failed":
                failed_message = str(message.get("message") or "lifespan startup failed")
            if message["type"].startswith("lifespan.startup."):
                logging.getLogger().removeHandler(recorder)
                if failed_message is not None:
                    self.on_failure(recorder.matching(failed_message) or failed_message)
            await send(message)
            if started and message["type"] == "lifespan.startup.complete" and self.on_ready:
                self.on_ready()

        try:
            await self.app(scope, receive, watching_send)
        except Exception as exc:
            if started:
                raise
            logging.getLogger().removeHandler(recorder)
            if failed_message is None:
                self.on_failure(exc)
                await send({"type": "lifespan.startup.failed", "message": str(exc)})


class _ExceptionRecorder(logging.Handler):
    """Keeps the last exception logged with a traceback (to point at the failing line).

    While it is the root logger's only handler it passes the other records on to
    :data:`logging.lastResort`, as if it were not there; the traceback itself is printed once,
    by the supervisor.
    """

    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.exception: BaseException | None = None

    def matching(self, message: str) -> BaseException | None:
        """The recorded exception if it is the one ``message`` talks about."""
        if self.exception is not None and str(self.exception) in message:
            return self.exception
        return None

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[1] is not None:
            self.exception = record.exc_info[1]
            return
        fallback = logging.lastResort
        alone = logging.getLogger().handlers == [self]
        if alone and fallback is not None and record.levelno >= fallback.level:
            fallback.handle(record)


class RSGIStartupGuard:
    """RSGI app wrapper: a raising ``__rsgi_init__`` is reported and ends the worker quietly."""

    def __init__(self, app: Any, on_failure: FailureSink, on_ready: ReadySink) -> None:
        if not hasattr(app, "__rsgi__"):
            raise TypeError(f"{type(app).__name__} has no __rsgi__: it cannot be served over RSGI")
        self.app = app
        self.on_failure = on_failure
        self.on_ready = on_ready
        self.__rsgi__ = app.__rsgi__  # PERF: granian calls the app's own method per request

    def __rsgi_init__(self, loop: Any) -> None:
        init = getattr(self.app, "__rsgi_init__", None)
        recorder = _ExceptionRecorder()
        logging.getLogger().addHandler(recorder)
        try:
            if init is not None:
                init(loop)
        except Exception as exc:
            self.on_failure(exc)
            os._exit(EXIT_STARTUP_FAILED)  # granian would print the traceback a second time
        finally:
            logging.getLogger().removeHandler(recorder)
        self.on_ready()

    def __rsgi_del__(self, loop: Any) -> None:
        finish = getattr(self.app, "__rsgi_del__", None)
        if finish is not None:
            finish(loop)
