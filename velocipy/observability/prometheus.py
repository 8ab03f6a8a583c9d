"""Prometheus metrics through prometheus_client (the ``prometheus`` extra).

Requests by method, route template and status (a counter and a latency histogram), requests in
flight, open WebSockets and their messages in and out, Channels queued messages and drops
(:meth:`Prometheus.watch_channels`). With ``PROMETHEUS_MULTIPROC_DIR`` set (as ``--workers N``
needs) the values live in prometheus_client's per-process files and the metrics route sums
every worker's.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from velocipy.observability.channel_hooks import count_drops, queued_messages
from velocipy.observability.instrument import (
    HTTPHandler,
    Instrument,
    WebSocketHandler,
    forget_websocket,
    http_route,
    watch_websocket,
    websocket_route,
    when_sent,
)
from velocipy.requests import Request
from velocipy.responses import Response
from velocipy.websockets import WebSocket

if TYPE_CHECKING:
    from velocipy.application import Application
    from velocipy.channels import Channels

__all__ = ["Prometheus"]

UNMATCHED = "<unmatched>"  # the route label of a request no route matched (a 404)
_KNOWN_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}
)
DEFAULT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _import_prometheus_client() -> Any:
    try:
        import prometheus_client
    except ImportError:
        raise ImportError(
            "Prometheus metrics need prometheus_client: install the prometheus extra "
            "(pip install -e '.[prometheus]' in a clone)"
        ) from None
    return prometheus_client


class Prometheus(Instrument):
    """``app.add_instrument(Prometheus(path="/metrics"))``: the metrics, served at ``path``.

    ``path=None`` serves nothing (expose ``registry`` yourself). Metric names start with
    ``namespace`` (``velocipy_requests_total``...).
    """

    def __init__(
        self,
        path: str | None = "/metrics",
        *,
        namespace: str = "velocipy",
        buckets: Sequence[float] = DEFAULT_BUCKETS,
    ) -> None:
        client = _import_prometheus_client()
        self.path = path
        self.multiprocess_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None
        if self.multiprocess_dir is not None and not os.path.isdir(self.multiprocess_dir):
            raise ValueError(
                f"PROMETHEUS_MULTIPROC_DIR={self.multiprocess_dir!r} is not a directory: "
                "create it (empty) before the server starts"
            )
        self.registry = client.CollectorRegistry()
        self._client = client
        live = {"multiprocess_mode": "livesum"}
        labels = ("method", "route", "status")
        common = {"namespace": namespace, "registry": self.registry}
        self.requests = client.Counter("requests", "HTTP requests answered", labels, **common)
        self.latency = client.Histogram(
            "request_duration_seconds",
            "Time from the request's arrival to its last body byte",
            labels,
            buckets=tuple(buckets),
            **common,
        )
        self.in_flight = client.Gauge(
            "requests_in_flight", "HTTP requests being handled", **live, **common
        )
        self.websockets_open = client.Gauge(
            "websockets_open", "WebSocket connections open", ("route",), **live, **common
        )
        self.websockets = client.Counter(
            "websockets", "WebSocket connections ended", ("route", "status"), **common
        )
        self.messages = client.Counter(
            "websocket_messages",
            "WebSocket messages received (in) and sent (out)",
            ("route", "direction"),
            **common,
        )
        self._live, self._common, self._hubs = live, common, list[Any]()

    def watch_channels(self, hub: Channels, *, interval: float = 1.0) -> None:
        """Export ``hub``'s queued messages and drops (call it before the hub starts).

        ``velocipy_channel_messages_dropped_total`` counts every message a slow subscriber lost
        and every subscriber dropped for falling behind. ``velocipy_channel_queued_messages``
        is what waits in this process's subscriber backlogs: read at each scrape, and in
        multiprocess mode also written every ``interval`` seconds by each worker (the scrape
        sums the workers' last values).
        """
        client = self._client
        if not self._hubs:
            self.queued = client.Gauge(
                "channel_queued_messages",
                "Channels messages waiting in subscriber backlogs",
                **self._live,
                **self._common,
            )
            self.dropped = client.Counter(
                "channel_messages_dropped",
                "Channels messages lost by slow subscribers, and subscribers dropped",
                **self._common,
            )
        self._hubs.append(hub)
        count_drops(hub, self.dropped.inc)
        if self.multiprocess_dir is not None:
            sampler: list[asyncio.Task[None]] = []

            async def sample_every_interval() -> None:
                while True:
                    self._sample_channels()
                    await asyncio.sleep(interval)

            def start() -> None:
                sampler.append(asyncio.ensure_future(sample_every_interval()))

            async def stop() -> None:
                for task in sampler:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

            self.app.lifespan.on_startup.append(start)
            self.app.lifespan.on_shutdown.insert(0, stop)

    def _sample_channels(self) -> None:
        if self._hubs:
            self.queued.set(sum(queued_messages(hub) for hub in self._hubs))

    def install(self, app: Application) -> None:
        super().install(app)
        if self.path is not None:
            app.add_route(self.path, self._serve, ["GET"], name="metrics", include_in_schema=False)
        if self.multiprocess_dir is not None:
            app.lifespan.on_shutdown.append(self._mark_process_dead)

    def _mark_process_dead(self) -> None:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]

    def exposition(self) -> tuple[bytes, str]:
        """The text exposition of every metric (of every worker in multiprocess mode)."""
        client = self._client
        registry = self.registry
        self._sample_channels()
        if self.multiprocess_dir is not None:
            from prometheus_client import multiprocess

            registry = client.CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return client.generate_latest(registry), client.CONTENT_TYPE_LATEST

    async def _serve(self) -> Response:
        body, content_type = self.exposition()
        return Response(body, 200, None, content_type)

    def wrap_http(self, handle_http: HTTPHandler) -> HTTPHandler:
        app, clock, in_flight = self.app, time.perf_counter, self.in_flight
        # PERF: the two children of each (method, route, status), found once; the keys are
        # bounded: route templates, and methods outside the standard ones count as "_OTHER"
        children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

        def children_of(method: str, route: str, status: int) -> tuple[Any, Any]:
            labels = (method, route, str(status))
            found = children[method, route, status] = (
                self.requests.labels(*labels),
                self.latency.labels(*labels),
            )
            return found

        def done_with(request: Request, status: int, start: float) -> None:
            in_flight.dec()
            method = request.method
            if method not in _KNOWN_METHODS:
                method = "_OTHER"
            key = (method, http_route(app, request) or UNMATCHED, status)
            counted, timed = children.get(key) or children_of(*key)
            counted.inc()
            timed.observe(clock() - start)

        async def measured(request: Request) -> Response:
            start = clock()
            in_flight.inc()
            try:
                response = await handle_http(request)
            except BaseException:  # debug mode re-raises: the server answers 500
                done_with(request, 500, start)
                raise

            def done(size: int) -> None:
                done_with(request, response.status_code, start)

            when_sent(request, response, done)
            return response

        return measured

    def wrap_websocket(self, handle_websocket: WebSocketHandler) -> WebSocketHandler:
        app = self.app
        opened, ended, messages = self.websockets_open, self.websockets, self.messages

        async def measured(websocket: WebSocket) -> None:
            route = websocket_route(app, websocket) or UNMATCHED
            record, made = watch_websocket(websocket)
            received, sent = messages.labels(route, "in"), messages.labels(route, "out")
            record.listeners.append(
                lambda direction, size: (received if direction == "in" else sent).inc()
            )
            gauge = opened.labels(route)
            gauge.inc()
            try:
                await handle_websocket(websocket)
            finally:
                gauge.dec()
                ended.labels(route, str(record.outcome(websocket)[0])).inc()
                if made:
                    forget_websocket(websocket)

        return measured
