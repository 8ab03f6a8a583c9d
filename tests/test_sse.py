"""Server-Sent Events: the wire format, JSON through the app's adapter, pings, Last-Event-ID."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

import msgspec
import pytest

from tests.conftest import ClientFactory
from velocipy import Header, VelociPy
from velocipy.json import get_adapter
from velocipy.sse import EventSourceResponse, ServerSentEvent


def stdlib(value: Any) -> bytes:
    return msgspec.json.encode(value)


def test_event_wire_format() -> None:
    event = ServerSentEvent("one\ntwo\r\nthree\rfour", event="note", id=7, retry=1500)
    assert event.encode(stdlib) == (
        b"id: 7\nevent: note\nretry: 1500\ndata: one\ndata: two\ndata: three\ndata: four\n\n"
    )
    assert ServerSentEvent({"a": [1, "\n"]}).encode(stdlib) == b'data: {"a":[1,"\\n"]}\n\n'
    assert ServerSentEvent(comment="keep\nalive").encode(stdlib) == b": keep\n: alive\n\n"
    assert ServerSentEvent("").encode(stdlib) == b"data: \n\n"
    assert ServerSentEvent().encode(stdlib) == b""
    assert ServerSentEvent("é").encode(stdlib) == "data: é\n\n".encode()


@pytest.mark.parametrize(
    "kwargs",
    [{"event": "a\nb"}, {"id": "1\r"}, {"id": "a\0"}, {"retry": -1}, {"retry": 1.5}],
)
def test_fields_that_would_break_the_stream_are_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="ServerSentEvent"):
        ServerSentEvent("x", **kwargs)


def test_ping_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="ping"):
        EventSourceResponse(iter(()), ping=0)


class Marked(msgspec.Struct):
    n: int


def test_stream_on_both_protocols(client_for: ClientFactory) -> None:
    adapter = get_adapter("msgspec")

    class CountingAdapter:
        name = "counting"
        calls = 0

        def encode(self, value: Any) -> bytes:
            CountingAdapter.calls += 1
            return adapter.encode(value)

        def decode(self, data: bytes | str) -> Any:
            return adapter.decode(data)

    app = VelociPy(json_adapter=CountingAdapter())

    @app.get("/events")
    async def events(
        last_event_id: Annotated[str | None, Header()] = None,
    ) -> EventSourceResponse:
        async def produce() -> AsyncIterator[Any]:
            yield ServerSentEvent(Marked(1), event="struct", id="1")
            yield "plain text"
            yield {"resumed": last_event_id}

        return EventSourceResponse(produce(), ping=None)

    client = client_for(app)
    response = client.get("/events", headers={"last-event-id": "41"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.headers["cache-control"] == "no-cache"
    assert response.text == (
        'id: 1\nevent: struct\ndata: {"n":1}\n\ndata: plain text\n\ndata: {"resumed":"41"}\n\n'
    )
    assert CountingAdapter.calls == 2  # the Struct and the dict went through the app's adapter


def test_pings_fill_the_silence_and_keep_the_generator(client_for: ClientFactory) -> None:
    app = VelociPy()
    finished: list[str] = []

    @app.get("/slow")
    async def slow() -> EventSourceResponse:
        async def produce() -> AsyncIterator[str]:
            try:
                yield "first"
                await asyncio.sleep(0.3)  # several ping intervals: the generator must survive
                yield "second"
            finally:
                finished.append("finally")

        return EventSourceResponse(produce(), ping=0.05, ping_comment="still here")

    body = client_for(app).get("/slow").text
    assert body.startswith("data: first\n\n: still here\n\n")
    assert body.endswith("data: second\n\n")
    assert finished == ["finally"]


def test_plain_iterables_run_in_a_thread(client_for: ClientFactory) -> None:
    app = VelociPy()

    @app.get("/sync")
    def sync() -> EventSourceResponse:
        def produce() -> Iterator[ServerSentEvent]:
            for number in range(3):
                yield ServerSentEvent(number, id=number)

        return EventSourceResponse(produce())

    body = client_for(app).get("/sync").text
    assert body == "id: 0\ndata: 0\n\nid: 1\ndata: 1\n\nid: 2\ndata: 2\n\n"


def test_closing_the_stream_runs_the_generators_finally() -> None:
    """What an adapter does when the client leaves: close the chunks while an item is awaited."""
    finished: list[str] = []

    async def produce() -> AsyncIterator[str]:
        try:
            yield "one"
            await asyncio.Event().wait()
            yield "never"
        finally:
            finished.append("finally")

    async def consume() -> list[bytes]:
        chunks = EventSourceResponse(produce(), ping=0.01).chunks()
        received = [await anext(chunks), await anext(chunks)]  # the event, then a ping
        await chunks.aclose()  # type: ignore[attr-defined]
        return received

    assert asyncio.run(consume()) == [b"data: one\n\n", b": ping\n\n"]
    assert finished == ["finally"]


def test_cancelling_the_sender_runs_the_generators_finally() -> None:
    """A disconnect watcher may cancel the task that sends the stream instead of closing it."""
    finished: list[str] = []

    async def produce() -> AsyncIterator[str]:
        try:
            yield "one"
            await asyncio.Event().wait()
            yield "never"
        finally:
            finished.append("finally")

    async def send_all(chunks: AsyncIterator[bytes], sent: list[bytes]) -> None:
        try:
            async for chunk in chunks:
                sent.append(chunk)
        finally:
            await chunks.aclose()  # type: ignore[attr-defined]

    async def main() -> list[bytes]:
        sent: list[bytes] = []
        task = asyncio.create_task(
            send_all(EventSourceResponse(produce(), ping=0.01).chunks(), sent)
        )
        while len(sent) < 3:  # the event and two pings
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return sent

    sent = asyncio.run(main())
    assert sent[0] == b"data: one\n\n"
    assert finished == ["finally"]
