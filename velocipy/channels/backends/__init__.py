"""Channel backends: where published messages travel between subscribers.

``memory`` keeps everything in one process; ``redis`` (the optional extra ``redis``)
crosses workers and machines through Redis pub/sub. The Redis module is imported only when a
``redis://`` backend is built.
"""

from __future__ import annotations

from velocipy.channels.backends.base import ChannelBackend, Deliver, id_key
from velocipy.channels.backends.memory import MemoryBackend

__all__ = ["ChannelBackend", "Deliver", "MemoryBackend", "backend_for", "id_key"]


def backend_for(spec: str | ChannelBackend, history: int) -> ChannelBackend:
    """``"memory"``, a ``redis://`` / ``rediss://`` / ``unix://`` URL, or a backend object."""
    if isinstance(spec, ChannelBackend):
        return spec
    if spec == "memory":
        return MemoryBackend(history=history)
    if spec.startswith(("redis://", "rediss://", "unix://")):
        from velocipy.channels.backends.redis import RedisBackend

        return RedisBackend(spec, history=history)
    raise ValueError(
        f"unknown channels backend {spec!r}: use 'memory' or a redis:// URL "
        "(e.g. 'redis://127.0.0.1:6379/0')"
    )
