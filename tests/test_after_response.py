"""Work a response carries for after it was sent (`Response(background=...)`), both protocols."""

from __future__ import annotations

from typing import Any

import pytest

from velocipy import JSONResponse, PlainTextResponse, Response, StreamingResponse, VelociPy


def test_background_runs_after_the_body_was_sent(client_for: Any) -> None:
    app = VelociPy()
    events: list[str] = []

    async def after() -> None:
        events.append("after")

    async def chunks() -> Any:
        events.append("body")
        yield b"streamed"

    @app.get("/plain")
    async def plain() -> Response:
        return PlainTextResponse("done", background=after)

    @app.get("/json")
    async def json() -> Response:
        return JSONResponse({"ok": True}, background=after)

    @app.get("/stream")
    async def stream() -> Response:
        return StreamingResponse(chunks(), background=after)

    client = client_for(app)
    assert client.get("/plain").text == "done"
    assert client.get("/json").json() == {"ok": True}
    assert events == ["after", "after"]
    events.clear()
    assert client.get("/stream").text == "streamed"
    assert events == ["body", "after"]


def test_failing_background_is_logged_and_the_response_stands(
    client_for: Any, caplog: pytest.LogCaptureFixture
) -> None:
    app = VelociPy()

    async def broken() -> None:
        raise RuntimeError("disk full")

    @app.get("/")
    async def index() -> Response:
        return PlainTextResponse("sent", background=broken)

    @app.get("/next")
    async def following() -> str:
        return "still serving"

    client = client_for(app)
    response = client.get("/")
    assert (response.status_code, response.text) == (200, "sent")
    failures = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(failures) == 1
    assert failures[0].exc_info is not None
    assert "disk full" in str(failures[0].exc_info[1])
    assert client.get("/next").text == "still serving"


def test_plain_return_values_carry_no_background(client_for: Any) -> None:
    app = VelociPy()
    seen: list[Response] = []

    @app.middleware
    async def keep(request: Any, call_next: Any) -> Response:
        response: Response = await call_next(request)
        seen.append(response)
        return response

    @app.get("/")
    async def index() -> dict[str, int]:
        return {"n": 1}

    client_for(app).get("/")
    assert seen[0].background is None
