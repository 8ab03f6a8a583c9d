"""``Channels``: publish to named channels, subscribe to them, or join a WebSocket to a room.

One ``Channels`` object per app. Registered with ``Channels(backend, app=app)`` (or
``channels.attach(app)``) it starts and stops with the app's lifespan, in every worker, and
encodes JSON with the app's adapter.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any

from velocipy.channels.backends import ChannelBackend, backend_for, id_key
from velocipy.channels.messages import Message
from velocipy.channels.subscribers import (
    OverflowPolicy,
    SlowSubscriberError,
    Subscriber,
    SubscriptionClosed,
)
from velocipy.exceptions import WebSocketDisconnect, WebSocketStateError
from velocipy.json import JSONAdapter, get_adapter

if TYPE_CHECKING:
    from velocipy.application import Application
    from velocipy.websockets import WebSocket

__all__ = ["Channels", "Membership", "Subscription"]

logger = logging.getLogger("velocipy.channels")

CLOSE_TRY_AGAIN_LATER = 1013


class Channels:
    """Named channels over a backend: ``"memory"`` (one process) or ``"redis://host:port/db"``.

    ``backlog`` bounds each subscriber's queue; ``on_overflow`` says what happens to a subscriber
    that falls that far behind (``"close"``: it is dropped, a WebSocket closed with 1013;
    ``"drop_oldest"``: it loses its oldest waiting messages). ``history=N`` keeps the last N
    messages of each channel so a client can catch up from the id of the last one it saw.
    ``linger`` (seconds) is how long a message that follows the previous one that closely
    waits for more, so that each socket is sent them together (0: never).
    """

    def __init__(
        self,
        backend: str | ChannelBackend = "memory",
        *,
        app: Application | None = None,
        backlog: int = 1000,
        on_overflow: OverflowPolicy = "close",
        history: int = 0,
        close_timeout: float = 5.0,
        linger: float = 0.005,
    ) -> None:
        if linger < 0:
            raise ValueError("linger must be 0 (never hold a message) or a number of seconds")
        if backlog < 1:
            raise ValueError("backlog must be at least 1 message")
        if on_overflow not in ("close", "drop_oldest"):
            raise ValueError(f"on_overflow must be 'close' or 'drop_oldest', not {on_overflow!r}")
        self.backend = backend_for(backend, history)
        self.backlog = backlog
        self.on_overflow: OverflowPolicy = on_overflow
        self.close_timeout = close_timeout
        self.linger = linger
        self.json: JSONAdapter = get_adapter("msgspec")
        self.started = False
        self._subscribers: dict[str, set[Subscriber]] = {}
        self._subscribing: dict[str, asyncio.Task[None]] = {}
        self._memberships: set[Membership] = set()
        self._tokens: dict[int, str] = {}  # id(websocket) -> its sender token, while joined
        self._background: set[asyncio.Task[Any]] = set()
        self._fanout_ended = float("-inf")  # loop time the last fan-out (or catch-up) ended
        self._held: list[Message] | None = None  # messages of a stream, waiting out the linger
        self._release_timer: asyncio.TimerHandle | None = None
        # channel -> subscribers a release found full: it stops there, and deliveries on the
        # channel wait for them (as for a full backlog in any fan-out) until they have room
        self._blocked: dict[str, set[Subscriber]] = {}
        if app is not None:
            self.attach(app)

    def attach(self, app: Application) -> None:
        """Start and stop with ``app``'s lifespan and use its JSON adapter."""
        self.json = app.json
        app.lifespan.on_startup.append(self.start)
        app.lifespan.on_shutdown.append(self.stop)

    @property
    def connected(self) -> bool:
        """False while the backend's broker is unreachable (publishing then loses messages)."""
        return self.started and self.backend.connected

    def subscriber_count(self, channel: str) -> int:
        """How many subscribers (and joined WebSockets) this process has on ``channel``."""
        return len(self._subscribers.get(channel, ()))

    async def start(self) -> None:
        if not self.started:
            await self.backend.start(self._deliver, self.json)
            self.started = True

    async def stop(self) -> None:
        if not self.started:
            return
        self.started = False
        if self._release_timer is not None:
            self._release_timer.cancel()
        self._held = self._release_timer = None
        self._blocked.clear()
        for membership in list(self._memberships):
            membership.cancel()
        for subscribers in self._subscribers.values():
            for subscriber in subscribers:
                subscriber.end(SubscriptionClosed("the channels were stopped"))
        self._subscribers.clear()
        for task in list(self._background):
            task.cancel()
        await self.backend.stop()

    async def __aenter__(self) -> Channels:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # --- publishing -------------------------------------------------------------------------
    async def publish(self, channel: str, message: Any, *, sender: WebSocket | None = None) -> bool:
        """Send ``message`` (str, bytes, or anything the app's JSON adapter encodes) to everyone
        subscribed to ``channel``, in every process that shares the backend.

        Returns False, without raising, when the backend could not take it (Redis down): the
        message is then lost. Pass ``sender=websocket`` so that a member that joined with
        ``receive_own=False`` does not get its own message back.
        """
        self._require_started("publish")
        token = self._tokens.get(id(sender)) if sender is not None else None
        return await self.backend.publish(Message.from_value(channel, message, self.json, token))

    # --- subscribing ------------------------------------------------------------------------
    def subscribe(self, *channels: str, last_id: str | None = None) -> Subscription:
        """``async with channels.subscribe("a") as sub: async for message in sub: ...``

        ``last_id`` (one channel, with ``history``): first deliver the kept messages after it.
        """
        return Subscription(self, self._new_subscriber(channels, last_id), last_id)

    async def join(
        self,
        websocket: WebSocket,
        channel: str,
        *,
        receive_own: bool = True,
        last_id: str | None = None,
        render: Callable[[Message], str | bytes] | None = None,
    ) -> Membership:
        """Send everything published to ``channel`` to ``websocket`` until it leaves or closes.

        ``receive_own=False`` skips the messages this socket published with ``sender=websocket``
        (or through :meth:`Membership.publish`). ``last_id`` (with ``history``) first sends what
        came after it. ``render(message)`` makes the frame to send (default: ``message.frame``),
        e.g. to wrap each message with its id.
        """
        if not websocket.accepted or websocket.closed:
            raise WebSocketStateError("join() needs an accepted, open WebSocket")
        subscriber = self._new_subscriber((channel,), last_id)
        token = self._tokens.get(id(websocket))
        if token is None:
            token = self._tokens[id(websocket)] = secrets.token_hex(8)
        subscriber.exclude_sender = None if receive_own else token
        membership = Membership(self, websocket, channel, token, subscriber, render)
        try:
            await self._add(subscriber, last_id)
        except BaseException:
            if not any(m.websocket is websocket for m in self._memberships):
                self._tokens.pop(id(websocket), None)
            raise
        membership.start()
        return membership

    def _new_subscriber(self, channels: tuple[str, ...], last_id: str | None) -> Subscriber:
        self._require_started("subscribe")
        if not channels:
            raise ValueError("subscribe to at least one channel")
        if last_id is not None:
            if not self.backend.history:
                raise ValueError("last_id needs history: create Channels(..., history=N)")
            if len(channels) != 1:
                raise ValueError("last_id catches up one channel: subscribe to it alone")
            id_key(last_id)  # a malformed id fails here: InvalidMessageId (1008 in a handler)
        return Subscriber(channels, self.backlog, self.on_overflow)

    async def _add(self, subscriber: Subscriber, last_id: str | None) -> None:
        """Register ``subscriber``; with ``last_id``, it counts only once its catch-up worked.

        Live messages are collected from the start (so none falls between history and live),
        but a catch-up that fails (Redis refusing the id, Redis gone, a cancelled join) takes
        the subscriber out again before the error propagates: nothing is left behind.
        """
        if subscriber.on_drop is None:
            subscriber.on_drop = self._forget
        if last_id is not None:
            subscriber.catching_up = []
        try:
            for channel in subscriber.channels:
                subscribers = self._subscribers.get(channel)
                if subscribers is None:
                    subscribers = self._subscribers[channel] = set()
                    self._subscribing[channel] = asyncio.ensure_future(
                        self.backend.subscribe(channel)
                    )
                subscribers.add(subscriber)
                pending = self._subscribing.get(channel)
                if pending is not None:
                    await asyncio.shield(pending)
                    self._subscribing.pop(channel, None)
            if last_id is not None:
                await self._catch_up(subscriber, subscriber.channels[0], last_id)
        except BaseException:
            subscriber.end(SubscriptionClosed("the subscription could not be set up"))
            self._discard(subscriber)
            raise

    async def _catch_up(self, subscriber: Subscriber, channel: str, last_id: str) -> None:
        try:
            kept = await self.backend.history_after(channel, last_id)
        finally:
            live, subscriber.catching_up = subscriber.catching_up or [], None
        seen = last_id
        for message in kept:
            subscriber.put(message)
            seen = message.id or seen
        after = id_key(seen)
        for message in live:
            if message.id is None or id_key(message.id) > after:
                subscriber.put(message)

    async def _remove(self, subscriber: Subscriber) -> None:
        self._forget(subscriber)
        for channel in subscriber.channels:
            if channel not in self._subscribers and self.started:
                with contextlib.suppress(Exception):
                    await self.backend.unsubscribe(channel)

    def _discard(self, subscriber: Subscriber) -> None:
        """Forget ``subscriber`` now; unsubscribe the backend from channels left empty."""
        self._forget(subscriber)
        if self.started:
            for channel in subscriber.channels:
                if channel not in self._subscribers:
                    self._spawn(self._unsubscribe_quietly(channel))

    async def _unsubscribe_quietly(self, channel: str) -> None:
        # the backend's coroutine is made here, in the task: a task cancelled before it ran
        # (the channels stopping) then leaves no coroutine that was never awaited
        await _quietly(self.backend.unsubscribe(channel))

    def _forget(self, subscriber: Subscriber) -> None:
        for channel in subscriber.channels:
            subscribers = self._subscribers.get(channel)
            if subscribers is not None:
                subscribers.discard(subscriber)
                if not subscribers:
                    del self._subscribers[channel]

    def _deliver(self, message: Message) -> Awaitable[None] | None:
        """The fan-out: one append (or one send that does not wait) per local subscriber.

        When a subscriber's backlog was full, what the backend awaits before it delivers more:
        that subscriber taking a message, or its grace running out (see subscribers.py).

        PERF: a message that follows the previous fan-out (or a joined socket's task catching
        up) within ``linger`` is one of a stream: a burst, or a publisher awaiting Redis for
        each message, which hands this worker one message a turn. It is held for ``linger``
        with the ones behind it, then each socket's task sends them one after another. With
        1,000 sockets on uvicorn such a Redis stream cost 14 us per delivery sent a message at
        a time, a round over every socket each, and 8.4 us held for 5 ms.
        """
        if message.channel not in self._subscribers:
            return None
        if self._held is not None:
            self._held.append(message)
            # a release stopped at a full backlog on this channel: wait for it, as below
            blocked = self._blocked.get(message.channel)
            return None if blocked is None else _room_in(blocked)
        loop = asyncio.get_running_loop()
        if loop.time() - self._fanout_ended < self.linger:
            self._held = [message]
            self._release_timer = loop.call_later(self.linger, self._release)
            return None
        full = self._fan_out(message)
        self._fanout_ended = loop.time()
        return None if full is None else _room_in(full)

    def _fan_out(self, message: Message, send_now: bool = True) -> set[Subscriber] | None:
        """Offer ``message`` to each subscriber; those whose backlog was full. ``send_now``
        False: every joined WebSocket's task sends it, none is sent in this turn."""
        full: set[Subscriber] | None = None
        for subscriber in list(self._subscribers.get(message.channel, ())):
            if subscriber.offer(message, send_now):
                full = {subscriber} if full is None else full | {subscriber}
        return full

    def _release(self) -> None:
        """The linger is over: queue the held messages, in order, for the members' tasks.

        A timer cannot wait for room: at a message that finds a backlog full, the release
        stops, the rest stays held, and it goes on once those subscribers took a message or
        ran out of grace (see subscribers.py), while deliveries on their channel wait too.
        """
        self._release_timer = None
        held, self._held = self._held or [], None
        for index, message in enumerate(held):
            full = self._fan_out(message, send_now=False)
            if full is not None:
                self._blocked.setdefault(message.channel, set()).update(full)
                self._held = held[index + 1 :]  # what comes later waits behind them
                self._spawn(self._release_after(full))
                return
        self._fanout_ended = asyncio.get_running_loop().time()

    async def _release_after(self, full: set[Subscriber]) -> None:
        await _room_in(full)
        for channel, waiting in list(self._blocked.items()):
            waiting -= full
            if not waiting:
                del self._blocked[channel]
        if self._held is not None and self._release_timer is None:
            self._release()

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _require_started(self, action: str) -> None:
        if not self.started:
            raise RuntimeError(
                f"cannot {action}(): the channels are not started. Create them with "
                "Channels(..., app=app) so they start with the app, or `async with channels:`"
            )

    def __repr__(self) -> str:
        return f"<Channels {type(self.backend).__name__} {len(self._subscribers)} channels>"


class Subscription:
    """An ``async with`` block receiving :class:`~velocipy.channels.Message` objects."""

    def __init__(self, hub: Channels, subscriber: Subscriber, last_id: str | None) -> None:
        self._hub = hub
        self._subscriber = subscriber
        self._last_id = last_id

    @property
    def channels(self) -> tuple[str, ...]:
        return self._subscriber.channels

    @property
    def lost(self) -> int:
        """Messages this subscriber lost to ``on_overflow="drop_oldest"``."""
        return self._subscriber.lost

    async def __aenter__(self) -> Subscription:
        await self._hub._add(self._subscriber, self._last_id)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._subscriber.end(SubscriptionClosed("the subscription was left"))
        await self._hub._remove(self._subscriber)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Message:
        try:
            return await self._subscriber.get()
        except SubscriptionClosed:
            raise StopAsyncIteration from None

    async def get(self) -> Message:
        """The next message; raises :class:`SlowSubscriberError` if this subscriber was dropped."""
        return await self._subscriber.get()


class Membership:
    """A WebSocket joined to a channel: each message is sent in the publisher's turn when
    that does not wait, otherwise by this membership's task, from its backlog, in order."""

    def __init__(
        self,
        hub: Channels,
        websocket: WebSocket,
        channel: str,
        token: str,
        subscriber: Subscriber,
        render: Callable[[Message], str | bytes] | None = None,
    ) -> None:
        self.hub = hub
        self.render = render
        self.websocket = websocket
        self.channel = channel
        self.token = token
        self._subscriber = subscriber
        subscriber.on_drop = self._dropped
        self._task: asyncio.Task[None] | None = None
        # Sending in the publisher's turn (see _send_now): on until a send has to wait.
        self._eager = True
        self._pump_sending = False
        self._in_flight: asyncio.Task[None] | None = None

    @property
    def active(self) -> bool:
        return self in self.hub._memberships

    def start(self) -> None:
        self.hub._memberships.add(self)
        self._task = asyncio.ensure_future(self._pump())
        self._subscriber.direct = self._send_now
        self.websocket.call_on_close(self.cancel)

    async def publish(self, message: Any) -> bool:
        """Publish to this membership's channel as this WebSocket (see ``receive_own``)."""
        return await self.hub.publish(self.channel, message, sender=self.websocket)

    async def leave(self) -> None:
        """Stop receiving the channel (the WebSocket stays open)."""
        self.cancel()
        await self.hub._remove(self._subscriber)

    def cancel(self) -> None:
        """Leave without waiting: called when the socket closes or the channels stop."""
        if self not in self.hub._memberships:
            return
        self.hub._memberships.discard(self)
        if not any(m.websocket is self.websocket for m in self.hub._memberships):
            self.hub._tokens.pop(id(self.websocket), None)
        self._subscriber.end(SubscriptionClosed("left"))
        self.hub._discard(self._subscriber)
        current = asyncio.current_task()
        for task in (self._task, self._in_flight):
            if task is not None and task is not current:
                task.cancel()
        self._task = self._in_flight = None

    def _dropped(self, subscriber: Subscriber) -> None:
        """The backlog overflowed: stop the (probably stuck) sender and close with 1013."""
        self.cancel()
        logger.warning(
            "WebSocket %s fell %d messages behind on channel %r: closed with 1013",
            self.websocket.path,
            self.hub.backlog,
            self.channel,
        )
        self.hub._spawn(
            _quietly(
                asyncio.wait_for(
                    self.websocket.close(CLOSE_TRY_AGAIN_LATER, "try again later"),
                    self.hub.close_timeout,
                )
            )
        )

    def _send_now(self, message: Message) -> bool:
        """Send ``message`` in the publisher's turn when nothing waits before it; False to
        leave it to the backlog.

        PERF: waking this membership's task for each message cost more than the send itself
        (a paced fan-out on uvicorn spent 38 us per delivery against 24.5 for writing the
        frame to each socket). A send that completes without waiting (uvicorn's do while the
        socket's buffer has room) is done here; the first one that has to wait (a full buffer;
        granian's sends always do) is finished by a task, and from then on this membership's
        messages go through its backlog and task, in order. A stream of messages goes through
        the task too (see ``Channels._deliver``): it sends a socket's messages one after the
        other, which cost a third as much per delivery as a round over every socket each.
        """
        if not self._eager or self._pump_sending:
            return False
        render = self.render
        try:
            frame = message.frame if render is None else render(message)
        except Exception:
            return False  # the task meets the error again and handles it
        try:
            rest = self.websocket._send_in_turn(frame)
        except Exception as exc:
            self._failed(exc)
            return True
        if rest is not None:  # the send has to wait: this membership's task goes on from here
            self._eager = False
            self._in_flight = asyncio.ensure_future(rest)
            self._in_flight.add_done_callback(self._sent)
        return True

    def _next_frame(self) -> str | bytes | None:
        """The frame of the next message in the backlog (taken off it now), None if none."""
        message = self._subscriber.take()
        if message is None:
            return None
        render = self.render
        return message.frame if render is None else render(message)

    def _sent(self, task: asyncio.Task[None]) -> None:
        if self._in_flight is task:
            self._in_flight = None
        if not task.cancelled() and task.exception() is not None:
            self._failed(task.exception())  # type: ignore[arg-type]

    async def _pump(self) -> None:
        websocket, subscriber, hub = self.websocket, self._subscriber, self.hub
        loop = asyncio.get_running_loop()
        try:
            while True:
                await subscriber.wait()
                self._pump_sending = True
                if self._in_flight is not None:
                    await asyncio.shield(self._in_flight)  # what was sent eagerly goes first
                # the backlog in one go, each message taken off it as its turn comes (it
                # counts against the backlog until then)
                await websocket._send_each(self._next_frame)
                self._pump_sending = False
                hub._fanout_ended = loop.time()  # caught up: a message soon after is a stream's
        except SlowSubscriberError:  # overflowed before this task started
            self._task = None
            self._dropped(self._subscriber)
        except Exception as exc:
            self._task = None
            self._failed(exc)

    def _failed(self, exc: BaseException) -> None:
        """A send failed: the socket left (end quietly) or could not be served (1011)."""
        if isinstance(exc, SubscriptionClosed | WebSocketDisconnect | WebSocketStateError):
            self.cancel()
            return
        if not self.active:
            return
        logger.error(  # a failing render(): the socket cannot be served any more
            "channels: cannot send to WebSocket %s", self.websocket.path, exc_info=exc
        )
        self.cancel()
        self.hub._spawn(
            _quietly(asyncio.wait_for(self.websocket.close(1011, ""), self.hub.close_timeout))
        )

    def __repr__(self) -> str:
        return f"<Membership {self.websocket.path} in {self.channel!r}>"


async def _room_in(subscribers: set[Subscriber]) -> None:
    for subscriber in list(subscribers):  # a release that goes on changes the set meanwhile
        await subscriber.room()


async def _quietly(awaitable: Any) -> None:
    """Await cleanup whose failure must not surface (the peer or broker may be gone)."""
    try:
        await awaitable
    except (Exception, asyncio.CancelledError):
        pass
