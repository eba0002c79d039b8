"""A small real Dapr pub/sub app for the contract tests: `uvicorn tests.contract.subscriberapp:app`.

It subscribes programmatically (`GET /dapr/subscribe`, as any Dapr app does), records every
delivery it gets, and answers each one as told: tests queue answers per route with
`POST /test/answers/{route}` (`SUCCESS`, `EMPTY` (200 with no body), `RETRY`, `DROP`,
`500`, `404`), the default being SUCCESS. `GET /test/received/{route}` lists what arrived.
`/echo/...` answers any verb with what it was sent, for service invocation tests.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict, deque
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

PUBSUB = "pubsub"

SUBSCRIPTIONS: list[dict[str, Any]] = [
    {"pubsubname": PUBSUB, "topic": "orders", "route": "/events/orders"},
    {"pubsubname": PUBSUB, "topic": "retry", "route": "events/retry"},
    {"pubsubname": PUBSUB, "topic": "status500", "route": "/events/status500"},
    {"pubsubname": PUBSUB, "topic": "drop", "route": "/events/drop"},
    {
        "pubsubname": PUBSUB,
        "topic": "drop-dlt",
        "route": "/events/drop-dlt",
        "deadLetterTopic": "dead",
    },
    {
        "pubsubname": PUBSUB,
        "topic": "exhaust",
        "route": "/events/exhaust",
        "deadLetterTopic": "dead",
    },
    {"pubsubname": PUBSUB, "topic": "exhaust-nodlt", "route": "/events/exhaust-nodlt"},
    {"pubsubname": PUBSUB, "topic": "dead", "route": "/events/dead"},
    {"pubsubname": PUBSUB, "topic": "durable", "route": "/events/durable"},
    {
        "pubsubname": PUBSUB,
        "topic": "routed",
        "routes": {
            "rules": [{"match": 'event.type == "com.example.special"', "path": "/events/special"}],
            "default": "/events/routed",
        },
    },
]

ANSWERS: dict[str, deque[str]] = defaultdict(deque)
RECEIVED: dict[str, list[dict[str, Any]]] = defaultdict(list)


async def healthz(_request: Request) -> Response:
    return Response(status_code=200)


async def subscribe(_request: Request) -> Response:
    return JSONResponse(SUBSCRIPTIONS)


async def event(request: Request) -> Response:
    route = request.path_params["route"]
    body = await request.body()
    try:
        payload: Any = json.loads(body)
    except ValueError:
        payload = body.decode("utf-8", errors="replace")
    RECEIVED[route].append(
        {"at": time.time(), "contentType": request.headers.get("content-type"), "event": payload}
    )
    answer = ANSWERS[route].popleft() if ANSWERS[route] else "SUCCESS"
    if answer == "EMPTY":
        return Response(status_code=200)
    if answer.isdigit():
        return Response(b"told to fail", status_code=int(answer))
    return JSONResponse({"status": answer})


async def set_answers(request: Request) -> Response:
    route = request.path_params["route"]
    ANSWERS[route] = deque(await request.json())
    return Response(status_code=204)


async def received(request: Request) -> Response:
    return JSONResponse(RECEIVED[request.path_params["route"]])


async def echo(request: Request) -> Response:
    """What a service invocation delivered; `?status=N` picks the answer's status."""
    body = await request.body()
    status = int(request.query_params.get("status", "200"))
    seen = {
        "method": request.method,
        "path": request.url.path,
        "query": request.url.query,
        "headers": dict(request.headers),
        "body": body.decode("utf-8", errors="replace"),
    }
    return JSONResponse(seen, status_code=status, headers={"x-echo": "yes"})


app = Starlette(
    routes=[
        Route("/healthz", healthz, methods=["GET"]),
        Route("/dapr/subscribe", subscribe, methods=["GET"]),
        Route("/events/{route}", event, methods=["POST"]),
        Route("/test/answers/{route}", set_answers, methods=["POST"]),
        Route("/test/received/{route}", received, methods=["GET"]),
        Route("/echo/{rest:path}", echo, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
    ]
)
