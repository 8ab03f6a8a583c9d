"""The Redis backend: pub/sub across workers and machines (the ``redis`` extra).

``pip install -e '.[redis]'`` in a clone of VelociPy installs redis-py.

Per process: one pub/sub connection owned by a reader task, and a small client for publishing.
When Redis goes away the reader reconnects with exponential backoff (0.1 s doubling to 5 s, with
jitter) and subscribes again to every channel that still has local subscribers.

Delivery is **at most once**: pub/sub keeps nothing, so what is published while a process is
disconnected never reaches it, and a publish that cannot reach Redis returns False. With
``history=N`` every message is also appended to a Redis stream capped at N entries
(``velocipy:history:<channel>``) in the same server-side script that publishes it; the reader then
replays what it missed after a reconnect, and a client can catch up from its last id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from velocipy.channels.backends.base import ChannelBackend, Deliver, InvalidMessageId, id_key
from velocipy.channels.messages import Message
from velocipy.json import JSONAdapter, get_adapter

try:
    import redis.asyncio as aioredis
    from redis.asyncio.client import PubSub
    from redis.asyncio.retry import Retry  # the asyncio one: redis-py 8.2 warns about the sync one
    from redis.backoff import NoBackoff
    from redis.exceptions import RedisError, ResponseError
except ImportError as exc:  # pragma: no cover - exercised by the missing-extra test
    raise ImportError(
        "the Redis channels backend needs redis-py: pip install -e '.[redis]' in a clone of "
        "VelociPy, or pip install 'redis>=5'"
    ) from exc

__all__ = ["RedisBackend"]

logger = logging.getLogger("velocipy.channels")

HISTORY_PREFIX = "velocipy:history:"
# One round trip, atomic: keep the message in the capped stream, then publish "id payload".
_PUBLISH_WITH_HISTORY = """
local id = redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[2], '*', 'm', ARGV[1])
if tonumber(ARGV[3]) > 0 then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
redis.call('PUBLISH', KEYS[2], id .. ' ' .. ARGV[1])
return id
"""
_CONTROL_CHANNEL = "velocipy:channels:control"  # keeps the pub/sub connection open when idle
_CONNECTION_ERRORS = (RedisError, OSError, asyncio.TimeoutError)
_READ_BATCH = 256
_LAST_POSSIBLE_ID = (2**64 - 1, 2**64 - 1)  # nothing comes after it; XRANGE refuses "(" of it


class RedisBackend(ChannelBackend):
    def __init__(
        self,
        url: str,
        *,
        history: int = 0,
        history_ttl: int = 7 * 24 * 60 * 60,
        min_backoff: float = 0.1,
        max_backoff: float = 5.0,
        connect_timeout: float = 2.0,
    ) -> None:
        if history < 0:
            raise ValueError("history must be 0 (off) or a positive number of messages")
        if history_ttl < 0:
            raise ValueError("history_ttl must be 0 (keep forever) or a number of seconds")
        self.url = url
        self.history = history
        #: Seconds a channel's history outlives its last message (0: forever). A room nobody
        #: publishes to any more does not keep its stream in Redis for good.
        self.history_ttl = history_ttl
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self.connect_timeout = connect_timeout
        #: How many times the connection was lost and restored (for health checks and tests).
        self.reconnects = 0
        #: How many times the reader failed for another reason and was restarted.
        self.reader_restarts = 0
        #: Messages on a subscribed channel that VelociPy did not publish (skipped).
        self.foreign_messages = 0
        self._json: JSONAdapter = get_adapter("msgspec")
        self._deliver: Deliver | None = None
        self._client: aioredis.Redis | None = None  # publishing and history reads
        self._listener: aioredis.Redis | None = None  # the pub/sub connection (no read timeout)
        self._pubsub: PubSub | None = None
        self._reader: asyncio.Task[None] | None = None
        self._channels: set[str] = set()
        self._confirmations: dict[str, asyncio.Future[None]] = {}
        self._last_ids: dict[str, str] = {}
        self._connected = False
        self._publish_failing = False
        self._script: Any = None
        self._last_error: BaseException | None = None

    def _new_client(self, read_timeout: float | None) -> aioredis.Redis:
        return aioredis.Redis.from_url(
            self.url,
            retry=Retry(NoBackoff(), 0),  # reconnecting is this backend's job, with backoff
            socket_connect_timeout=self.connect_timeout,
            socket_timeout=read_timeout,
        )

    @property
    def connected(self) -> bool:
        return self._connected

    async def start(self, deliver: Deliver, json: JSONAdapter) -> None:
        self._deliver = deliver
        self._json = json
        self._client = self._new_client(read_timeout=self.connect_timeout)
        self._listener = self._new_client(read_timeout=None)  # pub/sub waits for messages
        if self.history:
            self._script = self._client.register_script(_PUBLISH_WITH_HISTORY)
        first_connection = asyncio.get_running_loop().create_future()
        self._reader = asyncio.ensure_future(self._read_forever(first_connection))
        # Wait (bounded) for the first connection so early subscribers are not racing it; a
        # Redis that is down at startup is retried in the background, like any outage.
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(first_connection), self.connect_timeout)
        if not first_connection.done():
            logger.warning(
                "channels: Redis at %s is unreachable at start-up (%s); retrying in the "
                "background, and messages published until it answers are lost",
                _shown_url(self.url),
                self._last_error or f"no answer within {self.connect_timeout:g} s",
            )

    async def stop(self) -> None:
        self._deliver = None
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(BaseException):
                await reader
        await self._close_pubsub()
        for client in (self._client, self._listener):
            if client is not None:
                with contextlib.suppress(*_CONNECTION_ERRORS):
                    await client.aclose()
        self._client = self._listener = None
        self._connected = False

    # --- publishing -------------------------------------------------------------------------
    async def publish(self, message: Message) -> bool:
        client = self._client
        if client is None:
            return False
        wire = message.to_wire()
        try:
            if self.history:
                raw_id = await self._script(
                    keys=[HISTORY_PREFIX + message.channel, message.channel],
                    args=[wire, self.history, self.history_ttl],
                )
                message.id = raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id)
            else:
                await client.publish(message.channel, wire)
        except _CONNECTION_ERRORS as exc:
            if not self._publish_failing:
                self._publish_failing = True
                logger.warning(
                    "channels: cannot publish to Redis (%s); messages are lost until it is back",
                    exc,
                )
            return False
        if self._publish_failing:
            self._publish_failing = False
            logger.info("channels: publishing to Redis works again")
        return True

    # --- subscribing ------------------------------------------------------------------------
    async def subscribe(self, channel: str) -> None:
        self._channels.add(channel)
        pubsub = self._pubsub
        if pubsub is None or not self._connected:
            return  # the reader subscribes to every channel when it (re)connects
        confirmed = self._confirmations.setdefault(
            channel, asyncio.get_running_loop().create_future()
        )
        try:
            await pubsub.subscribe(channel)
            await asyncio.wait_for(asyncio.shield(confirmed), self.connect_timeout)
        except (TimeoutError, *_CONNECTION_ERRORS):
            pass  # the reader will restore it after reconnecting
        finally:
            if self._confirmations.get(channel) is confirmed:
                del self._confirmations[channel]

    async def unsubscribe(self, channel: str) -> None:
        self._channels.discard(channel)
        self._last_ids.pop(channel, None)
        pubsub = self._pubsub
        if pubsub is not None and self._connected:
            with contextlib.suppress(*_CONNECTION_ERRORS):
                await pubsub.unsubscribe(channel)

    async def history_after(self, channel: str, last_id: str) -> list[Message]:
        client = self._client
        if client is None or not self.history:
            return []
        if id_key(last_id) == _LAST_POSSIBLE_ID:
            return []
        try:
            entries: Any = await client.xrange(HISTORY_PREFIX + channel, min=f"({last_id}", max="+")
        except ResponseError as exc:
            if " ID" not in str(exc):  # WRONGTYPE and the like: not the client's doing
                raise
            raise InvalidMessageId(last_id) from None  # an id our check let through
        messages = []
        for raw_id, fields in entries or ():
            try:
                messages.append(
                    Message.from_wire(channel, fields[b"m"], self._json, id=raw_id.decode())
                )
            except (KeyError, ValueError, TypeError, AttributeError):
                continue
        return messages

    # --- the reader ---------------------------------------------------------------------------
    async def _read_forever(self, first_connection: asyncio.Future[None]) -> None:
        delay = self.min_backoff
        ever_connected = False
        while True:
            try:
                await self._connect()
                if ever_connected:
                    self.reconnects += 1
                    logger.warning(
                        "channels: reconnected to Redis; %d channel(s) restored%s",
                        len(self._channels),
                        " and missed messages replayed from history"
                        if self.history
                        else "; messages published during the outage were lost",
                    )
                    await self._replay_missed()
                ever_connected = True
                if not first_connection.done():
                    first_connection.set_result(None)
                delay = self.min_backoff
                await self._read()
            except asyncio.CancelledError:
                raise
            except _CONNECTION_ERRORS as exc:
                self._last_error = exc
                if self._connected:
                    logger.warning("channels: lost the Redis connection (%s); reconnecting", exc)
            except Exception:  # a bug of ours: the reader must not die of it, silently or not
                self.reader_restarts += 1
                logger.exception(
                    "channels: the Redis reader failed; restarting it in %.1f s", delay
                )
            self._connected = False
            await self._close_pubsub()
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, self.max_backoff)

    async def _connect(self) -> None:
        assert self._listener is not None
        pubsub = self._listener.pubsub()
        self._pubsub = pubsub
        await pubsub.subscribe(_CONTROL_CHANNEL, *sorted(self._channels))
        self._connected = True

    async def _replay_missed(self) -> None:
        if not self.history or self._deliver is None:
            return
        for channel, last_id in list(self._last_ids.items()):
            for message in await self.history_after(channel, last_id):
                room = self._accept(message)
                if room is not None:
                    await room

    async def _read(self) -> None:
        pubsub = self._pubsub
        assert pubsub is not None
        while True:
            raw = await pubsub.get_message(timeout=None)
            batch = 0
            while raw is not None:
                room = self._handle(raw)
                if room is not None:
                    # a subscriber's backlog is full: its chance to run first (redis-py hands
                    # over buffered messages without suspending, so a burst would otherwise
                    # reach the subscribers faster than any of them can run)
                    await room
                batch += 1
                # PERF: take what is already buffered before subscribers run, so each one wakes
                # once per burst instead of once per message (bounded to stay fair to others)
                raw = await pubsub.get_message(timeout=0.0) if batch < _READ_BATCH else None
            await asyncio.sleep(0)  # a full batch: the subscribers' turn

    def _handle(self, raw: dict[str, Any]) -> Awaitable[None] | None:
        """Act on one pub/sub event; what to await before the next when a backlog was full."""
        kind = raw["type"]
        channel = raw["channel"].decode("utf-8", "surrogateescape")
        if kind == "message":
            return self._receive(channel, raw["data"])
        if kind == "subscribe":
            confirmed = self._confirmations.get(channel)
            if confirmed is not None and not confirmed.done():
                confirmed.set_result(None)
        return None

    def _receive(self, channel: str, data: bytes) -> Awaitable[None] | None:
        message_id = None
        try:
            if self.history:
                raw_id, _, data = data.partition(b" ")
                message_id = raw_id.decode("ascii")
                id_key(message_id)
            message = Message.from_wire(channel, data, self._json, id=message_id)
        except ValueError:  # InvalidMessageId and UnicodeDecodeError included
            self._skip_foreign(channel)
            return None
        return self._accept(message)

    def _skip_foreign(self, channel: str) -> None:
        """Someone else published on the channel (``redis-cli PUBLISH``): skip it, say so once."""
        self.foreign_messages += 1
        log = logger.warning if self.foreign_messages == 1 else logger.debug
        log(
            "channels: skipped a message on %r that VelociPy did not publish "
            "(%d so far; later ones are logged at DEBUG)",
            channel,
            self.foreign_messages,
        )

    def _accept(self, message: Message) -> Awaitable[None] | None:
        """Deliver once: with history, an id at or below the last one seen is a replay duplicate."""
        if message.id is not None:
            last = self._last_ids.get(message.channel)
            if last is not None and id_key(message.id) <= id_key(last):
                return None
            if message.channel in self._channels:
                self._last_ids[message.channel] = message.id
        deliver = self._deliver
        return None if deliver is None else deliver(message)

    async def _close_pubsub(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            with contextlib.suppress(*_CONNECTION_ERRORS, RuntimeError):
                await pubsub.aclose()  # type: ignore[no-untyped-call,unused-ignore]


def _shown_url(url: str) -> str:
    """``url`` without its password, for a log line."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
