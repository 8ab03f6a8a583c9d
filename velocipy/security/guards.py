"""Guards: small callables on a route, router or app that decide before the handler runs.

``@app.get("/admin", guards=[is_admin])``, ``APIRouter(guards=[...])``, ``VelociPy(guards=[...])``.
A guard's parameters are bound like a dependency's (the ``Request`` or ``WebSocket``,
``Depends``/``Security`` values such as verified token claims), so it shares them with the
handler, computed once. It returns ``True``/``None`` to let the request through and ``False``
to refuse it with ``403``; or it raises its own ``HTTPException`` (a missing or bad credential
below it raises ``401``: not authenticated is not the same as not allowed).

Guards are compiled into the route's dependency plan at registration: a route without guards
never meets this module. On a WebSocket route a refusing guard refuses the handshake (``403``).
A plain ``def`` guard is called on the event loop, without a worker thread: it should only look
at the values it is given (do I/O in an ``async def`` guard or in a dependency).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable, Sequence
from typing import Annotated, Any, TypeAlias

from velocipy.dependencies import Depends
from velocipy.exceptions import HTTPException
from velocipy.security.oauth2 import Security, insufficient_scope

__all__ = ["Guard", "guard_dependencies", "requires_roles", "requires_scopes"]

Guard: TypeAlias = Callable[..., Any]  # returns bool | None, or an awaitable of it

_CHECKED: dict[Any, Callable[..., Any]] = {}  # guard -> the provider that enforces its answer


def _refused(guard: Any) -> HTTPException:
    name = getattr(guard, "__name__", type(guard).__name__)
    return HTTPException(403, f"Not allowed: refused by guard {name}")


def _checked(guard: Guard) -> Callable[..., Any]:
    """A provider with the guard's parameters that raises ``403`` when the guard says False."""
    known = _CHECKED.get(guard)
    if known is not None:
        return known
    decide: Callable[..., Any] = guard
    target: Callable[..., Any] = guard
    if not (inspect.isfunction(guard) or inspect.ismethod(guard)):
        instance: Any = guard
        target = instance.__call__  # an instance with __call__: its bound method's parameters
    if inspect.iscoroutinefunction(inspect.unwrap(target)):

        @functools.wraps(target)
        async def check_async(**kwargs: Any) -> None:
            if await decide(**kwargs) is False:
                raise _refused(guard)

        checked: Callable[..., Any] = check_async
    else:

        @functools.wraps(target)
        def check(**kwargs: Any) -> None:
            if decide(**kwargs) is False:
                raise _refused(guard)

        check.runs_inline = True  # type: ignore[attr-defined]
        checked = check
    _CHECKED[guard] = checked
    return checked


def guard_dependencies(guards: Iterable[Guard]) -> tuple[Depends, ...]:
    """The dependencies that run ``guards`` (made once per guard, shared by every route)."""
    unique = list(dict.fromkeys(guards))
    for guard in unique:
        if not callable(guard):  # a Guard by its type, but typing is not enforced at runtime
            raise TypeError(f"guards=[...]: {guard!r} is not callable")
    return tuple(Depends(_checked(guard)) for guard in unique)


def requires_scopes(credentials: Callable[..., Any], *scopes: str) -> Guard:
    """A guard: the verified token from ``credentials`` (e.g. a ``JWTBearer``) has ``scopes``.

    The scopes are asked through ``Security``, so they also appear in the OpenAPI document and
    a token without them is refused with ``403 insufficient_scope``.
    """

    def has_scopes(token: Any) -> bool:
        granted = getattr(token, "scopes", None)
        if granted is not None:  # providers that do not check SecurityScopes themselves
            missing = [scope for scope in scopes if scope not in granted]
            if missing:
                raise insufficient_scope(missing)
        return True

    has_scopes.__annotations__ = {"token": Annotated[Any, Security(credentials, scopes=scopes)]}
    has_scopes.__name__ = has_scopes.__qualname__ = f"requires_scopes({', '.join(scopes)})"
    return has_scopes


def requires_roles(credentials: Callable[..., Any], *roles: str, claim: str = "roles") -> Guard:
    """A guard: the verified claims from ``credentials`` list every one of ``roles``."""

    def has_roles(claims: Any) -> bool:
        held = claims.get(claim, ()) if hasattr(claims, "get") else getattr(claims, claim, ())
        return isinstance(held, Sequence) and all(role in held for role in roles)

    has_roles.__annotations__ = {"claims": Annotated[Any, Depends(credentials)]}
    has_roles.__name__ = has_roles.__qualname__ = f"requires_roles({', '.join(roles)})"
    return has_roles
