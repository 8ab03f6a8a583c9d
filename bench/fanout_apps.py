"""The apps the fan-out tier serves (``fanout_apps:app``), chosen by environment variables.

``FANOUT_APP`` names the app, ``FANOUT_BACKEND`` is "memory" or a Redis URL, and
``FANOUT_INTERFACE`` is "asgi" or "rsgi". Every app has ``/subscribe`` (a WebSocket that joins
the room "fanout", then says ``ready <worker pid>``) and ``/publish`` (each text message sent
there goes to every subscriber of the room); python-socketio speaks Socket.IO on its own path
instead (a subscriber enters the room when it connects; a ``publish`` event from a client whose
auth says it is the publisher goes to the room). Each peer is given a backlog above the
messages sent, so a subscriber is never dropped for being behind.

- ``bare``: no framework, memory only: a set of sockets, one frame written to each in turn. The
  floor for a paced message: what any app must spend to send one frame to every socket.
- ``floor``: no framework, memory only: a queue and a sending task per socket; publishing
  appends to every queue and wakes the idle senders, and each sender writes its socket's frames
  one after the other. The floor for a burst, where every hub with a queue per subscriber
  (VelociPy's and Litestar's included) sends that way: the least such a hub can spend. ASGI
  only: an RSGI version's paced run did not finish on granian here (not investigated), and
  the targets it informs are on uvicorn.
- ``velocipy``: ``velocipy.channels.Channels``, memory or Redis.
- ``litestar``: Litestar's ``ChannelsPlugin``, memory or Redis (pub/sub backend).
- ``django-channels``: Django Channels' ``InMemoryChannelLayer`` or ``channels_redis``' layer.
- ``socketio``: python-socketio's ``AsyncServer``, its ``AsyncRedisManager`` for Redis.
"""

import os
from collections.abc import AsyncIterator
from typing import Any

APP = os.environ.get("FANOUT_APP", "velocipy")
BACKEND = os.environ.get("FANOUT_BACKEND", "memory")
INTERFACE = os.environ.get("FANOUT_INTERFACE", "asgi")
ROOM = "fanout"
BACKLOG = 100_000


def ready() -> str:
    return f"ready {os.getpid()}"


async def accepted(scope: dict[str, Any], receive: Any, send: Any) -> bool:
    """Serve the lifespan, or accept a WebSocket (True): the plain ASGI apps' common part."""
    if scope["type"] != "websocket":
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
        return False
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    return True


async def published(scope: dict[str, Any], receive: Any) -> AsyncIterator[dict[str, Any]]:
    """The frame to send for each message that comes on ``/publish``, until the socket closes
    (a subscriber's socket yields none)."""
    while True:
        message = await receive()
        if message["type"] != "websocket.receive":
            return
        if scope["path"] == "/publish":
            yield {"type": "websocket.send", "text": message["text"]}


def bare_app() -> Any:
    if BACKEND != "memory":
        raise SystemExit("the bare fan-out app has no Redis backend")
    members: set[Any] = set()

    async def asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if not await accepted(scope, receive, send):
            return
        if scope["path"] == "/subscribe":
            members.add(send)
            await send({"type": "websocket.send", "text": ready()})
        try:
            async for frame in published(scope, receive):
                for member in list(members):
                    await member(frame)
        finally:
            members.discard(send)

    async def rsgi_app(scope: Any, protocol: Any) -> None:
        transport = await protocol.accept()
        if scope.path == "/subscribe":
            members.add(transport)
            await transport.send_str(ready())
        try:
            while True:
                message = await transport.receive()
                if message.kind == 0:  # close
                    break
                if scope.path == "/publish":
                    for member in list(members):
                        await member.send_str(message.data)
        finally:
            members.discard(transport)
        protocol.close(None)

    return rsgi_app if INTERFACE == "rsgi" else asgi_app


def floor_app() -> Any:
    if BACKEND != "memory":
        raise SystemExit("the fan-out floor app has no Redis backend")
    import asyncio
    from collections import deque

    class Sender:
        """One socket's queue and the task that empties it."""

        __slots__ = ("queue", "send", "task", "wake")

        def __init__(self, send: Any) -> None:
            self.send = send
            self.queue: deque[Any] = deque()
            self.wake: asyncio.Future[None] | None = None
            self.task = asyncio.ensure_future(self.run())

        async def run(self) -> None:
            queue, send = self.queue, self.send
            while True:
                while queue:
                    await send(queue.popleft())
                self.wake = asyncio.get_running_loop().create_future()
                await self.wake
                self.wake = None

        def offer(self, frame: Any) -> None:
            self.queue.append(frame)
            if self.wake is not None and not self.wake.done():
                self.wake.set_result(None)

    senders: set[Sender] = set()

    def publish(frame: Any) -> None:
        for sender in senders:
            sender.offer(frame)

    async def asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if not await accepted(scope, receive, send):
            return
        sender = None
        if scope["path"] == "/subscribe":
            sender = Sender(send)
            senders.add(sender)
            await send({"type": "websocket.send", "text": ready()})
        try:
            async for frame in published(scope, receive):
                publish(frame)
        finally:
            if sender is not None:
                senders.discard(sender)
                sender.task.cancel()

    return asgi_app


def velocipy_app() -> Any:
    from velocipy import VelociPy, WebSocket
    from velocipy.channels import Channels

    app = VelociPy()
    channels = Channels(BACKEND, app=app, backlog=BACKLOG)

    @app.websocket("/subscribe")
    async def subscribe(ws: WebSocket) -> None:
        await ws.accept()
        await channels.join(ws, ROOM)
        await ws.send_text(ready())
        async for _ in ws.iter_text():
            pass

    @app.websocket("/publish")
    async def publish(ws: WebSocket) -> None:
        await ws.accept()
        async for text in ws.iter_text():
            await channels.publish(ROOM, text)

    return app


def litestar_app() -> Any:
    from litestar import Litestar, WebSocket, websocket
    from litestar.channels import ChannelsPlugin
    from litestar.exceptions import WebSocketDisconnect

    if BACKEND == "memory":
        from litestar.channels.backends.memory import MemoryChannelsBackend

        backend: Any = MemoryChannelsBackend()
    else:
        from litestar.channels.backends.redis import RedisChannelsPubSubBackend
        from redis.asyncio import Redis

        backend = RedisChannelsPubSubBackend(redis=Redis.from_url(BACKEND))
    plugin = ChannelsPlugin(backend=backend, channels=[ROOM], subscriber_max_backlog=BACKLOG)

    async def subscribe(socket: WebSocket, channels: ChannelsPlugin) -> None:
        await socket.accept()
        async with channels.start_subscription([ROOM]) as subscriber:
            await socket.send_text(ready())
            async with subscriber.run_in_background(socket.send_data):
                try:
                    while True:
                        await socket.receive_text()
                except WebSocketDisconnect:
                    pass

    async def publish(socket: WebSocket, channels: ChannelsPlugin) -> None:
        await socket.accept()
        try:
            while True:
                channels.publish(await socket.receive_text(), [ROOM])
        except WebSocketDisconnect:
            pass

    return Litestar(
        route_handlers=[websocket("/subscribe")(subscribe), websocket("/publish")(publish)],
        plugins=[plugin],
        logging_config=None,
    )


def django_channels_app() -> Any:
    import django
    from django.conf import settings

    if BACKEND == "memory":
        layer: dict[str, Any] = {"BACKEND": "channels.layers.InMemoryChannelLayer"}
    else:
        layer = {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [BACKEND], "capacity": BACKLOG},
        }
    layer.setdefault("CONFIG", {}).setdefault("capacity", BACKLOG)
    settings.configure(
        INSTALLED_APPS=["channels"],
        CHANNEL_LAYERS={"default": layer},
        SECRET_KEY="bench-fanout",
        ALLOWED_HOSTS=["*"],
    )
    django.setup()
    from channels.generic.websocket import AsyncWebsocketConsumer
    from channels.routing import ProtocolTypeRouter, URLRouter
    from django.urls import path

    class Subscriber(AsyncWebsocketConsumer):  # type: ignore[misc]
        async def connect(self) -> None:
            await self.channel_layer.group_add(ROOM, self.channel_name)
            await self.accept()
            await self.send(text_data=ready())

        async def disconnect(self, code: int) -> None:
            await self.channel_layer.group_discard(ROOM, self.channel_name)

        async def fanout_message(self, event: dict[str, Any]) -> None:
            await self.send(text_data=event["text"])

    class Publisher(AsyncWebsocketConsumer):  # type: ignore[misc]
        async def receive(self, text_data: str | None = None, bytes_data: Any = None) -> None:
            await self.channel_layer.group_send(ROOM, {"type": "fanout.message", "text": text_data})

    return ProtocolTypeRouter(
        {
            "websocket": URLRouter(
                [path("subscribe", Subscriber.as_asgi()), path("publish", Publisher.as_asgi())]
            )
        }
    )


def socketio_app() -> Any:
    import socketio

    manager = None if BACKEND == "memory" else socketio.AsyncRedisManager(BACKEND)
    server = socketio.AsyncServer(
        async_mode="asgi", client_manager=manager, transports=["websocket"]
    )

    @server.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        if not (isinstance(auth, dict) and auth.get("role") == "publisher"):
            await server.enter_room(sid, ROOM)
            await server.emit("ready", ready(), to=sid)

    @server.on("publish")
    async def publish(sid: str, text: str) -> None:
        await server.emit("msg", text, room=ROOM)

    return socketio.ASGIApp(server)


FACTORIES = {
    "bare": bare_app,
    "floor": floor_app,
    "velocipy": velocipy_app,
    "litestar": litestar_app,
    "django-channels": django_channels_app,
    "socketio": socketio_app,
}
RSGI_APPS = frozenset({"bare", "velocipy"})
MEMORY_ONLY = frozenset({"bare", "floor"})  # the floors: no broker
PACKAGES = {  # what each app imports: an app whose packages are missing is skipped
    "bare": (),
    "floor": (),
    "velocipy": ("velocipy",),
    "litestar": ("litestar",),
    "django-channels": ("django", "channels", "channels_redis"),
    "socketio": ("socketio",),
}

if os.environ.get("FANOUT_APP"):  # imported by a server worker
    app = FACTORIES[APP]()
