"""OpenTelemetry spans kept by the SDK's in-memory exporter, for test_otel_interop.py.

``GET /finished-spans`` hands the spans this worker finished so far to the test (as JSON).
"""

from __future__ import annotations

from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from velocipy import HTTPException, VelociPy, WebSocket
from velocipy.observability import OpenTelemetry

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
tracer = trace.get_tracer("traced_app", tracer_provider=provider)

app = VelociPy()
app.add_instrument(OpenTelemetry(tracer_provider=provider))


@app.get("/items/{item_id}")
async def item(item_id: int) -> dict[str, int]:
    with tracer.start_as_current_span("load item"):  # a child of the request's span
        return {"item_id": item_id}


@app.get("/broken")
async def broken() -> None:
    raise HTTPException(503, "down")


@app.websocket("/echo/{room}")
async def echo(websocket: WebSocket, room: str) -> None:
    await websocket.accept()
    async for message in websocket.iter_text():
        await websocket.send_text(message)


@app.get("/finished-spans", include_in_schema=False)
async def finished_spans() -> list[dict[str, Any]]:
    return [
        {
            "name": span.name,
            "kind": span.kind.name,
            "trace_id": f"{span.context.trace_id:032x}",
            "span_id": f"{span.context.span_id:016x}",
            "parent_id": f"{span.parent.span_id:016x}" if span.parent else None,
            "status": span.status.status_code.name,
            "attributes": dict(span.attributes or {}),
            "events": [
                {"name": event.name, "attributes": dict(event.attributes or {})}
                for event in span.events
            ],
        }
        for span in exporter.get_finished_spans()
    ]
