"""Instructions per request inside a real server process, counted by valgrind (load-independent).

The server runs under ``valgrind --tool=callgrind`` (with its worker processes), serves ``n``
and then ``3n`` sequential keep-alive requests in two separate runs, and the difference of the
two totals divided by ``2n`` is what one request costs the server: Python, the server's own
code and the framework, with start-up and shutdown cancelled out.

    python bench/server_instructions.py --server uvicorn --only bare velocipy -n 300
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from servers import BENCH_DIR, SERVE_DIR, SERVERS, free_port, interface_of, server_argv, serves

_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")
ENDPOINTS = {"plaintext": "/plaintext", "json": "/json", "path-param": "/users/42"}


def _total(framework: str, server: str, path: str, requests: int) -> int:
    port = free_port()
    log = Path(tempfile.mkstemp(prefix="bench-callgrind-", suffix=".log")[1])
    argv = [
        "valgrind",
        "--tool=callgrind",
        "--trace-children=yes",
        "--callgrind-out-file=/dev/null",
        *server_argv(sys.executable, server, port),
    ]
    env = {
        **os.environ,
        "BENCH_APP": framework,
        "BENCH_INTERFACE": interface_of(server),
        "PYTHONPATH": f"{SERVE_DIR}{os.pathsep}{BENCH_DIR}",
        "PYTHONHASHSEED": "0",
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv,
            cwd=SERVE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 300
        connection = None
        while connection is None:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start:\n{log.read_text()[-2000:]}")
            try:
                candidate = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                candidate.request("GET", path)
                reply = candidate.getresponse()
                reply.read()
                if reply.status == 200:
                    connection = candidate
            except OSError:
                time.sleep(0.5)
        for _ in range(requests):
            connection.request("GET", path)
            reply = connection.getresponse()
            reply.read()
        connection.close()
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(120)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
    text = log.read_text(errors="replace")
    log.unlink(missing_ok=True)
    counts = [int(c) for c in _COLLECTED.findall(text)]
    if not counts:
        raise RuntimeError(f"no instruction count from valgrind:\n{text[-2000:]}")
    return sum(counts)


def per_request(framework: str, server: str, endpoint: str, n: int) -> int:
    path = ENDPOINTS[endpoint]
    low = _total(framework, server, path, n)
    high = _total(framework, server, path, 3 * n)
    return round((high - low) / (2 * n))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--server", choices=SERVERS, default="uvicorn")
    parser.add_argument("--only", nargs="*", default=["bare", "velocipy"])
    parser.add_argument("--endpoint", nargs="*", default=["plaintext"], choices=list(ENDPOINTS))
    parser.add_argument("-n", type=int, default=300)
    args = parser.parse_args()
    for endpoint in args.endpoint:
        for framework in args.only:
            if not serves(framework, args.server):
                continue
            count = per_request(framework, args.server, endpoint, args.n)
            print(f"{args.server:<13} {endpoint:<10} {framework:<12} {count:>9} instructions")


if __name__ == "__main__":
    main()
