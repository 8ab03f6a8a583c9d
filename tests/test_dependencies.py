"""Depends: providers planned at registration, caching, teardown, overrides (both protocols)."""

from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

import msgspec
import pytest

from velocipy import (
    APIRouter,
    Depends,
    Header,
    HTTPException,
    PlainTextResponse,
    Request,
    Response,
    StreamingResponse,
    VelociPy,
    WebSocket,
)
from velocipy.testing import TestClient, WebSocketDenied


def test_providers_take_parameters_like_handlers(client_for: Any) -> None:
    app = VelociPy()

    async def pagination(limit: int = 10, offset: int = 0) -> tuple[int, int]:
        return limit, offset

    def agent(user_agent: Annotated[str, Header()] = "?") -> str:  # sync: runs in a thread
        return user_agent

    async def owner(user_id: int, request: Request) -> str:
        return f"{request.method} user {user_id}"

    @app.get("/users/{user_id}/items")
    async def items(
        page: Annotated[tuple[int, int], Depends(pagination)],
        ua: Annotated[str, Depends(agent)],
        who: str = Depends(owner),
    ) -> dict[str, Any]:
        return {"page": list(page), "ua": ua, "who": who}

    client = client_for(app)
    answer = client.get("/users/7/items?limit=3", headers={"user-agent": "probe"}).json()
    assert answer == {"page": [3, 0], "ua": "probe", "who": "GET user 7"}
    bad = client.get("/users/1/items?limit=many&offset=no")
    assert bad.status_code == 422  # every provider's errors, collected into one answer
    assert [e["loc"] for e in bad.json()["detail"]] == [["query", "limit"], ["query", "offset"]]


def test_a_provider_used_twice_runs_once_per_request(client_for: Any) -> None:
    app = VelociPy()
    calls: list[str] = []

    async def database() -> str:
        calls.append("db")
        return f"db{len(calls)}"

    async def users(db: Annotated[str, Depends(database)]) -> str:
        return f"users@{db}"

    async def fresh(db: Annotated[str, Depends(database, use_cache=False)]) -> str:
        return db

    @app.get("/")
    async def index(
        db: Annotated[str, Depends(database)], repo: Annotated[str, Depends(users)]
    ) -> str:
        return f"{db} {repo}"

    @app.get("/fresh")
    async def uncached(
        db: Annotated[str, Depends(database)], other: Annotated[str, Depends(fresh)]
    ) -> str:
        return f"{db} {other}"

    client = client_for(app)
    assert client.get("/").text == "db1 users@db1"
    assert client.get("/").text == "db2 users@db2"  # a new request, a new value
    calls.clear()
    assert client.get("/fresh").text == "db1 db2"


def test_yield_teardown_runs_after_the_response_was_sent_newest_first(client_for: Any) -> None:
    app = VelociPy()
    events: list[str] = []

    async def connection() -> AsyncIterator[str]:
        events.append("open connection")
        yield "conn"
        events.append("close connection")

    def session(conn: Annotated[str, Depends(connection)]) -> Iterator[str]:
        events.append("open session")
        yield f"session on {conn}"
        events.append("close session")

    async def body() -> AsyncIterator[bytes]:
        events.append("body sent")
        yield b"streamed"

    @app.get("/")
    async def index(s: Annotated[str, Depends(session)]) -> str:
        events.append(f"handler with {s}")
        return s

    @app.get("/stream")
    async def stream(s: Annotated[str, Depends(session)]) -> Response:
        return StreamingResponse(body())

    client = client_for(app)
    assert client.get("/").text == "session on conn"
    assert events == [
        "open connection",
        "open session",
        "handler with session on conn",
        "close session",
        "close connection",
    ]
    events.clear()
    assert client.get("/stream").text == "streamed"
    assert events[2:] == ["body sent", "close session", "close connection"]


def test_teardown_composes_with_the_responses_own_background_work(client_for: Any) -> None:
    app = VelociPy()
    events: list[str] = []

    async def resource() -> AsyncIterator[None]:
        yield
        events.append("teardown")

    async def after() -> None:
        events.append("background")

    @app.get("/")
    async def index(_: Annotated[None, Depends(resource)]) -> Response:
        return PlainTextResponse("ok", background=after)

    assert client_for(app).get("/").text == "ok"
    assert events == ["background", "teardown"]


def test_teardown_sees_the_handlers_exception_then_the_error_is_answered(
    client_for: Any,
) -> None:
    app = VelociPy()
    seen: list[str] = []

    async def transaction() -> AsyncIterator[str]:
        try:
            yield "tx"
        except HTTPException as exc:
            seen.append(f"rollback after {exc.status_code}")
            raise
        else:
            seen.append("commit")

    def sync_resource() -> Iterator[str]:
        try:
            yield "r"
        except LookupError as exc:
            seen.append(f"sync saw {exc!r}")
            raise

    @app.get("/missing")
    async def missing(tx: Annotated[str, Depends(transaction)]) -> str:
        raise HTTPException(404, "no such thing")

    @app.get("/crash")
    async def crash(r: Annotated[str, Depends(sync_resource)]) -> str:
        raise LookupError("gone")

    @app.get("/fine")
    async def fine(tx: Annotated[str, Depends(transaction)]) -> str:
        return tx

    client = client_for(app)
    response = client.get("/missing")
    assert response.status_code == 404
    assert response.json() == {"detail": "no such thing"}
    assert seen == ["rollback after 404"]
    seen.clear()
    assert client.get("/crash").status_code == 500
    assert seen == ["sync saw LookupError('gone')"]
    seen.clear()
    assert client.get("/fine").text == "tx"
    assert seen == ["commit"]


def test_a_provider_that_raises_answers_and_earlier_providers_are_torn_down(
    client_for: Any,
) -> None:
    app = VelociPy()
    events: list[str] = []

    async def resource_seeing_errors() -> AsyncIterator[str]:
        try:
            yield "r"
        finally:
            events.append("closed")

    async def current_user(token: Annotated[str | None, Header()] = None) -> str:
        if token != "secret":
            raise HTTPException(401, "sign in first", headers={"www-authenticate": "Bearer"})
        return "ada"

    @app.get("/me")
    async def me(
        r: Annotated[str, Depends(resource_seeing_errors)],
        user: Annotated[str, Depends(current_user)],
    ) -> str:
        return user

    client = client_for(app)
    refused = client.get("/me")
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == "Bearer"
    assert events == ["closed"]
    assert client.get("/me", headers={"token": "secret"}).text == "ada"


def test_router_and_app_dependencies_run_before_every_handler(client_for: Any) -> None:
    calls: list[str] = []

    async def app_wide(request: Request) -> None:
        calls.append(f"app {request.path}")

    async def router_wide() -> None:
        calls.append("router")

    async def route_only() -> None:
        calls.append("route")

    app = VelociPy(dependencies=[Depends(app_wide)])
    router = APIRouter(prefix="/admin", dependencies=[Depends(router_wide)])

    @router.get("/stats", dependencies=[Depends(route_only)])
    async def stats() -> str:
        return "stats"

    @app.get("/plain")
    async def plain() -> str:
        return "plain"

    app.include_router(router)
    client = client_for(app)
    assert client.get("/admin/stats").text == "stats"
    assert calls == ["app /admin/stats", "router", "route"]
    calls.clear()
    assert client.get("/plain").text == "plain"
    assert calls == ["app /plain"]


def test_include_router_adds_dependencies(client_for: Any) -> None:
    async def verify(x_key: Annotated[str, Header()]) -> None:
        if x_key != "k":
            raise HTTPException(403, "wrong key")

    router = APIRouter()

    @router.get("/secret")
    async def secret() -> str:
        return "s"

    app = VelociPy()
    app.include_router(router, prefix="/v1", dependencies=[Depends(verify)])
    client = client_for(app)
    assert client.get("/v1/secret").status_code == 422
    assert client.get("/v1/secret", headers={"x-key": "no"}).status_code == 403
    assert client.get("/v1/secret", headers={"x-key": "k"}).text == "s"


def test_dependency_overrides_replace_a_provider_for_tests(client_for: Any) -> None:
    app = VelociPy()

    async def real_db() -> str:
        raise RuntimeError("no database in tests")

    async def repository(db: Annotated[str, Depends(real_db)]) -> str:
        return f"repo({db})"

    @app.get("/")
    async def index(repo: Annotated[str, Depends(repository)]) -> str:
        return repo

    async def fake_db(name: str = "fake") -> AsyncIterator[str]:
        yield name  # an override may take its own parameters and yield

    app.dependency_overrides[real_db] = fake_db
    client = client_for(app)
    assert client.get("/").text == "repo(fake)"
    assert client.get("/?name=memory").text == "repo(memory)"
    app.dependency_overrides.clear()
    assert client.get("/").status_code == 500


def test_assigning_dependency_overrides_replaces_them(client_for: Any) -> None:
    """FastAPI's ``app.dependency_overrides = {}`` idiom works, as do ``|=`` and setdefault."""
    app = VelociPy()

    async def real() -> str:
        return "real"

    @app.get("/")
    async def index(v: Annotated[str, Depends(real)]) -> str:
        return v

    client = client_for(app)
    overrides = app.dependency_overrides
    app.dependency_overrides = {real: lambda: "assigned"}
    assert client.get("/").text == "assigned"
    assert app.dependency_overrides is overrides  # the same mapping, refilled
    app.dependency_overrides = {}
    assert client.get("/").text == "real"
    app.dependency_overrides |= {real: lambda: "merged"}
    assert client.get("/").text == "merged"
    app.dependency_overrides.popitem()
    assert client.get("/").text == "real"
    app.dependency_overrides.setdefault(real, lambda: "defaulted")
    assert client.get("/").text == "defaulted"

    class Unbindable:
        pass

    async def broken(x: Unbindable) -> str:
        return ""

    with pytest.raises(TypeError, match="'x': Unbindable cannot be read from the query string"):
        app.dependency_overrides = {real: broken}
    assert client.get("/").text == "defaulted"  # a refused assignment changes nothing
    assert list(app.dependency_overrides) == [real]


def test_class_providers_and_depends_without_argument(client_for: Any) -> None:
    app = VelociPy()

    class Settings:
        def __init__(self, debug: bool = False) -> None:
            self.debug = debug

    @app.get("/")
    async def index(settings: Annotated[Settings, Depends()]) -> str:
        return f"debug={settings.debug}"

    assert client_for(app).get("/?debug=true").text == "debug=True"


def test_a_body_can_be_read_by_a_provider(client_for: Any) -> None:
    class Login(msgspec.Struct):
        name: str

    app = VelociPy()

    async def login_name(login: Login) -> str:
        return login.name

    @app.post("/login")
    async def do_login(name: Annotated[str, Depends(login_name)]) -> str:
        return f"hello {name}"

    client = client_for(app)
    assert client.post("/login", json={"name": "ada"}).text == "hello ada"
    assert client.post("/login", json={"nom": "ada"}).status_code == 422


def test_websocket_handlers_take_dependencies_torn_down_when_they_end(
    client_for: Any,
) -> None:
    app = VelociPy()
    events: list[str] = []

    async def room(name: str, nick: str = "anon") -> AsyncIterator[str]:
        events.append(f"join {name}")
        try:
            yield f"{nick}@{name}"
        finally:
            events.append(f"leave {name}")

    async def token(key: str) -> str:
        if key != "ok":
            raise HTTPException(403)
        return key

    @app.websocket("/rooms/{name}")
    async def chat(websocket: WebSocket, where: Annotated[str, Depends(room)]) -> None:
        await websocket.accept()
        await websocket.send_text(where)
        await websocket.receive_text()

    @app.websocket("/guarded", dependencies=[Depends(token)])
    async def guarded(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("in")

    client = client_for(app)
    with client.websocket_connect("/rooms/lobby?nick=ada") as ws:
        assert ws.receive_text() == "ada@lobby"
        ws.send_text("bye")
    assert events == ["join lobby", "leave lobby"]
    with client.websocket_connect("/guarded?key=ok") as ws:
        assert ws.receive_text() == "in"
    with pytest.raises(WebSocketDenied) as denied:
        client.websocket_connect("/guarded?key=no").__enter__()
    assert denied.value.status_code == 403  # refused before accept


# --- decided at startup --------------------------------------------------------------------
def test_a_cycle_is_an_error_at_registration() -> None:
    app = VelociPy()

    async def a(b: Any = None) -> str:
        return ""

    async def b(value: Annotated[str, Depends(a)]) -> str:
        return value

    a.__defaults__ = (Depends(b),)  # a -> b -> a
    with pytest.raises(TypeError, match=r"dependency cycle: .*a -> .*b -> .*a"):

        @app.get("/")
        async def index(value: Annotated[str, Depends(a)]) -> str:
            return value


def test_an_unbindable_provider_parameter_is_an_error_at_registration() -> None:
    class Session:
        pass

    async def repo(session: Session) -> str:
        return ""

    app = VelociPy()
    with pytest.raises(
        TypeError, match=r"test_dependencies.py:\d+: .*repo: parameter 'session': Session cannot"
    ):

        @app.get("/")
        async def index(r: Annotated[str, Depends(repo)]) -> str:
            return r


def test_websocket_routes_refuse_a_body_and_a_request() -> None:
    class Move(msgspec.Struct):
        x: int

    async def move(m: Move) -> Move:
        return m

    async def by_request(request: Request) -> str:
        return ""

    app = VelociPy()
    with pytest.raises(TypeError, match="a WebSocket has no request body"):
        app.add_websocket_route("/a", _ws_with(move))
    with pytest.raises(TypeError, match="a WebSocket route cannot take Request"):
        app.add_websocket_route("/b", _ws_with(by_request))


def test_a_broken_override_is_refused_and_the_old_plan_stands() -> None:
    app = VelociPy()

    async def real() -> str:
        return "real"

    @app.get("/")
    async def index(v: Annotated[str, Depends(real)]) -> str:
        return v

    class Unbindable:
        pass

    async def broken(x: Unbindable) -> str:
        return ""

    with pytest.raises(TypeError, match="Unbindable cannot be read from the query string"):
        app.dependency_overrides[real] = broken
    assert real not in app.dependency_overrides
    assert TestClient(app).get("/").text == "real"


def _ws_with(provider: Any) -> Any:
    async def handler(websocket: WebSocket, value: Annotated[Any, Depends(provider)]) -> None:
        await websocket.close()

    return handler


def test_a_route_without_dependencies_compiles_to_the_plain_endpoint() -> None:
    app = VelociPy()

    @app.get("/items/{item_id}")
    async def read(item_id: int) -> int:
        return item_id

    route = app.routes[-1]
    assert route.compiled is not None
    assert route.compiled.plan is None
    assert route.compiled.invoke.__name__ == "invoke_with_path_param"  # one, by position


def test_a_provider_yielding_twice_is_reported_and_the_response_stands(
    client_for: Any, caplog: pytest.LogCaptureFixture
) -> None:
    app = VelociPy()

    async def greedy() -> AsyncIterator[str]:
        yield "first"
        yield "second"

    @app.get("/")
    async def index(value: Annotated[str, Depends(greedy)]) -> str:
        return value

    assert client_for(app).get("/").text == "first"
    assert "yielded more than once" in caplog.text
