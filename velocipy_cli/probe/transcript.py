"""`ws-probe --replay`: send a recorded transcript's messages and check the replies match.

Recording needs nothing here: ``--record FILE`` keeps the ``--jsonl`` records in FILE as the
session runs (see :class:`~velocipy_cli.probe.display.Display`). The comparison is
``velocipy.testing.transcripts.mismatch``, the one the test client's replay uses, so a
transcript passes or fails the same way in pytest and against a running server.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection

from websockets.exceptions import ConnectionClosed

from velocipy.testing.transcripts import Transcript, mismatch
from velocipy_cli.probe.connection import open_connection
from velocipy_cli.probe.display import Display
from velocipy_cli.probe.options import ProbeOptions
from velocipy_cli.probe.outcomes import CloseInfo, ExitCode, ProbeError
from velocipy_cli.probe.rendering import Frame


async def replay(
    options: ProbeOptions,
    transcript: Transcript,
    display: Display,
    *,
    ignore: Collection[str],
    reply_timeout: float,
) -> ExitCode:
    """Replay ``transcript`` against ``options.url``: 0 when every reply matched, 3 when not."""
    try:
        connection = await open_connection(options)
    except ProbeError as exc:
        display.error(exc.message, exc.details)
        return exc.exit_code
    display.opened(options.url, options.url_source, connection.subprotocol)
    replies = 0
    outcome = ExitCode.OK
    try:
        for step in transcript.steps:
            if step.direction == "sent":
                await connection.send(step.payload)
                display.frame(Frame("sent", step.payload, time.time()))
                continue
            try:
                got = await asyncio.wait_for(connection.recv(), reply_timeout)
            except TimeoutError:
                display.error(
                    f"no reply within {reply_timeout:g} s where the transcript has one "
                    f"(line {step.line}); raise --idle-timeout if the app is slow"
                )
                outcome = ExitCode.EXPECTATION
                break
            display.frame(Frame("received", got, time.time()))
            diff = mismatch(step, got, ignore)
            if diff is not None:
                display.error(f"reply differs from the transcript (line {step.line})", diff)
                outcome = ExitCode.EXPECTATION
                break
            replies += 1
    except ConnectionClosed as exc:
        display.close(CloseInfo.from_exception(exc))
        display.error(f"the connection closed after {replies} matching replies")
        return ExitCode.FAILURE
    await connection.close()
    if outcome is ExitCode.OK:
        display.status(f"replayed {len(transcript.steps)} messages: all {replies} replies match")
    return outcome
