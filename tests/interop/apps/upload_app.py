"""The upload app that tests/interop/test_upload_interop.py serves with real servers."""

from __future__ import annotations

import hashlib
import logging
import os
from typing import Annotated, Any

from velocipy import BackgroundTasks, Form, Request, UploadFile, VelociPy

MAX_BODY_SIZE = 300 * 1024 * 1024
TASK_MARKER_VARIABLE = "VELOCIPY_TASK_MARKER"

app = VelociPy(max_body_size=MAX_BODY_SIZE)
logging.getLogger("velocipy").setLevel(logging.INFO)


@app.get("/pid")
async def pid() -> dict[str, int]:
    """The worker's process id: the process whose memory and open files the tests inspect."""
    return {"pid": os.getpid()}


@app.post("/upload")
async def upload(file: UploadFile, note: Annotated[str, Form()] = "") -> dict[str, Any]:
    digest = hashlib.sha256()
    while chunk := await file.read(1024 * 1024):
        digest.update(chunk)
    return {
        "filename": file.filename,
        "size": file.size,
        "sha256": digest.hexdigest(),
        "note": note,
    }


@app.post("/form")
async def raw_form(request: Request) -> dict[str, list[str]]:
    form = await request.form()
    return {key: [str(v) for v in form.get_list(key)] for key in form}


@app.post("/signup")
async def signup(email: Annotated[str, Form()], tasks: BackgroundTasks) -> dict[str, str]:
    def write_marker(address: str) -> None:
        path = os.environ.get(TASK_MARKER_VARIABLE)
        if path:
            with open(path, "a", encoding="utf-8") as handle:
                handle.write(f"welcome {address}\n")

    def broken() -> None:
        raise RuntimeError("mail server unreachable")

    tasks.add_task(broken)
    tasks.add_task(write_marker, email)
    return {"status": "registered"}
