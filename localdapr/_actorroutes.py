"""HTTP routes of the actor API under /v1.0/actors, as the Dapr SDKs call them.

Thin handlers: parse the request, call the ActorSubsystem, shape daprd's answer. Errors are
raised as DaprError and turned into JSON by the server's one exception handler.

Refusals follow daprd 1.18: a call to an actor type nobody hosts is 500
`ERR_ACTOR_INVOKE_METHOD` ("did not find address for actor"), state is written only for an
actor active on this sidecar (else 400 `ERR_ACTOR_INSTANCE_MISSING`) but read for any actor,
and a timer on a type the app does not host is 500 `ERR_ACTOR_TIMER_CREATE`.

Deliberate difference: daprd retries the placement lookup of an unhosted actor type for a few
seconds before answering; localdapr hosts every actor itself and answers at once.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Receive, Scope, Send

from ._actorstate import decode_ops, parse_ops
from ._appchannel import AppUnreachableError
from ._errors import JSON, DaprError, read_json

if TYPE_CHECKING:
    from ._actors import ActorSubsystem

BASE = "/v1.0/actors/{actor_type}/{actor_id}"
_ALL = ["GET", "POST", "PUT", "DELETE"]
_TRACE_HEADERS = frozenset({b"traceparent", b"tracestate"})


def _no_address(actor_type: str, actor_id: str) -> DaprError:
    return DaprError(
        500,
        "ERR_ACTOR_INVOKE_METHOD",
        "error invoke actor method: failed to lookup actor: "
        f"did not find address for actor '{actor_type}/{actor_id}'",
    )


def _missing() -> DaprError:
    return DaprError(400, "ERR_ACTOR_INSTANCE_MISSING", "actor instance is missing")


def _timer_not_hosted(actor_type: str, actor_id: str) -> DaprError:
    return DaprError(
        500,
        "ERR_ACTOR_TIMER_CREATE",
        f"error creating actor timer: can't create timer for actor {actor_type}||{actor_id}: "
        "actor type not registered",
    )


def _not_hosted() -> DaprError:
    return DaprError(
        403,
        "ERR_ACTOR_REMINDER_NON_HOSTED",
        "operations on actor reminders are only possible on hosted actor types",
    )


class _Handlers:
    """Route handlers bound to one ActorSubsystem."""

    def __init__(self, actors: ActorSubsystem) -> None:
        self.actors = actors

    async def get_state(self, request: Request) -> Response:
        p = request.path_params  # daprd reads any actor's state, active or not
        if self.actors.state is None:
            raise DaprError(500, "ERR_ACTOR_RUNTIME_NOT_FOUND", "actor state store not open")
        value = self.actors.state.get(p["actor_type"], p["actor_id"], p["key"])
        if value is None:
            return Response(status_code=204)
        return Response(value, 200, media_type=JSON)

    async def save_state(self, request: Request) -> Response:
        p = request.path_params
        items = decode_ops(await request.body())
        await self.actors.hosted(p["actor_type"], missing=_missing())
        if not self.actors.is_active(p["actor_type"], p["actor_id"]):
            raise _missing()
        ops = parse_ops(items)
        if self.actors.state is None:
            raise DaprError(500, "ERR_ACTOR_RUNTIME_NOT_FOUND", "actor state store not open")
        self.actors.state.apply(p["actor_type"], p["actor_id"], ops)
        return Response(status_code=204)

    async def reminder(self, request: Request) -> Response:
        p = request.path_params
        key = (p["actor_type"], p["actor_id"], p["name"])
        body = await read_json(request) if request.method in ("PUT", "POST") else None
        await self.actors.hosted(key[0], missing=_not_hosted())
        if self.actors.reminders is None:
            raise DaprError(500, "ERR_ACTOR_RUNTIME_NOT_FOUND", "reminder store not open")
        if request.method == "DELETE":
            self.actors.reminders.delete(key)
            return Response(status_code=204)
        if request.method == "GET":
            found = self.actors.reminders.get(key)
            if found is None:
                raise DaprError(
                    404, "ERR_ACTOR_REMINDER_NOT_FOUND", f"actor reminder not found: {key[2]}"
                )
            return Response(json.dumps(found).encode(), 200, media_type=JSON)
        self.actors.reminders.register(key, body)
        return Response(status_code=204)

    async def timer(self, request: Request) -> Response:
        p = request.path_params
        key = (p["actor_type"], p["actor_id"], p["name"])
        if request.method == "DELETE":
            await self.actors.hosted(key[0], missing=_missing())
            self.actors.timers.delete(key)
        else:
            body = await read_json(request)
            await self.actors.hosted(key[0], missing=_timer_not_hosted(key[0], key[1]))
            self.actors.timers.register(key, body)
        return Response(status_code=204)


class InvokeRoute(BaseRoute):
    """`/v1.0/actors/{type}/{id}/method/{method}`: the hot path, served as raw ASGI.

    Matched by a string split instead of a regex and answered without Request/Response
    objects: at a few thousand calls a second that is a large share of localdapr's CPU.
    """

    _PREFIX = "/v1.0/actors/"

    def __init__(self, actors: ActorSubsystem) -> None:
        self.actors = actors

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(self._PREFIX):
            return Match.NONE, {}
        parts = path.split("/", 6)  # '', 'v1.0', 'actors', type, id, 'method', method
        if len(parts) != 7 or parts[5] != "method" or not all(parts[3:]):
            return Match.NONE, {}
        params = {"actor_type": parts[3], "actor_id": parts[4], "method": parts[6]}
        match = Match.FULL if scope["method"] in _ALL else Match.PARTIAL
        return match, {"path_params": params}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            status, content_type, body = await self._invoke(scope, receive)
        except DaprError as exc:
            await exc.response()(scope, receive, send)
            return
        headers = [(b"content-type", content_type.encode("latin-1"))]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _invoke(self, scope: Scope, receive: Receive) -> tuple[int, str, bytes]:
        if scope["method"] not in _ALL:
            # daprd hands other methods to its service-invocation fallback, which finds no app.
            raise DaprError(
                404,
                "ERR_DIRECT_INVOKE",
                "failed getting app id either from the URL path or the header dapr-app-id",
            )
        p = scope["path_params"]
        body = await _read_body(receive)
        reentrancy_id, content_type, trace = _call_headers(scope)
        return await invoke_actor(
            self.actors,
            p["actor_type"],
            p["actor_id"],
            p["method"],
            body,
            reentrancy_id=reentrancy_id,
            content_type=content_type,
            trace=trace,
        )


async def invoke_actor(
    actors: ActorSubsystem,
    actor_type: str,
    actor_id: str,
    method: str,
    body: bytes,
    *,
    reentrancy_id: str | None = None,
    content_type: str | None = None,
    trace: dict[str, str] | None = None,
) -> tuple[int, str, bytes]:
    """One actor method call, as the HTTP and gRPC APIs both serve it: (200, type, body) or a
    DaprError shaped as daprd's."""
    await actors.hosted(actor_type, missing=_no_address(actor_type, actor_id))
    try:
        resp = await actors.call(
            actor_type,
            actor_id,
            quote(method, safe="/"),
            body,
            reentrancy_id=reentrancy_id,
            content_type=content_type,
            trace=trace,
        )
    except AppUnreachableError as exc:
        # daprd answers a dead app channel like any failed call: 500 in its JSON shape.
        message = f"error invoke actor method: {exc}"
        raise DaprError(500, "ERR_ACTOR_INVOKE_METHOD", message) from exc
    if resp.status == 200:
        return 200, resp.headers.get("content-type", JSON), resp.body
    # daprd: a 404 is "method not found"; any other non-200 wraps the app's body.
    detail = (
        f"actor method not found: {method}"
        if resp.status == 404
        else f"error from actor service: ({resp.status}) {resp.body.decode(errors='replace')}"
    )
    raise DaprError(500, "ERR_ACTOR_INVOKE_METHOD", f"error invoke actor method: {detail}")


def _call_headers(scope: Scope) -> tuple[str | None, str | None, dict[str, str]]:
    """The caller's reentrancy id, content type and W3C trace context: what daprd passes on.

    daprd sends the app the trace context of the call (as a child span of the caller's);
    localdapr records no spans, so it passes the caller's context through unchanged.
    """
    reentrancy_id = content_type = None
    trace: dict[str, str] = {}
    for name, value in scope["headers"]:
        if name == b"dapr-reentrancy-id":
            reentrancy_id = value.decode("latin-1")
        elif name == b"content-type":
            content_type = value.decode("latin-1")
        elif name in _TRACE_HEADERS:
            trace[name.decode("latin-1")] = value.decode("latin-1")
    return reentrancy_id, content_type, trace


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise DaprError(400, "ERR_MALFORMED_REQUEST", "client disconnected mid-request")
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def actor_routes(actors: ActorSubsystem) -> list[BaseRoute]:
    """The /v1.0/actors routes, bound to one ActorSubsystem."""
    h = _Handlers(actors)
    return [
        InvokeRoute(actors),
        Route(BASE + "/state/{key:path}", h.get_state, methods=["GET"]),
        Route(BASE + "/state", h.save_state, methods=["PUT", "POST"]),
        Route(BASE + "/reminders/{name}", h.reminder, methods=_ALL),
        Route(BASE + "/timers/{name}", h.timer, methods=["PUT", "POST", "DELETE"]),
    ]
