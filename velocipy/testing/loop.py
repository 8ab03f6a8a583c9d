"""An asyncio event loop running in a background thread, driven from synchronous test code."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

_CLEANUP_TIMEOUT = 5.0


class LoopThread:
    """Own one event loop; run it forever in a daemon thread between ``start()`` and ``stop()``.

    The loop object exists before the thread starts and after it stops, so RSGI's synchronous
    ``__rsgi_init__(loop)`` / ``__rsgi_del__(loop)`` hooks can receive it not running, the way
    granian calls them.
    """

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.loop.call_soon(started.set)
            self.loop.run_forever()

        self._thread = threading.Thread(target=run, name="velocipy-testclient-loop", daemon=True)
        self._thread.start()
        if not started.wait(_CLEANUP_TIMEOUT):  # pragma: no cover - a thread that never starts
            raise RuntimeError("the test client's event loop thread did not start")

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule ``coro`` on the loop and return a thread-safe future for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float, what: str) -> T:
        """Run ``coro`` on the loop and wait; on a hang cancel it and raise TimeoutError."""
        return wait_future(self.submit(coro), timeout, what)

    def call_soon(self, callback: Callable[..., object], *args: object) -> None:
        self.loop.call_soon_threadsafe(callback, *args)

    def stop(self) -> None:
        """Stop the loop (pending tasks stay pending, as under granian) and join the thread."""
        thread = self._thread
        if thread is None or not thread.is_alive():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        thread.join(_CLEANUP_TIMEOUT)
        if thread.is_alive():
            raise TimeoutError(
                "the test client's event loop did not stop: something in the app blocks the loop"
            )

    def close(self) -> None:
        """Stop the loop if needed, cancel what is left, and close it."""
        self.stop()
        if self.loop.is_closed():
            return
        try:
            self.loop.run_until_complete(_cancel_pending(self.loop))
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.run_until_complete(self.loop.shutdown_default_executor())
        finally:
            self.loop.close()


def wait_future(future: concurrent.futures.Future[T], timeout: float, what: str) -> T:
    """Wait for ``future``; on timeout cancel it and raise a TimeoutError naming ``what``."""
    try:
        return future.result(timeout)
    except TimeoutError:
        if future.done():  # the coroutine itself raised TimeoutError
            raise
        future.cancel()
        raise TimeoutError(f"{what} did not finish within {timeout:g} s") from None


async def _cancel_pending(loop: asyncio.AbstractEventLoop) -> None:
    current = asyncio.current_task()
    tasks = [task for task in asyncio.all_tasks(loop) if task is not current]
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.wait(tasks, timeout=_CLEANUP_TIMEOUT)
    for task in tasks:  # mark exceptions as retrieved: the app's tasks died with the loop
        if task.done() and not task.cancelled():
            task.exception()
