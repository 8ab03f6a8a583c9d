"""Startup and shutdown, owned by the core and triggered by either protocol adapter."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    from velocipy.application import Application

__all__ = ["Lifespan", "LifespanFactory"]

logger = logging.getLogger("velocipy")

LifespanFactory: TypeAlias = Callable[[Any], AbstractAsyncContextManager[Any]]


class Lifespan:
    """Makes app-scoped dependencies, runs ``on_startup`` callables, then enters
    ``lifespan(app)``; shutdown runs in reverse.

    A mapping yielded by the lifespan context is copied onto ``app.state``.
    """

    def __init__(
        self,
        app: Application,
        factory: LifespanFactory | None,
        on_startup: Sequence[Callable[[], Any]],
        on_shutdown: Sequence[Callable[[], Any]],
    ) -> None:
        self.app = app
        self.factory = factory
        self.on_startup = list(on_startup)
        self.on_shutdown = list(on_shutdown)
        self._context: AbstractAsyncContextManager[Any] | None = None
        self.started = False

    async def startup(self) -> None:
        if self.started:
            return
        app_scope = self.app.dependency_overrides.app_scope
        await app_scope.startup()  # app-scoped dependencies first: the rest may use them
        try:
            for callback in self.on_startup:
                await _call(callback)
            if self.factory is not None:
                context = self.factory(self.app)
                state = await context.__aenter__()
                self._context = context
                if isinstance(state, Mapping):
                    self.app.state.__dict__.update(state)
        except BaseException:
            await app_scope.shutdown()
            raise
        self.started = True

    async def shutdown(self) -> None:
        if not self.started:
            return
        self.started = False
        context, self._context = self._context, None
        try:
            if context is not None:
                await context.__aexit__(None, None, None)
            for callback in self.on_shutdown:
                await _call(callback)
        finally:  # app-scoped values are torn down even when a shutdown step failed
            await self.app.dependency_overrides.app_scope.shutdown()


async def _call(callback: Callable[[], Any]) -> None:
    result = callback()
    if inspect.isawaitable(result):
        await result
