"""Channels under OpenTelemetry and Prometheus: publish and deliver spans, drops, backlogs."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import ClientFactory
from velocipy import VelociPy
from velocipy.channels import Channels
from velocipy.observability import OpenTelemetry, Prometheus


def channel_app() -> tuple[VelociPy, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = VelociPy()
    # linger=0: each message reaches the backlogs before the request that published it ends,
    # so the metrics read right after count it (a held stream would reach them 5 ms later)
    hub = Channels("memory", app=app, backlog=2, on_overflow="drop_oldest", linger=0)
    tracing = OpenTelemetry(tracer_provider=provider)
    metrics = Prometheus()
    app.add_instrument(tracing)
    app.add_instrument(metrics)
    tracing.trace_channels(hub)
    metrics.watch_channels(hub)
    idle: list[Any] = []

    @app.post("/listen/{room}")
    async def listen(room: str) -> dict[str, bool]:
        subscription = hub.subscribe(room)  # never read: it falls behind
        await subscription.__aenter__()
        idle.append(subscription)
        return {"listening": True}

    @app.post("/say/{room}")
    async def say(room: str) -> dict[str, bool]:
        return {"taken": await hub.publish(room, "hi")}

    return app, exporter


def samples(text: str) -> dict[str, float]:
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name.startswith("velocipy_channel")
    }


def test_publish_and_deliver_spans(client_for: ClientFactory) -> None:
    app, exporter = channel_app()
    client = client_for(app)
    client.post("/listen/lobby")
    exporter.clear()
    assert client.post("/say/lobby").json() == {"taken": True}
    spans = {span.name: span for span in exporter.get_finished_spans()}
    assert set(spans) == {"POST /say/{room}", "publish lobby", "deliver lobby"}
    request, publish, deliver = (
        spans["POST /say/{room}"],
        spans["publish lobby"],
        spans["deliver lobby"],
    )
    assert publish.kind is SpanKind.PRODUCER
    assert deliver.kind is SpanKind.CONSUMER
    assert publish.parent is not None
    assert publish.parent.span_id == request.context.span_id
    assert deliver.parent is not None  # the memory backend fans out inside the publish
    assert deliver.parent.span_id == publish.context.span_id
    assert publish.attributes is not None
    assert publish.attributes["messaging.destination.name"] == "lobby"
    assert deliver.attributes is not None
    assert deliver.attributes["velocipy.channels.subscribers"] == 1


@pytest.mark.parametrize("published", [1, 2, 3, 5])
def test_drops_and_queued_messages_around_the_backlog(
    client_for: ClientFactory, published: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A full backlog is dropped from once its subscriber had GRACE_SECONDS to catch up: with no
    # grace, this subscriber that never reads falls behind at the first message over the limit.
    monkeypatch.setattr("velocipy.channels.subscribers.GRACE_SECONDS", 0.0)
    app, _ = channel_app()
    client = client_for(app)
    client.post("/listen/slow")
    for _ in range(published):
        client.post("/say/slow")
    found = samples(client.get("/metrics").text)
    assert found["velocipy_channel_queued_messages"] == min(published, 2)  # the backlog: 2
    assert found["velocipy_channel_messages_dropped_total"] == max(published - 2, 0)


def test_a_started_hub_cannot_be_watched(client_for: ClientFactory) -> None:
    app = VelociPy()
    hub = Channels("memory", app=app)
    tracing = OpenTelemetry(tracer_provider=TracerProvider())
    app.add_instrument(tracing)
    client_for(app)  # lifespan ran: the hub started
    with pytest.raises(RuntimeError, match="before it starts"):
        tracing.trace_channels(hub)
