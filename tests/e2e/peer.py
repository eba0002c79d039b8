"""A non-Dapr peer service (shipping, payments) for e2e tests: records every call it gets.

`uvicorn tests.e2e.peer:app`; `GET /_received` lists `{path, body, effect_id}` in order.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

RECEIVED: list[dict[str, Any]] = []


async def record(request: Request) -> JSONResponse:
    body = await request.body()
    RECEIVED.append(
        {
            "path": request.url.path,
            "body": json.loads(body) if body else None,
            "effect_id": request.headers.get("resident-effect-id"),
        }
    )
    return JSONResponse({"ok": True})


async def received(_: Request) -> JSONResponse:
    return JSONResponse(RECEIVED)


app = Starlette(
    routes=[
        Route("/_received", received, methods=["GET"]),
        Route("/{path:path}", record, methods=["POST", "PUT"]),
    ]
)
