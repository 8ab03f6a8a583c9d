"""``/health`` (the process answers) and ``/ready`` (what it needs answers too).

Readiness runs every registered check at once, each within ``timeout`` seconds. A check is a
function (sync or async) that raises or returns False when its service is not usable:
:func:`redis_check` pings a Redis client; a database check is the query your driver runs, e.g.
``health.add_check("db", lambda: pool.fetchval("SELECT 1"))``.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from velocipy.observability.instrument import Instrument
from velocipy.responses import JSONResponse

if TYPE_CHECKING:
    from velocipy.application import Application

__all__ = ["Health", "redis_check"]

Check = Callable[[], Awaitable[Any] | Any]


def redis_check(client: Any) -> Check:
    """A readiness check that pings ``client`` (a ``redis.asyncio`` client)."""

    async def ping_redis() -> bool:
        return bool(await client.ping())

    return ping_redis


class Health(Instrument):
    """``app.add_instrument(Health(checks={"redis": redis_check(client)}))``.

    ``GET health_path`` answers 200 ``{"status": "ok"}`` while the process serves. ``GET
    ready_path`` answers 200 ``{"status": "ready", "checks": {...}}`` when every check passed,
    else 503 ``{"status": "unavailable", ...}`` naming each failure (``"failed"`` with the
    error, or ``"timeout"``). A ``None`` path leaves that route out. Adds routes only: requests
    pay nothing for it.
    """

    def __init__(
        self,
        *,
        checks: Mapping[str, Check] | None = None,
        timeout: float = 2.0,
        health_path: str | None = "/health",
        ready_path: str | None = "/ready",
    ) -> None:
        if timeout <= 0:
            raise ValueError(f"the readiness timeout must be positive, not {timeout!r}")
        self.checks: dict[str, Check] = dict(checks or {})
        self.timeout = timeout
        self.health_path, self.ready_path = health_path, ready_path

    def add_check(self, name: str, check: Check) -> None:
        """Run ``check`` on every readiness request (a name already used is replaced)."""
        self.checks[name] = check

    def install(self, app: Application) -> None:
        super().install(app)
        if self.health_path is not None:
            app.add_route(self.health_path, _alive, ["GET"], name="health", include_in_schema=False)
        if self.ready_path is not None:
            app.add_route(
                self.ready_path, self._ready, ["GET"], name="ready", include_in_schema=False
            )

    async def _ready(self) -> JSONResponse:
        report = await self.run_checks()
        ready = all(result["status"] == "ok" for result in report.values())
        return JSONResponse(
            {"status": "ready" if ready else "unavailable", "checks": report},
            200 if ready else 503,
        )

    async def run_checks(self) -> dict[str, dict[str, Any]]:
        """Every check's outcome: ``{"status": "ok" | "failed" | "timeout", ...}``."""
        names = list(self.checks)
        results = await asyncio.gather(*(self._run(self.checks[name]) for name in names))
        return dict(zip(names, results, strict=True))

    async def _run(self, check: Check) -> dict[str, Any]:
        start = time.perf_counter()
        try:
            async with asyncio.timeout(self.timeout):
                result = check()
                if inspect.isawaitable(result):
                    result = await result
        except TimeoutError:
            return {"status": "timeout", "error": f"no answer within {self.timeout:g}s"}
        except Exception as exc:
            return {"status": "failed", "error": f"{type(exc).__name__}: {exc}"[:200]}
        duration = round((time.perf_counter() - start) * 1000, 3)
        if result is False:
            return {
                "status": "failed",
                "error": "the check returned False",
                "duration_ms": duration,
            }
        return {"status": "ok", "duration_ms": duration}


async def _alive() -> dict[str, str]:
    return {"status": "ok"}
