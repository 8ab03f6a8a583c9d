"""The probe session: one coordinator runs a receiver task and a sender task per connection.

The sender takes input lines (from the prompt thread, piped stdin or ``--send``), the
receiver prints what arrives; whichever ends first decides how the connection closes.
In scripted mode a watcher ends the session once input is over and either ``--expect``
messages arrived or nothing happened for ``--idle-timeout`` seconds. ``--reconnect`` opens
a new connection with backoff after a restart-like close.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import signal
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConcurrencyError, ConnectionClosed

from velocipy_cli.probe.actions import (
    Action,
    Close,
    InputError,
    Ping,
    Quit,
    SendBinary,
    SendText,
    SendTyped,
    ShowHeaders,
    ShowHelp,
    ShowTypes,
    parse_line,
)
from velocipy_cli.probe.close_codes import RESTART_CODES, exit_code_for_close
from velocipy_cli.probe.connection import open_connection, tls_context
from velocipy_cli.probe.display import Display
from velocipy_cli.probe.line_feed import LineFeed
from velocipy_cli.probe.options import ProbeOptions
from velocipy_cli.probe.outcomes import CloseInfo, ExitCode, ProbeError
from velocipy_cli.probe.rendering import Frame, headers_view, help_view
from velocipy_cli.probe.schema import RouteApi, fetch_document, route_api, types_view
from velocipy_cli.probe.terminal import MESSAGE_TYPES, prefill_next_prompt

PONG_TIMEOUT = 10.0  # seconds a /ping waits for its pong
MAX_RECONNECT_DELAY = 5.0

T = TypeVar("T")


class SenderEnd(enum.Enum):
    """Why the sender task stopped."""

    QUIT = "quit"  # /quit, Ctrl-D at the prompt, or a bad line in scripted mode
    CLOSING = "closing"  # /close sent a close frame; the receiver sees the answer
    INPUT_ENDED = "input ended"  # scripted input is over; the watcher takes it from here
    CONNECTION_GONE = "connection gone"  # a send found the connection closed


def reconnect_delays() -> Iterator[float]:
    """0.25 s, doubling, capped at MAX_RECONNECT_DELAY."""
    delay = 0.25
    while True:
        yield delay
        delay = min(delay * 2, MAX_RECONNECT_DELAY)


class Session:
    """Runs one `velocipy ws-probe` invocation, across reconnections when asked to."""

    def __init__(
        self,
        options: ProbeOptions,
        display: Display,
        feed: LineFeed,
        start_input: Callable[[], None],
    ) -> None:
        self.options = options
        self.display = display
        self.feed = feed
        self._start_input = start_input
        self._input_started = False
        self.received = 0
        self._last_activity = time.monotonic()
        self._activity = asyncio.Event()
        self._interrupted = asyncio.Event()
        self._interrupt_count = 0
        self._close_requested = False
        self._outcome: ExitCode | None = None  # decided before the close (idle, bad input)
        self.api: RouteApi | None = None  # the route's messages, from the app's AsyncAPI

    # -- whole session ---------------------------------------------------------------

    async def run(self) -> ExitCode:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGINT, self._on_interrupt)
        try:
            return await self._run_connections()
        finally:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(signal.SIGINT)

    def _on_interrupt(self) -> None:
        self._interrupt_count += 1
        if self._interrupt_count > 1:  # a second Ctrl-C stops waiting for a polite close
            raise KeyboardInterrupt
        self._interrupted.set()

    def _interrupted_exit(self) -> ExitCode:
        return ExitCode.OK if self.options.interactive else ExitCode.INTERRUPTED

    async def _run_connections(self) -> ExitCode:
        delays = reconnect_delays()
        while True:
            try:
                connection = await self._unless_interrupted(open_connection(self.options))
            except ProbeError as exc:
                if not (self.options.reconnect and exc.retryable):
                    self.display.error(exc.message, exc.details)
                    return exc.exit_code
                delay = next(delays)
                self.display.status(f"{exc.message}; retrying in {delay:g} s")
                if await self._unless_interrupted(asyncio.sleep(delay, True)) is None:
                    return self._interrupted_exit()
                continue
            if connection is None:
                return self._interrupted_exit()
            delays = reconnect_delays()
            self.display.opened(self.options.url, self.options.url_source, connection.subprotocol)
            if not self._input_started:
                await self._learn_api()
                self._input_started = True
                self._start_input()
            info = await self._converse(connection)
            self.display.close(info)
            if self._should_reconnect(info):
                self.display.status("reconnecting (--reconnect; Ctrl-C stops)")
                continue
            return self._exit_code(info)

    async def _unless_interrupted(self, awaitable: Awaitable[T]) -> T | None:
        """Await ``awaitable`` unless Ctrl-C comes first (then cancel it and return None)."""
        task = asyncio.ensure_future(awaitable)
        interrupted = asyncio.ensure_future(self._interrupted.wait())
        try:
            await asyncio.wait({task, interrupted}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            interrupted.cancel()
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        return None if task.cancelled() else task.result()

    def _should_reconnect(self, info: CloseInfo) -> bool:
        if not self.options.reconnect or self._close_requested or self._outcome is not None:
            return False
        return info.initiator == "nobody" or (
            info.initiator == "server" and info.code in RESTART_CODES
        )

    def _exit_code(self, info: CloseInfo) -> ExitCode:
        if self._outcome is not None:
            return self._outcome
        if self._interrupted.is_set():
            return self._interrupted_exit()
        expect = self.options.expect
        if expect is not None and self.received < expect:
            self.display.error(
                f"expected {expect} message(s) but got {self.received} before the connection closed"
            )
            return ExitCode.EXPECTATION
        if info.initiator == "client":
            # A close we did not ask for is the client's protocol error (1009 over --max-size...).
            if self._close_requested:
                return ExitCode.OK
            if info.code == 1009:
                self.display.error("a message was larger than --max-size; raise it to receive it")
            return ExitCode.FAILURE
        if info.initiator == "nobody":
            return ExitCode.FAILURE
        return exit_code_for_close(info.code)

    # -- one connection --------------------------------------------------------------

    async def _converse(self, connection: ClientConnection) -> CloseInfo:
        receiver = asyncio.create_task(self._receive(connection))
        sender = asyncio.create_task(self._send(connection))
        interrupted = asyncio.create_task(self._interrupted.wait())
        watcher: asyncio.Task[ExitCode] | None = None
        pending: set[asyncio.Future[Any]] = {receiver, sender, interrupted}
        try:
            while True:
                done, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                if receiver in done:
                    return receiver.result()
                pending -= done
                if interrupted in done:
                    await self._close(connection)
                if sender in done:
                    end = sender.result()
                    if end is SenderEnd.INPUT_ENDED and not self.options.interactive:
                        watcher = asyncio.create_task(self._await_completion())
                        pending.add(watcher)
                    elif end in (SenderEnd.QUIT, SenderEnd.INPUT_ENDED):
                        await self._close(connection)
                if watcher is not None and watcher in done:
                    self._outcome = watcher.result()
                    await self._close(connection)
        finally:
            for task in (receiver, sender, interrupted, watcher):
                if task is not None and not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

    async def _learn_api(self) -> None:
        """Read the route's message types from the app's AsyncAPI document, if it serves one."""
        document = await asyncio.to_thread(
            fetch_document, self.options.url, tls_context(self.options)
        )
        self.api = None if document is None else route_api(document, self.options.url)
        if self.api is None:
            return
        MESSAGE_TYPES[:] = list(self.api.accepts)
        self.display.status(f"API {self.api.summary()}")
        if not self.api.checking and (self.api.accepts or self.api.sends):
            self.display.warning(
                "messages are not checked against the route's types: pip install jsonschema"
            )

    def _checked(self, action: Action | None) -> Action | None:
        """The action to perform after the route's API had its say; raises InputError."""
        api = self.api
        if isinstance(action, ShowTypes | SendTyped) and api is None:
            raise InputError("the app serves no AsyncAPI document describing this route")
        if isinstance(action, SendTyped):
            assert api is not None
            kind = api.accepts.get(action.name)
            if kind is None:
                names = ", ".join(api.accepts) or "none"
                raise InputError(f"the route takes no {action.name} (it takes: {names})")
            if action.text is None and self.options.interactive:
                prefill_next_prompt(f"/send {kind.name} {kind.template()}")
                self.display.status(f"{kind.name} template on the prompt: edit it, press Enter")
                return ShowTypes(silent=True)
            text = kind.template() if action.text is None else action.text
            problem = api.outgoing_problem(text, kind.name) if api.checking else None
            if problem is not None:
                raise InputError(f"not sent: {problem} (/force sends it anyway)")
            return SendText(text)
        if isinstance(action, SendText) and not action.forced and api is not None:
            problem = api.outgoing_problem(action.text) if api.checking else None
            if problem is not None:
                raise InputError(f"not sent: {problem} (/force sends it anyway)")
        return action

    async def _close(
        self, connection: ClientConnection, code: int = 1000, reason: str = ""
    ) -> None:
        self._close_requested = True
        await connection.close(code, reason)

    def _touch(self) -> None:
        self._last_activity = time.monotonic()
        self._activity.set()

    async def _receive(self, connection: ClientConnection) -> CloseInfo:
        try:
            while True:
                message = await connection.recv()
                self.received += 1
                self._touch()
                self.display.frame(Frame("received", message, time.time()))
                problem = None if self.api is None else self.api.incoming_problem(message)
                if problem is not None:
                    self.display.warning(f"^ does not match the route's API: {problem}")
        except ConnectionClosed as exc:
            return CloseInfo.from_exception(exc)

    async def _await_completion(self) -> ExitCode:
        """Scripted mode, input over: wait for --expect messages or --idle-timeout of quiet."""
        expect, idle_timeout = self.options.expect, self.options.idle_timeout
        while True:
            if expect is not None and self.received >= expect:
                return ExitCode.OK
            remaining = idle_timeout - (time.monotonic() - self._last_activity)
            if remaining <= 0:
                if expect is None:
                    return ExitCode.OK
                self.display.error(
                    f"expected {expect} message(s) but got {self.received}; nothing arrived "
                    f"for {idle_timeout:g} s (--idle-timeout)"
                )
                return ExitCode.EXPECTATION
            self._activity.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._activity.wait(), remaining)

    async def _send(self, connection: ClientConnection) -> SenderEnd:
        while True:
            line = await self.feed.get()
            if line is None:
                return SenderEnd.INPUT_ENDED
            try:
                action = self._checked(parse_line(line, json_only=self.options.json_only))
            except InputError as exc:
                self.display.error(str(exc))
                if not self.options.interactive:
                    self._outcome = ExitCode.USAGE
                    return SenderEnd.QUIT
                action = None
            end = None if action is None else await self._perform(connection, action)
            if end is SenderEnd.CONNECTION_GONE:
                self.feed.line_handled()  # the prompt comes back once a reconnect succeeds
            if end is not None:
                return end
            self._touch()
            self.feed.line_handled()

    async def _perform(self, connection: ClientConnection, action: Action) -> SenderEnd | None:
        """Carry out one action; a SenderEnd when it ends the sending side."""
        try:
            if isinstance(action, SendText | SendBinary):
                payload = action.text if isinstance(action, SendText) else action.data
                await connection.send(payload)
                self.display.frame(Frame("sent", payload, time.time()))
            elif isinstance(action, Ping):
                await self._ping(connection, action.payload)
            elif isinstance(action, Close):
                await self._close(connection, action.code, action.reason)
                return SenderEnd.CLOSING
            elif isinstance(action, ShowHeaders):
                response = connection.response
                assert response is not None  # the handshake is done
                items = list(response.headers.raw_items())
                view = headers_view(
                    response.status_code, response.reason_phrase, items, connection.subprotocol
                )
                self.display.show(view)
            elif isinstance(action, ShowTypes):
                if not action.silent and self.api is not None:
                    self.display.show(types_view(self.api))
            elif isinstance(action, ShowHelp):
                self.display.show(help_view())
            elif isinstance(action, Quit):
                return SenderEnd.QUIT
        except ConnectionClosed:
            return SenderEnd.CONNECTION_GONE
        return None

    async def _ping(self, connection: ClientConnection, payload: bytes | None) -> None:
        """Send a ping and show the round trip; the next line waits for the pong (or timeout)."""
        try:
            pong = await connection.ping(payload)
        except ConcurrencyError:
            self.display.error("a ping with this payload is still waiting for its pong")
            return
        try:
            rtt = await asyncio.wait_for(pong, PONG_TIMEOUT)
        except TimeoutError:
            self.display.error(f"no pong within {PONG_TIMEOUT:g} s")
        else:
            self.display.pong(rtt)
