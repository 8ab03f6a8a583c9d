"""App-scoped dependencies: ``Depends(provider, scope="app")``, one value per worker.

Routes register their app-scoped providers when they are planned. At start-up (the lifespan)
every registered provider is called once, in registration order; a provider registered later
(or an app served without a lifespan) is called on first use, once even when requests race.
Generator providers are torn down at shutdown, newest first. HTTP and WebSocket routes of an
app share one :class:`AppScope`, so they see the same engine, client or settings object.

An app-scoped provider's parameters are other app-scoped dependencies or have defaults: it is
called outside any request, so it cannot read one (a ``TypeError`` at registration says so).
A provider that fails at start-up fails the start-up with a one-line :class:`StartupError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import AsyncGenerator, Callable, Coroutine, Generator, Mapping
from typing import Any

from velocipy.exceptions import StartupError
from velocipy.teardown import close_entered, next_of

__all__ = ["AppScope"]

_MISSING: Any = object()
_FAILED_IN = "_velocipy_app_provider"  # set on an exception: the provider that raised it


class AppScope:
    """The values of an app's app-scoped providers, keyed by the provider that made them."""

    def __init__(self) -> None:
        self.providers: list[Callable[..., Any]] = []
        self.values: dict[Callable[..., Any], Any] = {}
        self.overrides: Mapping[Callable[..., Any], Callable[..., Any]] = {}
        self._entered: list[Any] = []
        self._making: dict[Callable[..., Any], asyncio.Future[Any]] = {}

    def register(self, provider: Callable[..., Any]) -> Callable[[], Coroutine[Any, Any, Any]]:
        """Check ``provider`` (and the app-scoped providers it asks for); return a zero-argument
        coroutine function that gives its value (the step a route's plan calls)."""
        self._check(provider, (provider,))
        if provider not in self.providers:
            self.providers.append(provider)
        values = self.values

        async def app_value() -> Any:
            value = values.get(provider, _MISSING)
            if value is _MISSING:
                value = await self.get(provider)
            return value

        app_value.__qualname__ = f"app_value[{_name(provider)}]"
        return app_value

    async def startup(self) -> None:
        """Make every registered provider's value; the first failure is a one-line error."""
        for provider in list(self.providers):
            try:
                await self.get(provider)
            except Exception as exc:
                await self.shutdown()
                failed = _name(getattr(exc, _FAILED_IN, provider))  # the innermost provider
                if isinstance(exc, StartupError):
                    message = f"app-scoped dependency {failed}: {exc}"
                else:
                    message = f"app-scoped dependency {failed} failed: {type(exc).__name__}: {exc}"
                raise StartupError(message) from exc

    async def shutdown(self) -> None:
        """Tear down generator providers, newest first; values are made again on next use."""
        self.values.clear()
        if self._entered:
            await close_entered(self._entered)

    async def get(self, provider: Callable[..., Any]) -> Any:
        """The value of ``provider``, made now if this worker has none yet."""
        value = self.values.get(provider, _MISSING)
        if value is not _MISSING:
            return value
        making = self._making.get(provider)
        if making is not None:  # another request is making it: wait for the same value
            return await asyncio.shield(making)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._making[provider] = future
        try:
            value = await self._make(provider)
        except BaseException as exc:
            if not hasattr(exc, _FAILED_IN):  # the first (innermost) provider it left
                with contextlib.suppress(AttributeError, TypeError):
                    setattr(exc, _FAILED_IN, provider)
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning when nobody waits
            raise
        finally:
            del self._making[provider]
        self.values[provider] = value
        future.set_result(value)
        return value

    async def _make(self, provider: Callable[..., Any]) -> Any:
        kwargs: dict[str, Any] = {}
        for name, depends in _app_parameters(provider):
            needed = depends.dependency
            assert needed is not None  # checked at registration
            kwargs[name] = await self.get(self.overrides.get(needed, needed))
        target = _call_target(provider)
        if inspect.isasyncgenfunction(target):
            agen: AsyncGenerator[Any, None] = provider(**kwargs)
            value = await agen.__anext__()
            self._entered.append(agen)
            return value
        if inspect.isgeneratorfunction(target):
            gen: Generator[Any, None, None] = provider(**kwargs)
            value = await asyncio.to_thread(next_of, gen)
            self._entered.append(gen)
            return value
        if inspect.iscoroutinefunction(target):
            return await provider(**kwargs)
        return await asyncio.to_thread(provider, **kwargs)

    def _check(self, provider: Callable[..., Any], chain: tuple[Callable[..., Any], ...]) -> None:
        for _, depends in _app_parameters(provider):
            needed = depends.dependency
            if needed is None:
                raise TypeError(
                    f"app-scoped provider {_name(provider)}: Depends() needs a provider"
                )
            needed = self.overrides.get(needed, needed)
            if needed in chain:
                cycle = " -> ".join(_name(p) for p in (*chain[chain.index(needed) :], needed))
                raise TypeError(f"dependency cycle: {cycle}")
            self._check(needed, (*chain, needed))


def _app_parameters(provider: Callable[..., Any]) -> list[tuple[str, Any]]:
    """``(name, Depends)`` of each parameter the provider needs; anything else is refused."""
    from velocipy.dependencies import Depends, _depends_of, _signature_target
    from velocipy.params import parameter_hints

    hints = parameter_hints(_signature_target(provider))
    found: list[tuple[str, Any]] = []
    for name, parameter in inspect.signature(provider).parameters.items():
        _, depends = _depends_of(hints.get(name), parameter.default)
        if isinstance(depends, Depends) and depends.scope == "app":
            found.append((name, depends))
        elif parameter.default is inspect.Parameter.empty and parameter.kind not in (
            inspect.Parameter.VAR_POSITIONAL,
            inspect.Parameter.VAR_KEYWORD,
        ):
            raise TypeError(
                f"app-scoped provider {_name(provider)}, parameter {name!r}: an app-scoped "
                "provider runs outside any request; it can only take other "
                'Depends(..., scope="app") values or parameters with defaults'
            )
    return found


def _call_target(provider: Callable[..., Any]) -> Any:
    if inspect.isfunction(provider) or inspect.ismethod(provider) or isinstance(provider, type):
        return inspect.unwrap(provider)
    return inspect.unwrap(type(provider).__call__)


def _name(obj: Any) -> str:
    if inspect.ismethod(obj) and isinstance(obj.__self__, type):  # a classmethod: its class
        return f"{obj.__self__.__qualname__}.{obj.__name__}"
    return str(getattr(obj, "__qualname__", None) or type(obj).__qualname__)
