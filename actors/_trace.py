"""W3C trace context for calls an object makes while serving a request.

The app records the `traceparent` of every incoming request (daprd forwards the caller's on
actor calls); `SidecarClient` sends it on each call it makes while serving that request, so a
command, its state transaction and the events it publishes share one trace. With the optional
`otel` extra installed, OpenTelemetry's propagator supplies the context instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
_VALID = re.compile(r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")

incoming: ContextVar[dict[str, str] | None] = ContextVar("resident_trace", default=None)

_otel_inject: Callable[[dict[str, Any]], None] | None
try:  # depends on the optional `otel` extra
    from opentelemetry.propagate import inject as _otel_inject
except ImportError:
    _otel_inject = None


def remember(traceparent: str | None, tracestate: str | None = None) -> None:
    """Keep a well-formed incoming context for this request's task; ignore anything else."""
    if traceparent and _VALID.match(traceparent.strip().lower()):
        headers = {TRACEPARENT: traceparent.strip().lower()}
        if tracestate and len(tracestate) <= 512:
            headers[TRACESTATE] = tracestate
        incoming.set(headers)


def outgoing() -> dict[str, str]:
    """Headers to add to a call to the sidecar."""
    headers: dict[str, Any] = {}
    if _otel_inject is not None:
        _otel_inject(headers)
    if TRACEPARENT not in headers:
        headers.update(incoming.get() or {})
    return {str(k): str(v) for k, v in headers.items()}
