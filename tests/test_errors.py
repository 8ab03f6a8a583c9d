"""What the client sees when things go wrong: 400/404/405/413/415/422/500, handlers, middleware."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

import msgspec
import pytest

from velocipy import (
    HTTPException,
    JSONResponse,
    Request,
    Response,
    StreamingResponse,
    VelociPy,
)
from velocipy.exceptions import RequestValidationError
from velocipy.testing import WorkerCrash

GENERIC_500 = {"detail": "Internal Server Error"}


class Payload(msgspec.Struct):
    text: str


class Unhandled(Exception):
    pass


def errors_app(ran: list[str], **settings: Any) -> VelociPy:
    app = VelociPy(**settings)

    @app.get("/boom")
    async def boom() -> None:
        raise Unhandled("secret internals")

    @app.get("/sync-boom")
    def sync_boom() -> None:
        raise Unhandled("sync secret")

    @app.get("/teapot")
    async def teapot() -> None:
        raise HTTPException(418, {"why": "short and stout"}, headers={"x-pot": "yes"})

    @app.get("/default-detail")
    async def default_detail() -> None:
        raise HTTPException(403)

    @app.get("/unauthorized")
    async def unauthorized() -> None:
        raise HTTPException(401, headers={"WWW-Authenticate": 'Bearer realm="api"'})

    @app.post("/upload")
    async def upload(request: Request) -> dict[str, int]:
        ran.append("upload")
        return {"size": len(await request.body())}

    @app.post("/payload")
    async def payload(data: Payload) -> str:
        ran.append("payload")
        return data.text

    @app.get("/injected-header")
    async def injected_header() -> Response:
        return Response(b"x", headers={"x-evil": "a\r\nSet-Cookie: stolen=1"})

    @app.get("/injected-mutation")
    async def injected_mutation() -> Response:
        response = Response(b"x")
        response.headers["x-evil"] = "a\nInjected: 1"
        return response

    @app.get("/injected-exception")
    async def injected_exception() -> None:
        raise HTTPException(400, "bad", headers={"x-evil": "a\r\nInjected: 1"})

    @app.get("/status/{status}")
    async def status(status: int) -> Response:
        return Response(b"odd", status_code=status)

    @app.get("/stream-status/{status}")
    async def stream_status(status: int) -> Response:
        return StreamingResponse(iter([b"a"]), status_code=status)

    @app.get("/decorator-status", status_code=1000)
    async def decorator_status() -> dict[str, int]:
        return {"a": 1}

    @app.get("/exception-status")
    async def exception_status() -> None:
        raise HTTPException(1200, "no such status")

    @app.get("/string-status")
    async def string_status() -> Response:
        return Response(b"", status_code="200")  # type: ignore[arg-type]

    @app.get("/unserializable")
    async def unserializable() -> Any:
        return {"value": object()}

    return app


def test_unhandled_error_is_generic_500_with_logged_traceback(
    client_for: Any, caplog: pytest.LogCaptureFixture
) -> None:
    client = client_for(errors_app([]))
    with caplog.at_level(logging.ERROR, logger="velocipy"):
        for path in ("/boom", "/sync-boom"):
            response = client.get(path)
            assert response.status_code == 500
            assert response.json() == GENERIC_500
            assert b"secret" not in response.content
    records = [r for r in caplog.records if r.name == "velocipy"]
    assert len(records) == 2
    assert "GET /boom" in records[0].getMessage()
    assert records[0].exc_info is not None
    assert records[0].exc_info[0] is Unhandled
    assert "secret internals" in caplog.text
    assert "Traceback" in caplog.text


def test_debug_re_raises_the_original_error(protocol: str) -> None:
    from velocipy.testing import TestClient

    client = TestClient(errors_app([], debug=True), interface=protocol)
    with pytest.raises(Unhandled, match="secret internals"):
        client.get("/boom")
    # HTTP errors the app meant to send are still answered normally in debug mode.
    assert client.get("/teapot").status_code == 418


def test_http_exception_with_detail_and_headers(client_for: Any) -> None:
    client = client_for(errors_app([]))
    response = client.get("/teapot")
    assert response.status_code == 418
    assert response.json() == {"detail": {"why": "short and stout"}}
    assert response.headers["x-pot"] == "yes"
    assert response.headers["content-type"] == "application/json"
    assert client.get("/default-detail").json() == {"detail": "Forbidden"}
    unauthorized = client.get("/unauthorized")
    assert unauthorized.status_code == 401
    assert unauthorized.headers["www-authenticate"] == 'Bearer realm="api"'


def test_client_errors_are_not_logged_as_errors(
    client_for: Any, caplog: pytest.LogCaptureFixture
) -> None:
    client = client_for(errors_app([]))
    with caplog.at_level(logging.DEBUG, logger="velocipy"):
        assert client.get("/nope").status_code == 404
        assert client.post("/boom", content=b"").status_code == 405
        assert client.get("/status/abc").status_code == 422
        assert client.get("/teapot").status_code == 418
        assert client.post("/payload", content=b"{").status_code == 400
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_declared_body_over_the_limit_is_413_before_the_handler(client_for: Any) -> None:
    ran: list[str] = []
    client = client_for(errors_app(ran, max_body_size=1000))
    response = client.post("/upload", content=b"x" * 1001)
    assert response.status_code == 413
    assert "1000 bytes" in response.json()["detail"]
    assert client.post("/payload", json={"text": "y" * 2000}).status_code == 413
    assert ran == []
    assert client.post("/upload", content=b"x" * 1000).json() == {"size": 1000}
    assert ran == ["upload"]


def test_chunked_body_over_the_limit_is_413_while_streaming(client_for: Any) -> None:
    ran: list[str] = []
    client = client_for(errors_app(ran, max_body_size=1000))
    chunks = [b"y" * 300] * 5  # no Content-Length: sent with Transfer-Encoding: chunked
    response = client.post("/upload", content=iter(chunks))
    assert response.status_code == 413
    typed = client.post(
        "/payload",
        content=iter([b'{"text": "', b"z" * 1200, b'"}']),
        headers={"content-type": "application/json"},
    )
    assert typed.status_code == 413
    assert ran == ["upload"]  # the typed body is read before its handler would run
    small = client.post("/upload", content=iter([b"a" * 500, b"b" * 500]))
    assert small.json() == {"size": 1000}


@pytest.mark.parametrize("framing", ["declared", "chunked"])
@pytest.mark.parametrize("size", [999, 1000, 1001], ids=["below", "at", "above"])
def test_the_body_limit_at_below_and_above(client_for: Any, framing: str, size: int) -> None:
    ran: list[str] = []
    client = client_for(errors_app(ran, max_body_size=1000))
    body = b"x" * size
    # chunked: 300-byte pieces (the last one shorter), so the limit falls inside a chunk
    content = (
        body if framing == "declared" else iter(body[i : i + 300] for i in range(0, size, 300))
    )
    response = client.post("/upload", content=content)
    if size > 1000:
        assert response.status_code == 413
        assert response.json() == {
            "detail": "Request body is larger than the limit of 1000 bytes"
        }, response.text
        assert ran == ([] if framing == "declared" else ["upload"])
    else:
        assert (response.status_code, response.json()) == (200, {"size": size})
        assert ran == ["upload"]


@pytest.mark.parametrize("length", ["-1", "+5", "0x10", "1e3", "5 ", "abc", ""])
def test_malformed_content_length_is_400(client_for: Any, length: str) -> None:
    ran: list[str] = []
    client = client_for(errors_app(ran))
    response = client.post("/upload", content=b"hello", headers={"content-length": length})
    assert response.status_code == 400
    assert "Content-Length" in response.json()["detail"]
    assert ran == []


@pytest.mark.parametrize("path", ["/injected-header", "/injected-mutation", "/injected-exception"])
def test_header_injection_is_a_generic_500_never_emitted(
    client_for: Any, caplog: pytest.LogCaptureFixture, path: str
) -> None:
    client = client_for(errors_app([]))
    with caplog.at_level(logging.ERROR, logger="velocipy"):
        response = client.get(path)
    assert response.status_code == 500
    assert response.json() == GENERIC_500
    assert "set-cookie" not in response.headers
    assert "injected" not in response.headers
    assert "x-evil" not in response.headers
    assert any("CR, LF or NUL" in r.getMessage() or r.exc_info for r in caplog.records)


@pytest.mark.parametrize(
    "path",
    [
        "/status/1000",
        "/status/99",
        "/status/0",
        "/status/-1",
        "/status/70000",
        "/status/100",
        "/status/101",
        "/status/199",
        "/stream-status/1000",
        "/stream-status/150",
        "/decorator-status",
        "/exception-status",
        "/string-status",
    ],
)
def test_impossible_status_is_500_and_never_reaches_the_server(
    client_for: Any, caplog: pytest.LogCaptureFixture, path: str
) -> None:
    client = client_for(errors_app([]))
    try:
        response = client.get(path)
    except WorkerCrash as crash:  # the RSGI fake says granian's worker would have died
        pytest.fail(f"{path}: {crash}")
    assert response.status_code == 500
    assert response.json() == GENERIC_500


@pytest.mark.parametrize("status", [200, 299, 404, 599, 999])
def test_unusual_but_valid_statuses_pass(client_for: Any, status: int) -> None:
    response = client_for(errors_app([])).get(f"/status/{status}")
    assert response.status_code == status
    assert response.content == b"odd"


@pytest.mark.parametrize("with_middleware", [False, True])
def test_http_status_enum_is_accepted_everywhere(client_for: Any, with_middleware: bool) -> None:
    app = VelociPy()
    if with_middleware:

        @app.middleware
        async def passthrough(request: Request, call_next: CallNext) -> Response:
            return await call_next(request)

    @app.get("/json")
    async def json_route() -> Response:
        return JSONResponse({"a": 1}, status_code=HTTPStatus.CREATED)

    @app.get("/plain")
    async def plain() -> Response:
        return Response(b"x", status_code=HTTPStatus.ACCEPTED)

    @app.get("/raise")
    async def raise_enum() -> None:
        raise HTTPException(HTTPStatus.CONFLICT)

    @app.post("/decorated", status_code=HTTPStatus.CREATED)
    async def decorated() -> dict[str, int]:
        return {"a": 1}

    client = client_for(app)
    assert (client.get("/json").status_code, client.get("/json").json()) == (201, {"a": 1})
    assert client.get("/plain").status_code == 202
    assert client.get("/raise").json() == {"detail": "Conflict"}
    assert client.get("/raise").status_code == 409
    assert client.post("/decorated", content=b"").status_code == 201


def test_unserializable_return_value_is_500(
    client_for: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="velocipy"):
        response = client_for(errors_app([])).get("/unserializable")
    assert response.status_code == 500
    assert response.json() == GENERIC_500
    assert caplog.records


def handlers_app() -> VelociPy:
    app = VelociPy()

    class NotFoundInDb(LookupError):
        pass

    class SpecificNotFound(NotFoundInDb):
        pass

    @app.exception_handler(NotFoundInDb)
    async def db_missing(request: Request, exc: NotFoundInDb) -> Response:
        return Response(f"missing: {exc}", 404, {"x-handler": "db"}, "text/plain")

    @app.exception_handler(ZeroDivisionError)
    def divide(request: Request, exc: ZeroDivisionError) -> Response:  # sync handler
        return Response(b"cannot divide", 400, media_type="text/plain")

    @app.exception_handler(HTTPException)
    async def http_errors(request: Request, exc: HTTPException) -> Response:
        return Response(f"custom {exc.status_code}", exc.status_code, exc.headers, "text/plain")

    @app.exception_handler(RequestValidationError)
    async def validation(request: Request, exc: RequestValidationError) -> Response:
        return Response(f"{len(exc.errors)} bad", 400, media_type="text/plain")

    class HandlerBug(Exception):
        pass

    @app.exception_handler(HandlerBug)
    async def broken_handler(request: Request, exc: HandlerBug) -> Response:
        raise RuntimeError("the handler itself failed")

    class WrongReturn(Exception):
        pass

    @app.exception_handler(WrongReturn)
    async def wrong_return(request: Request, exc: WrongReturn) -> Any:
        return {"not": "a response"}

    @app.get("/db")
    async def db() -> None:
        raise NotFoundInDb("row 3")

    @app.get("/specific")
    async def specific() -> None:
        raise SpecificNotFound("row 4")

    @app.get("/divide")
    async def divide_route() -> float:
        return 1 / 0

    @app.get("/number/{n:int}")
    async def number(n: int) -> int:
        return n

    @app.get("/broken-handler")
    async def broken() -> None:
        raise HandlerBug()

    @app.get("/wrong-return")
    async def wrong() -> None:
        raise WrongReturn()

    return app


def test_exception_handlers(client_for: Any, caplog: pytest.LogCaptureFixture) -> None:
    client = client_for(handlers_app())
    db = client.get("/db")
    assert (db.status_code, db.text, db.headers["x-handler"]) == (404, "missing: row 3", "db")
    assert client.get("/specific").text == "missing: row 4"  # subclasses use the base's handler
    assert (client.get("/divide").status_code, client.get("/divide").text) == (
        400,
        "cannot divide",
    )
    # Framework errors go through the handler registered for HTTPException...
    missing_route = client.get("/nowhere")
    assert (missing_route.status_code, missing_route.text) == (404, "custom 404")
    not_allowed = client.post("/db", content=b"")
    assert (not_allowed.status_code, not_allowed.headers["allow"]) == (405, "GET, HEAD")
    # ...and a more specific handler wins for validation errors.
    invalid = client.get("/number/x")
    assert (invalid.status_code, invalid.text) == (400, "1 bad")


@pytest.mark.parametrize("path", ["/broken-handler", "/wrong-return"])
def test_failing_exception_handler_is_a_generic_500(
    client_for: Any, caplog: pytest.LogCaptureFixture, path: str
) -> None:
    with caplog.at_level(logging.ERROR, logger="velocipy"):
        response = client_for(handlers_app()).get(path)
    assert response.status_code == 500
    assert response.json() == GENERIC_500
    assert [r for r in caplog.records if r.name == "velocipy" and r.exc_info]


CallNext = Callable[[Request], Awaitable[Response]]


def middleware_app(order: list[str]) -> VelociPy:
    app = VelociPy()

    @app.middleware
    async def outer(request: Request, call_next: CallNext) -> Response:
        order.append("outer in")
        request.state.seen_by = ["outer"]
        response = await call_next(request)
        order.append("outer out")
        response.headers["x-outer"] = "1"
        return response

    @app.middleware("http")
    async def inner(request: Request, call_next: CallNext) -> Response:
        order.append("inner in")
        request.state.seen_by.append("inner")
        if request.path == "/short":
            return Response(b"short-circuited", 299)
        response = await call_next(request)
        order.append("inner out")
        response.headers["x-inner"] = "1"
        return response

    @app.get("/hello")
    async def hello(request: Request) -> dict[str, Any]:
        order.append("handler")
        return {"seen_by": request.state.seen_by}

    @app.get("/boom")
    async def boom() -> None:
        raise Unhandled("from handler")

    return app


def test_middleware_runs_in_registration_order(client_for: Any) -> None:
    order: list[str] = []
    client = client_for(middleware_app(order))
    response = client.get("/hello")
    assert response.json() == {"seen_by": ["outer", "inner"]}
    assert order == ["outer in", "inner in", "handler", "inner out", "outer out"]
    assert (response.headers["x-outer"], response.headers["x-inner"]) == ("1", "1")


def test_middleware_can_short_circuit_and_sees_errors_as_responses(client_for: Any) -> None:
    order: list[str] = []
    client = client_for(middleware_app(order))
    short = client.get("/short")
    assert (short.status_code, short.text, short.headers["x-outer"]) == (
        299,
        "short-circuited",
        "1",
    )
    missing = client.get("/missing")
    assert (missing.status_code, missing.headers["x-inner"]) == (404, "1")
    boom = client.get("/boom")
    assert (boom.status_code, boom.json(), boom.headers["x-outer"]) == (500, GENERIC_500, "1")


def test_failing_middleware_is_a_generic_500(client_for: Any) -> None:
    app = VelociPy()

    @app.middleware
    async def broken(request: Request, call_next: CallNext) -> Response:
        raise Unhandled("middleware bug")

    @app.get("/x")
    async def x() -> str:
        return "x"

    response = client_for(app).get("/x")
    assert (response.status_code, response.json()) == (500, GENERIC_500)


def test_middleware_status_is_checked_before_sending(client_for: Any) -> None:
    app = VelociPy()

    @app.middleware
    async def bad_status(request: Request, call_next: CallNext) -> Response:
        response = await call_next(request)
        response.status_code = 1000
        return response

    @app.get("/x")
    async def x() -> str:
        return "x"

    response = client_for(app).get("/x")
    assert (response.status_code, response.json()) == (500, GENERIC_500)


def test_app_without_middleware_dispatches_directly() -> None:
    app = VelociPy()
    assert app.handle_http == app._dispatch_http
    app.middleware(lambda request, call_next: call_next(request))
    assert app.handle_http != app._dispatch_http
