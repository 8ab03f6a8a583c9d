"""Observability that works the same on ASGI and RSGI; every feature is off until added.

``app.add_instrument(...)`` turns one on: :class:`AccessLog` and :class:`RequestID`
(``access``), :class:`ServerTiming` (``timing``), :class:`OpenTelemetry` (``otel``, the
``otel`` extra), :class:`Prometheus` (``prometheus``, the ``prometheus`` extra) and
:class:`Health` (``health``). The optional libraries are imported when a feature is made.
"""

from velocipy.observability.access import (
    AccessLog,
    RequestID,
    RequestIDFilter,
    current_request_id,
)
from velocipy.observability.health import Health, redis_check
from velocipy.observability.instrument import Instrument
from velocipy.observability.otel import OpenTelemetry
from velocipy.observability.prometheus import Prometheus
from velocipy.observability.timing import ServerTiming

__all__ = [
    "AccessLog",
    "Health",
    "Instrument",
    "OpenTelemetry",
    "Prometheus",
    "RequestID",
    "RequestIDFilter",
    "ServerTiming",
    "current_request_id",
    "redis_check",
]
