"""`velocipy run --https`: TLS on uvicorn and granian from a development CA made once per user;
curl trusts it with --cacert, ws-probe on its own, and nothing else trusts it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.cli.probe.helpers import probe
from tests.support import ServerProcess, executable, free_port, wait_until

pytestmark = pytest.mark.interop

APP = """
from velocipy import VelociPy, WebSocket

app = VelociPy()


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@app.websocket("/ws")
async def echo(ws: WebSocket) -> None:
    await ws.accept()
    async for text in ws.iter_text():
        await ws.send_text(f"echo: {text}")
"""


def serve_https(project: Path, tls: Path, interface: str) -> ServerProcess:
    port = free_port()
    argv = [executable("velocipy"), "run", *interface.split(), "--https", "--no-reload"]
    env = {"VELOCIPY_TLS_DIR": str(tls), "COLUMNS": "300"}
    server = ServerProcess([*argv, "--port", str(port)], port, project, env=env).start()
    server.wait_ready(30.0)  # the supervisor's socket listens at once; the app is ready later:
    assert wait_until(lambda: "ready in" in server.output(), 30.0), server.output()
    return server


def curl(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["curl", "-sS", "--max-time", "10", *args, url],
        capture_output=True, text=True, timeout=20, check=False,
    )  # fmt: skip


@pytest.mark.parametrize("interface", ["--asgi", "--rsgi", "--server granian --interface asgi"])
def test_https_and_wss_with_the_development_ca(interface: str, tmp_path: Path) -> None:
    project, tls = tmp_path / "project", tmp_path / "tls"
    project.mkdir()
    (project / "main.py").write_text(APP)
    server = serve_https(project, tls, interface)
    try:
        ca = tls / "velocipy-dev-ca.pem"
        banner = server.output()
        assert f"https://127.0.0.1:{server.port}" in banner
        assert f"signed by the development CA {ca} (made now)" in banner
        assert f"curl --cacert {ca}" in banner

        trusted = curl(f"https://127.0.0.1:{server.port}/health", "--cacert", str(ca))
        assert trusted.returncode == 0, trusted.stderr
        assert json.loads(trusted.stdout) == {"status": "ok"}
        untrusted = curl(f"https://127.0.0.1:{server.port}/health")
        assert untrusted.returncode == 60  # curl: the peer's certificate cannot be verified
        plain = curl(f"http://127.0.0.1:{server.port}/health")
        assert plain.returncode != 0 or "ok" not in plain.stdout  # TLS only: no plain HTTP

        env = {"VELOCIPY_TLS_DIR": str(tls)}
        ws_url = f"wss://127.0.0.1:{server.port}/ws"
        answered = probe(ws_url, "--send", "hi", "--expect", "1", env=env)
        assert answered.returncode == 0, answered.stderr
        assert "echo: hi" in answered.stdout
        stranger = probe(ws_url, "--send", "hi", env={"VELOCIPY_TLS_DIR": str(tmp_path / "x")})
        assert stranger.returncode == 1
        assert "TLS certificate check failed" in stranger.stderr
        assert "--insecure" in stranger.stderr
        insecure = probe(ws_url, "--insecure", "--send", "hi", "--expect", "1")
        assert insecure.returncode == 0, insecure.stderr
    finally:
        server.stop()
    assert "Traceback" not in server.output()


def test_the_ca_is_made_once_and_kept_private(tmp_path: Path) -> None:
    project, tls = tmp_path / "project", tmp_path / "tls"
    project.mkdir()
    (project / "main.py").write_text(APP)
    first = serve_https(project, tls, "--asgi")
    first.stop()
    ca_before = (tls / "velocipy-dev-ca.pem").read_bytes()
    second = serve_https(project, tls, "--asgi")
    second.stop()
    assert (tls / "velocipy-dev-ca.pem").read_bytes() == ca_before  # trusted once, kept
    assert "(kept)" in second.output()
    assert oct(tls.stat().st_mode & 0o777) == "0o700"
    for key in ("velocipy-dev-ca-key.pem", "server-key.pem"):
        assert oct((tls / key).stat().st_mode & 0o777) == "0o600"
