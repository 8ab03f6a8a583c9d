"""OpenTelemetry spans (the ``otel`` extra): one SERVER span per request and per WebSocket.

Spans follow the HTTP semantic conventions: named ``{method} {route template}``, with
``http.request.method``, ``url.path``, ``url.scheme``, ``http.route``, ``client.address``,
``http.response.status_code`` and ``http.response.body.size``; a 5xx marks the span as an
error. The context comes from the request's ``traceparent`` (the global propagator), and the
handler runs inside the span, so its own spans are children. A WebSocket's span lasts as long
as the connection, with one event per message.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from velocipy.observability.channel_hooks import Deliver, wrap_deliver, wrap_publish
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
from velocipy.requests import Connection, Request
from velocipy.responses import Response
from velocipy.websockets import WebSocket

if TYPE_CHECKING:
    from velocipy.channels import Channels
    from velocipy.channels.messages import Message

__all__ = ["OpenTelemetry"]

_KNOWN_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}
)


def _import_opentelemetry() -> Any:
    try:
        from opentelemetry import trace
    except ImportError:
        raise ImportError(
            "OpenTelemetry spans need opentelemetry-api: install the otel extra "
            "(pip install -e '.[otel]' in a clone) and an SDK with an exporter"
        ) from None
    return trace


def _connection_attributes(connection: Connection, route: str | None) -> dict[str, Any]:
    url = connection.url
    attributes: dict[str, Any] = {"url.path": connection.path, "url.scheme": url.scheme}
    if route is not None:
        attributes["http.route"] = route
    if connection.query_string:
        attributes["url.query"] = connection.query_string
    client = connection.client
    if client is not None:
        attributes["client.address"] = client.host
        if client.port:
            attributes["client.port"] = client.port
    if url.host:
        attributes["server.address"] = url.host
    if url.port:
        attributes["server.port"] = url.port
    agent = connection.headers.get("user-agent")
    if agent:
        attributes["user_agent.original"] = agent
    return attributes


class OpenTelemetry(Instrument):
    """``app.add_instrument(OpenTelemetry())``: spans through the global tracer provider, or
    the ``tracer_provider`` given."""

    def __init__(self, tracer_provider: Any = None) -> None:
        trace = _import_opentelemetry()
        from opentelemetry import context, propagate
        from opentelemetry.trace import SpanKind, Status, StatusCode

        self._trace, self._context, self._propagate = trace, context, propagate
        self._server, self._error = SpanKind.SERVER, Status(StatusCode.ERROR)
        self.tracer = trace.get_tracer("velocipy", tracer_provider=tracer_provider)
        self._kinds = SpanKind

    def trace_channels(self, hub: Channels) -> None:
        """Spans for ``hub``: ``publish {channel}`` (PRODUCER) around each publish and
        ``deliver {channel}`` (CONSUMER) around each fan-out to this process's subscribers.

        Call it before the hub starts. With the memory backend the fan-out runs inside the
        publish, so its span is the publish span's child; a Redis message carries no trace
        context, so there a deliver span starts its own trace.
        """
        tracer, error, kinds = self.tracer, self._error, self._kinds

        def attributes(channel: str, operation: str) -> dict[str, Any]:
            return {
                "messaging.system": "velocipy.channels",
                "messaging.destination.name": channel,
                "messaging.operation.type": operation,
            }

        def traced_publish(publish: Any) -> Any:
            async def publish_in_span(channel: str, message: Any, **options: Any) -> bool:
                with tracer.start_as_current_span(
                    f"publish {channel}",
                    kind=kinds.PRODUCER,
                    attributes=attributes(channel, "send"),
                ) as span:
                    taken: bool = await publish(channel, message, **options)
                    if not taken:
                        span.set_status(error)
                    return taken

            return publish_in_span

        def traced_deliver(deliver: Deliver) -> Deliver:
            def deliver_in_span(message: Message) -> Awaitable[None] | None:
                channel = message.channel
                with tracer.start_as_current_span(
                    f"deliver {channel}",
                    kind=kinds.CONSUMER,
                    attributes=attributes(channel, "receive"),
                ) as span:
                    span.set_attribute(
                        "velocipy.channels.subscribers", len(hub._subscribers.get(channel, ()))
                    )
                    return deliver(message)  # (the hub's wait for a full backlog, if any)

            return deliver_in_span

        wrap_publish(hub, traced_publish)
        wrap_deliver(hub, traced_deliver)

    def wrap_http(self, handle_http: HTTPHandler) -> HTTPHandler:
        app, tracer, trace, context = self.app, self.tracer, self._trace, self._context
        extract, server, error = self._propagate.extract, self._server, self._error

        async def traced(request: Request) -> Response:
            route = http_route(app, request)
            method = request.method
            known = method if method in _KNOWN_METHODS else "_OTHER"
            attributes = _connection_attributes(request, route)
            attributes["http.request.method"] = known
            if known != method:
                attributes["http.request.method_original"] = method
            span = tracer.start_span(
                f"{known} {route}" if route is not None else known,
                context=extract(request.headers),
                kind=server,
                attributes=attributes,
                start_time=time.time_ns(),
            )
            token = context.attach(trace.set_span_in_context(span))
            try:
                response = await handle_http(request)
            except BaseException as exc:
                span.record_exception(exc)
                span.set_status(error)
                span.end()
                raise
            finally:
                context.detach(token)
            status = response.status_code
            span.set_attribute("http.response.status_code", status)
            if status >= 500:
                span.set_status(error)

            def done(size: int) -> None:
                span.set_attribute("http.response.body.size", size)
                span.end()

            when_sent(request, response, done)
            return response

        return traced

    def wrap_websocket(self, handle_websocket: WebSocketHandler) -> WebSocketHandler:
        app, tracer, trace, context = self.app, self.tracer, self._trace, self._context
        extract, server = self._propagate.extract, self._server

        async def traced(websocket: WebSocket) -> None:
            route = websocket_route(app, websocket)
            span = tracer.start_span(
                f"WS {route}" if route is not None else "WS",
                context=extract(websocket.headers),
                kind=server,
                attributes=_connection_attributes(websocket, route),
            )
            record, made = watch_websocket(websocket)
            record.listeners.append(
                lambda direction, size: span.add_event(
                    "message received" if direction == "in" else "message sent",
                    {"message.size": size},
                )
            )
            token = context.attach(trace.set_span_in_context(span))
            try:
                await handle_websocket(websocket)
            except BaseException as exc:
                span.record_exception(exc)
                span.set_status(self._error)
                raise
            finally:
                context.detach(token)
                status, close_code = record.outcome(websocket)
                span.set_attribute("http.response.status_code", status)
                if close_code is not None:
                    span.set_attribute("websocket.close.code", close_code)
                span.set_attribute("websocket.messages.received", record.messages_in)
                span.set_attribute("websocket.messages.sent", record.messages_out)
                span.end()
                if made:
                    forget_websocket(websocket)

        return traced
