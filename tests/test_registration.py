"""Mistakes fail at start-up in one line naming file:line and the fix; the corrected app starts.

Each app file is imported the way ``velocipy run`` imports it (``discover_app`` + ``load_app``).
"""

from __future__ import annotations

import logging
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from velocipy.testing import TestClient
from velocipy.testing.errors import LifespanError
from velocipy_cli.discovery import discover_app, load_app

HEAD = """\
from typing import Annotated, Any

import msgspec

from velocipy import Depends, VelociPy

app = VelociPy()
"""


@pytest.fixture
def load(tmp_path: Path) -> Iterator[Callable[[str, str], Any]]:
    """``load(name, body)``: write ``name.py`` (HEAD + body) and import it like `velocipy run`."""
    loaded: list[str] = []

    def load_file(name: str, body: str) -> Any:
        file = tmp_path / f"{name}.py"
        file.write_text(HEAD + textwrap.dedent(body))
        loaded.append(name)
        return load_app(discover_app(str(file), tmp_path)).app

    yield load_file
    for name in loaded:
        sys.modules.pop(name, None)
    if str(tmp_path) in sys.path:
        sys.path.remove(str(tmp_path))


def refusal(load: Callable[[str, str], Any], name: str, body: str, tmp_path: Path) -> str:
    """The one-line message the mistake stops the import with; it starts with file:line."""
    with pytest.raises(TypeError) as caught:
        load(name, body)
    message = str(caught.value)
    assert "\n" not in message
    file = tmp_path / f"{name}.py"
    line = _decorator_line(file)
    assert message.startswith(f"{file}:{line}: "), message
    return message


def _decorator_line(file: Path) -> int:
    """The line of the last route decorator (a decorated function's first line)."""
    numbers = [n for n, text in enumerate(file.read_text().splitlines(), 1) if text[:1] == "@"]
    assert numbers, f"no route in {file}"
    return numbers[-1]


MISTAKES: list[tuple[str, str, list[str], str, tuple[str, str, Any, int]]] = [
    (
        "typo_option",
        """
        @app.post("/items", status_cod=201)
        async def create() -> dict[str, bool]:
            return {"created": True}
        """,
        ["unknown route option status_cod=201", "did you mean 'status_code'?"],
        """
        @app.post("/items", status_code=201)
        async def create() -> dict[str, bool]:
            return {"created": True}
        """,
        ("POST", "/items", None, 201),
    ),
    (
        "plain_class_body",
        """
        class Note:
            text: str

        @app.post("/notes")
        async def create(note: Note) -> dict[str, str]:
            return {"text": note.text}
        """,
        ["parameter 'note'", "class Note(msgspec.Struct)"],
        """
        class Note(msgspec.Struct):
            text: str

        @app.post("/notes")
        async def create(note: Note) -> dict[str, str]:
            return {"text": note.text}
        """,
        ("POST", "/notes", {"text": "hi"}, 200),
    ),
    (
        "session_without_depends",
        """
        class Session:
            pass

        @app.get("/users")
        async def users(db: Session) -> list[str]:
            return []
        """,
        ["parameter 'db'", "Session cannot be read from the query string", "Depends(provider)"],
        """
        class Session:
            pass

        def get_session() -> Session:
            return Session()

        @app.get("/users")
        async def users(db: Annotated[Session, Depends(get_session)]) -> list[str]:
            return [type(db).__name__]
        """,
        ("GET", "/users", None, 200),
    ),
    (
        "placeholder_without_parameter",
        """
        @app.get("/items/{item_id}")
        async def read(itemid: int) -> dict[str, int]:
            return {"id": itemid}
        """,
        ["has {item_id} but no parameter is called 'item_id'", "'itemid'", "add a parameter"],
        """
        @app.get("/items/{item_id}")
        async def read(item_id: int) -> dict[str, int]:
            return {"id": item_id}
        """,
        ("GET", "/items/7", None, 200),
    ),
    (
        "typed_against_converter",
        """
        @app.get("/items/{item_id:int}")
        async def read(item_id: str) -> dict[str, str]:
            return {"id": item_id}
        """,
        ["path parameter 'item_id' is {item_id:int}", "annotated str", "annotate it int"],
        """
        @app.get("/items/{item_id:int}")
        async def read(item_id: int) -> dict[str, int]:
            return {"id": item_id}
        """,
        ("GET", "/items/7", None, 200),
    ),
    (
        "async_generator_handler",
        """
        @app.get("/numbers")
        async def numbers():
            yield 1
        """,
        ["cannot be an async generator", "StreamingResponse", "EventSourceResponse"],
        """
        from velocipy import StreamingResponse

        async def produce():
            yield b"1"

        @app.get("/numbers")
        async def numbers() -> StreamingResponse:
            return StreamingResponse(produce())
        """,
        ("GET", "/numbers", None, 200),
    ),
    (
        "unencodable_return",
        """
        class Thing:
            name: str

        @app.get("/thing")
        async def thing() -> Thing:
            return Thing()
        """,
        ["return annotation", "Thing cannot be encoded as JSON", "make", "msgspec.Struct"],
        """
        class Thing(msgspec.Struct):
            name: str

        @app.get("/thing")
        async def thing() -> Thing:
            return Thing(name="x")
        """,
        ("GET", "/thing", None, 200),
    ),
]


@pytest.mark.parametrize(
    ("name", "bad", "words", "good", "request_check"),
    MISTAKES,
    ids=[m[0] for m in MISTAKES],
)
def test_the_mistake_stops_the_import_and_the_fixed_app_serves(
    load: Callable[[str, str], Any],
    tmp_path: Path,
    name: str,
    bad: str,
    words: list[str],
    good: str,
    request_check: tuple[str, str, Any, int],
    protocol: str,
) -> None:
    message = refusal(load, name, bad, tmp_path)
    for word in words:
        assert word in message, message
    app = load(f"{name}_fixed", good)
    method, path, body, status = request_check
    with TestClient(app, interface=protocol) as client:  # type: ignore[arg-type]
        response = client.request(method, path, json=body)
    assert response.status_code == status, response.text


def test_a_router_route_is_refused_where_it_is_declared(
    load: Callable[[str, str], Any], tmp_path: Path
) -> None:
    message = refusal(
        load,
        "router_typo",
        """
        from velocipy import APIRouter

        router = APIRouter()
        @app.get("/x")
        async def x() -> None: ...

        @router.get("/y", tag=["a"])
        async def y() -> None: ...
        """,
        tmp_path,
    )
    assert ": y: unknown route option tag=['a'] (did you mean 'tags'?)" in message


def test_a_websocket_route_takes_no_status_code(
    load: Callable[[str, str], Any], tmp_path: Path
) -> None:
    message = refusal(
        load,
        "ws_status",
        """
        from velocipy import WebSocket

        @app.websocket("/ws", status_code=101)
        async def ws(socket: WebSocket) -> None: ...
        """,
        tmp_path,
    )
    assert "unknown route option status_code=101" in message


def test_a_key_added_to_route_options_is_accepted_without_another_list(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The allowed set is read from RouteOptions itself (another feature adds keys there)."""
    from velocipy import VelociPy
    from velocipy.routers import RouteOptions

    async def handler() -> None: ...

    with pytest.raises(TypeError, match="unknown route option cache_for=5"):
        VelociPy().add_route("/x", handler, ["GET"], cache_for=5)  # type: ignore[call-arg]
    monkeypatch.setattr(
        RouteOptions, "__optional_keys__", RouteOptions.__optional_keys__ | {"cache_for"}
    )
    app = VelociPy()
    app.add_route("/x", handler, ["GET"], cache_for=5)  # type: ignore[call-arg]
    assert app.routes[-1].options == {"cache_for": 5}


def test_a_request_taking_handler_may_read_the_path_itself(
    load: Callable[[str, str], Any], protocol: str
) -> None:
    app = load(
        "reads_path_params",
        """
        from velocipy import Request

        @app.get("/items/{item_id}")
        async def read(request: Request) -> dict[str, str]:
            return {"id": request.path_params["item_id"]}
        """,
    )
    with TestClient(app, interface=protocol) as client:  # type: ignore[arg-type]
        assert client.get("/items/a").json() == {"id": "a"}


def test_a_dependency_may_take_the_path_parameter(
    load: Callable[[str, str], Any], protocol: str
) -> None:
    app = load(
        "dependency_takes_path",
        """
        def item(item_id: int) -> int:
            return item_id * 2

        @app.get("/items/{item_id}")
        async def read(doubled: Annotated[int, Depends(item)]) -> dict[str, int]:
            return {"doubled": doubled}
        """,
    )
    with TestClient(app, interface=protocol) as client:  # type: ignore[arg-type]
        assert client.get("/items/4").json() == {"doubled": 8}


def test_a_placeholder_no_dependency_takes_is_refused_too(
    load: Callable[[str, str], Any], tmp_path: Path
) -> None:
    message = refusal(
        load,
        "dependency_misses_path",
        """
        def item(itemid: int) -> int:
            return itemid

        @app.get("/items/{item_id}")
        async def read(value: Annotated[int, Depends(item)]) -> dict[str, int]:
            return {"value": value}
        """,
        tmp_path,
    )
    assert "has {item_id} but no parameter is called 'item_id'" in message


def test_a_route_the_openapi_document_cannot_describe_stops_the_start(
    load: Callable[[str, str], Any], protocol: str
) -> None:
    app = load(
        "undescribable",
        """
        @app.get("/ok")
        async def ok() -> dict[str, bool]:
            return {"ok": True}

        @app.get("/odd", responses={"not-a-status": "Odd"})
        async def odd() -> dict[str, bool]:
            return {"odd": True}
        """,
    )
    client = TestClient(app, interface=protocol)  # type: ignore[arg-type]
    # ASGI reports lifespan.startup.failed; granian's worker init raises the error itself
    with pytest.raises((LifespanError, ValueError)) as caught:
        client.__enter__()
    message = str(caught.value)
    assert "undescribable.py:" in message
    assert "GET /odd cannot be described in OpenAPI" in message


def test_a_returned_value_that_cannot_be_encoded_is_one_log_line_naming_the_handler(
    load: Callable[[str, str], Any],
    tmp_path: Path,
    protocol: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = load(
        "returns_thing",
        """
        class Thing:
            pass

        @app.get("/thing")
        async def thing():
            return Thing()

        @app.get("/nested")
        async def nested():
            return {"thing": Thing()}

        def one() -> int:
            return 1

        @app.get("/provided")
        async def provided(n: Annotated[int, Depends(one)]):
            return [Thing()] * n
        """,
    )
    caplog.set_level(logging.ERROR, logger="velocipy")
    with TestClient(app, interface=protocol) as client:  # type: ignore[arg-type]
        first = client.get("/thing")
        second = client.get("/nested")
        third = client.get("/provided")  # a route with dependencies encodes elsewhere
        assert client.get("/openapi.json").status_code == 200  # the server is still up
    assert first.status_code == second.status_code == third.status_code == 500
    assert first.json() == {"detail": "Internal Server Error"}
    records = [r for r in caplog.records if r.name == "velocipy"]
    assert len(records) == 3
    file = tmp_path / "returns_thing.py"
    one, two, three = (record.getMessage() for record in records)
    assert three.startswith(
        f"handler provided ({file}:{_line_of(file, 'def provided')}) returned list, which"
    )
    assert one.startswith(f"handler thing ({file}:{_line_of(file, 'def thing')}) returned Thing,")
    assert two.startswith(
        f"handler nested ({file}:{_line_of(file, 'def nested')}) returned dict, which"
    )
    for message in (one, two, three):
        assert "\n" not in message
        assert "cannot be encoded as JSON" in message
        assert "return dict, list, str, bytes, None, a msgspec.Struct" in message
    assert all(record.exc_info is None for record in records)  # no traceback for it


def _line_of(file: Path, text: str) -> int:
    """The decorator line above the first line containing ``text``."""
    lines = file.read_text().splitlines()
    # the 0-based index of the `def` line is the 1-based number of the line above it
    return next(i for i, line in enumerate(lines) if text in line)
