"""Channels: publish and subscribe across tasks, workers and machines.

``Channels("memory")`` serves one process; ``Channels("redis://...")`` (the ``redis`` extra:
``pip install -e '.[redis]'`` in a clone) crosses workers and machines through Redis pub/sub.
See docs/scaling.md.
"""

from velocipy.channels.backends import ChannelBackend, MemoryBackend
from velocipy.channels.backends.base import InvalidMessageId
from velocipy.channels.hub import Channels, Membership, Subscription
from velocipy.channels.messages import Message
from velocipy.channels.subscribers import OverflowPolicy, SlowSubscriberError, SubscriptionClosed

__all__ = [
    "ChannelBackend",
    "Channels",
    "InvalidMessageId",
    "Membership",
    "MemoryBackend",
    "Message",
    "OverflowPolicy",
    "SlowSubscriberError",
    "Subscription",
    "SubscriptionClosed",
]
