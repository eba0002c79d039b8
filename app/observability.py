"""Structured logs and trace-context capture for the service.

Logs are one JSON object per line (RESIDENT_LOG_FORMAT=json, the default) with the fields a
log pipeline filters on: object_id, seq, code, effect_id... taken from the record's `extra`.
Tokens are never logged: nothing in Resident passes one to a logger.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from actors import remember_trace

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record, extras included as top-level fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(*, level: str = "info", fmt: str = "json") -> None:
    """Attach one handler to Resident's loggers (uvicorn keeps its own)."""
    logger = logging.getLogger("resident")
    logger.setLevel(level.upper())
    logger.propagate = False
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter()
        if fmt == "json"
        else logging.Formatter("%(levelname)s %(name)s: %(message)s")
    )
    logger.handlers = [handler]


class TraceContextCapture:
    """Pure ASGI middleware: remembers each request's W3C trace context for sidecar calls."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = dict(scope.get("headers", ()))
            traceparent = headers.get(b"traceparent")
            if traceparent is not None:
                state = headers.get(b"tracestate")
                remember_trace(
                    traceparent.decode("latin-1"), state.decode("latin-1") if state else None
                )
        await self._app(scope, receive, send)
