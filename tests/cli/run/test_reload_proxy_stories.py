"""The dev proxy's other stories: a broken save, HTTP through the proxy, --no-proxy, production."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.cli.run.devserver import DevProject
from tests.support import ServerProcess, wait_until

pytestmark = pytest.mark.interop

RESUME_SECONDS = 6

APP = """\
import asyncio
from pathlib import Path

from velocipy import Request, VelociPy, WebSocket
from velocipy.responses import StreamingResponse

VERSION = "v__VERSION__"
app = VelociPy()


@app.get("/")
async def index() -> str:
    return VERSION


def log_run() -> None:
    with Path(__file__).with_name("handled.log").open("a") as log:
        log.write(VERSION + "\\n")


@app.get("/slow")
async def slow() -> str:
    log_run()
    await asyncio.sleep(30 if VERSION == "v1" else 0)
    return f"{VERSION} slow"


@app.get("/until-saved")
async def until_saved() -> str:
    # Answers 0.2 s after main.py is saved with another version: while the restart that save
    # starts is holding the old worker.
    log_run()
    source = Path(__file__)
    for _ in range(1000):
        if f'VERSION = "{VERSION}"' not in source.read_text():  # saved as another version
            await asyncio.sleep(0.2)
            break
        await asyncio.sleep(0.01)
    return f"{VERSION} until saved"


@app.get("/forwarded")
async def forwarded(request: Request) -> str:
    return str(request.headers.get("x-forwarded-for"))


@app.post("/count")
async def count(request: Request) -> StreamingResponse:
    total = 0
    async for chunk in request.stream():
        total += len(chunk)

    async def parts():
        for number in range(3):
            yield f"{VERSION} part {number} of {total}\\n".encode()
            await asyncio.sleep(0.01)

    return StreamingResponse(parts(), media_type="text/plain")


@app.websocket("/ws")
async def echo(ws: WebSocket) -> None:
    await ws.accept()
    resumed = ws.headers.get("x-velocipy-resumed", "0")
    async for text in ws.iter_text():
        if text == "quit":
            await ws.close(4001, "bye from the app")
            return
        if text == "until-saved":
            await until_saved()
        await ws.send_text(f"{VERSION}|{resumed}|{text}")
"""


def write_version(project: DevProject, version: int) -> None:
    (project.root / "main.py").write_text(APP.replace("__VERSION__", str(version)))


@contextlib.contextmanager
def serving_version_1(
    tmp_path: Path, interface: str, *options: str
) -> Iterator[tuple[DevProject, ServerProcess]]:
    """`velocipy run` on the stories app, once version 1 answers."""
    project = DevProject.create(tmp_path, interface)
    write_version(project, 1)
    with project.running(*options) as server:
        project.wait_for(200, "v1")
        yield project, server


def break_app(project: DevProject) -> None:
    (project.root / "main.py").write_text("def broken(:\n    pass\n")


@pytest.mark.parametrize("interface", ["--asgi", "--rsgi"])
def test_broken_save_keeps_the_socket_then_delivers_or_closes_with_a_reason(
    tmp_path: Path, interface: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VELOCIPY_PROXY_RESUME_SECONDS", str(RESUME_SECONDS))
    with serving_version_1(tmp_path, interface) as (project, server):
        with connect(f"{server.ws_url}/ws", open_timeout=10) as ws:
            ws.send("before")
            assert ws.recv(timeout=10) == "v1|0|before"

            # Broken: HTTP gets the 503 story through the proxy; the socket stays open and the
            # message sent meanwhile waits for the fix.
            break_app(project)
            project.wait_for(503, "SyntaxError", timeout=15)
            ws.send("during the break")
            with pytest.raises(TimeoutError):
                ws.recv(timeout=1)
            write_version(project, 2)
            assert ws.recv(timeout=15) == "v2|1|during the break"

            # Broken for longer than the deadline: closed with a reason, not dropped.
            break_app(project)
            project.wait_for(503, "SyntaxError", timeout=15)
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=RESUME_SECONDS + 20)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1011
        assert closed.value.rcvd.reason == (
            f"the app answered 503 to the resumed connection within {RESUME_SECONDS} s"
        )
        assert server.alive()


def test_http_streams_both_ways_and_the_app_sees_the_proxy(tmp_path: Path) -> None:
    with serving_version_1(tmp_path, "--asgi") as (_project, server):

        def body():  # a chunked upload, 3 x 64 KiB
            for _ in range(3):
                yield b"x" * 65536

        with httpx.Client(base_url=server.url, timeout=10) as client:
            with client.stream("POST", "/count", content=body()) as response:
                lines = list(response.iter_lines())
            assert response.status_code == 200
            assert response.headers["transfer-encoding"] == "chunked"
            assert lines == [f"v1 part {n} of {3 * 65536}" for n in range(3)]
            assert client.get("/forwarded").text == "127.0.0.1"
            head = client.head("/")
            assert head.status_code == 200
            assert head.content == b""
            # keep-alive: the same client connection serves the next request too
            assert client.get("/").text == "v1"


@pytest.mark.parametrize("options", [("--no-proxy",), ("--no-reload",)])
def test_no_proxy_and_production_mode_have_no_proxy(
    tmp_path: Path, options: tuple[str, ...]
) -> None:
    with serving_version_1(tmp_path, "--asgi", *options) as (project, server):
        assert httpx.get(f"{server.url}/forwarded", timeout=10).text == "None"
        if options == ("--no-proxy",):
            with connect(f"{server.ws_url}/ws", open_timeout=10) as ws:
                ws.send("before")
                assert ws.recv(timeout=10) == "v1|0|before"
                write_version(project, 2)
                with pytest.raises(ConnectionClosed) as closed:
                    ws.recv(timeout=15)
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 1012


def test_a_client_that_speaks_nonsense_gets_a_400_and_the_proxy_stays_up(tmp_path: Path) -> None:
    with serving_version_1(tmp_path, "--asgi") as (project, _server):
        with socket.create_connection(("127.0.0.1", project.port), timeout=5) as raw:
            raw.sendall(b"NOT HTTP AT ALL\r\n\r\n")
            answer = raw.recv(4096)
        assert answer.startswith(b"HTTP/1.1 400 ")
        project.wait_for(200, "v1")
        assert "Traceback" not in project.output()


@pytest.mark.parametrize("interface", ["--asgi", "--rsgi"])
def test_the_apps_own_close_reaches_the_client(tmp_path: Path, interface: str) -> None:
    with serving_version_1(tmp_path, interface) as (_project, server):
        with connect(f"{server.ws_url}/ws", open_timeout=10) as ws:
            ws.send("quit")
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=10)
        close = closed.value.rcvd
        assert close is not None
        if interface == "--asgi":
            assert (close.code, close.reason) == (4001, "bye from the app")
        else:  # granian's RSGI sends no close code (docs/websockets.md): no code, as the app's
            assert close.code == 1005


@pytest.mark.parametrize("interface", ["--asgi", "--rsgi"])
def test_requests_during_a_slow_restart_wait_for_the_new_worker(
    tmp_path: Path, interface: str
) -> None:
    with serving_version_1(tmp_path, interface) as (project, server):
        slow = "import time\ntime.sleep(1.5)  # a slow import: the restart takes a while\n"
        (project.root / "main.py").write_text(slow + APP.replace("__VERSION__", "2"))
        answers: list[tuple[int, str]] = []
        with httpx.Client(base_url=server.url, timeout=30) as client:
            while not answers or answers[-1][1] != "v2":
                response = client.get("/")
                answers.append((response.status_code, response.text))
                assert len(answers) < 2000, answers[-3:]
        # Every request got a 200 from one version or the other: none refused, reset or 503
        # (the supervisor's socket queues them; the proxy waits with them).
        assert {status for status, _ in answers} == {200}
        assert {text for _, text in answers} <= {"v1", "v2"}


@pytest.mark.parametrize("interface", ["--asgi", "--rsgi"])
def test_a_get_whose_worker_dies_under_it_is_answered_by_the_new_worker(
    tmp_path: Path, interface: str
) -> None:
    with serving_version_1(tmp_path, interface) as (project, server):
        answer = get_during_a_save(project, f"{server.url}/slow")  # v1 sleeps 30 s on it
        assert (answer.status_code, answer.text) == (200, "v2 slow")
        assert handled_by(project) == ["v1", "v2"]  # sent again, as docs/dev-proxy.md says


@pytest.mark.parametrize("interface", ["--asgi", "--rsgi"])
def test_a_message_the_old_worker_still_handles_during_the_restart_is_answered_by_it(
    tmp_path: Path, interface: str
) -> None:
    with serving_version_1(tmp_path, interface) as (project, server):
        with connect(f"{server.ws_url}/ws", open_timeout=10) as ws:
            ws.send("until-saved")  # answered 0.2 s after the save: no message goes either way
            assert wait_until(lambda: handled_by(project), 10)
            write_version(project, 2)
            # The restart waited for the old worker's answer rather than for 50 ms of quiet.
            assert ws.recv(timeout=15) == "v1|0|until-saved"
            ws.send("after")
            assert ws.recv(timeout=15) == "v2|1|after"
        assert handled_by(project) == ["v1"]


def get_during_a_save(project: DevProject, url: str) -> httpx.Response:
    """GET ``url`` in a thread; once a handler logged it, save version 2; the one answer."""
    results: list[httpx.Response | Exception] = []

    def get() -> None:
        try:
            results.append(httpx.get(url, timeout=60))
        except httpx.HTTPError as exc:
            results.append(exc)

    thread = threading.Thread(target=get)
    thread.start()
    assert wait_until(lambda: handled_by(project), 10)  # the request is in the old worker
    write_version(project, 2)
    thread.join(60)
    assert len(results) == 1
    answer = results[0]
    assert isinstance(answer, httpx.Response), answer
    return answer


def handled_by(project: DevProject) -> list[str]:
    """The version of each handler run the app logged, in order."""
    log = project.root / "handled.log"
    return log.read_text().split() if log.exists() else []


SSE_APP = """\
import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

from velocipy import Header, VelociPy
from velocipy.sse import EventSourceResponse, ServerSentEvent

VERSION = "v__VERSION__"
app = VelociPy()


@app.get("/")
async def index() -> str:
    return VERSION


@app.get("/clock")
async def clock(last_event_id: Annotated[str | None, Header()] = None) -> EventSourceResponse:
    start = int(last_event_id) + 1 if last_event_id and last_event_id.isdigit() else 0

    async def ticks() -> AsyncIterator[ServerSentEvent]:
        for number in range(start, start + 100000):
            yield ServerSentEvent(f"{VERSION} {number}", id=number)
            await asyncio.sleep(0.05)

    return EventSourceResponse(ticks())
"""


def read_events(lines: Iterator[str], count: int | None) -> list[tuple[str, str]]:
    """(id, data) of each event, until ``count`` arrived or the stream ended."""
    events: list[tuple[str, str]] = []
    fields: dict[str, str] = {}
    for line in lines:
        if not line:
            if "data" in fields:
                events.append((fields.get("id", ""), fields["data"]))
                if count is not None and len(events) == count:
                    break
            fields = {}
        elif ":" in line and not line.startswith(":"):
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")
    return events


@pytest.mark.parametrize("interface", ["--asgi", "--rsgi"])
def test_an_event_stream_ends_at_the_reload_and_resumes_with_last_event_id(
    tmp_path: Path, interface: str
) -> None:
    project = DevProject.create(tmp_path, interface)
    (project.root / "main.py").write_text(SSE_APP.replace("__VERSION__", "1"))
    with project.running() as server, httpx.Client(base_url=server.url, timeout=20) as client:
        project.wait_for(200, "v1")
        with client.stream("GET", "/clock") as response:
            lines = response.iter_lines()
            first = read_events(lines, 3)
            (project.root / "main.py").write_text(SSE_APP.replace("__VERSION__", "2"))
            rest = read_events(lines, None)  # ends (does not hang) when the worker goes
        seen = first + rest
        assert [int(event_id) for event_id, _ in seen] == list(range(len(seen)))
        assert all(data.startswith("v1 ") for _, data in seen)
        project.wait_for(200, "v2")
        last_id = seen[-1][0]
        headers = {"last-event-id": last_id}  # what a browser's EventSource sends back
        with client.stream("GET", "/clock", headers=headers) as response:
            resumed = read_events(response.iter_lines(), 2)
        assert resumed == [
            (str(int(last_id) + 1), f"v2 {int(last_id) + 1}"),
            (str(int(last_id) + 2), f"v2 {int(last_id) + 2}"),
        ]


@pytest.mark.parametrize("interface", ["--asgi", "--rsgi"])
def test_a_get_the_old_worker_answers_during_the_restart_is_answered_by_it_once(
    tmp_path: Path, interface: str
) -> None:
    with serving_version_1(tmp_path, interface) as (project, server):
        answer = get_during_a_save(project, f"{server.url}/until-saved")
        # The old worker answered it while the restart held it: nothing was sent twice.
        assert (answer.status_code, answer.text) == (200, "v1 until saved")
        assert handled_by(project) == ["v1"]
        project.wait_for(200, "v2")
