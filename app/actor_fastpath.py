"""A direct ASGI path for the sidecar's hot calls into actors (methods and reminders).

Every actor call and reminder fire otherwise crosses FastAPI's routing, dependency and
exception layers before reaching the SDK's `ActorRuntime`; measured, that plumbing costs more
CPU than the object's own turn. This path serves exactly the routes `dapr.ext.fastapi.DaprActor`
serves for them, with the same status codes and bodies, calling the same `ActorRuntime` entry
points. Everything else (config, health) still goes to `DaprActor`.

Timer calls for our types are refused here (404, which daprd takes as "no such method"):
Resident registers no timers, and the SDK's timer route calls `getattr(actor, callback)` with
whatever callback the timer names (e.g. `unregister_reminder`, silently stopping an object's
cycles, or a private handler outside the turn lock) for anyone who can register a timer.

Deactivation (`DELETE /actors/{type}/{id}`) also passes here first, to wait for the object's
turn: daprd sends it 2 s after cancelling in-flight calls (rebalance, shutdown), and the SDK
would clear the state cache of a turn that is still running and about to commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Coroutine
from typing import Any, TypeVar

from dapr.actor.runtime.runtime import ActorRuntime
from dapr.clients.exceptions import ERROR_CODE_UNKNOWN, DaprInternalError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from actors import (
    SidecarCall,
    fence,
    serving_sidecar_call,
    sidecar_restarted,
    turn_lock,
    turn_running,
)

REENTRANCY_HEADER = b"dapr-reentrancy-id"
JSON_UTF8 = b"application/json; utf-8"

T = TypeVar("T")


class ActorFastPath:
    """Pure ASGI: `PUT /actors/{type}/{id}/method/{name}` and `.../method/remind/{name}`."""

    def __init__(self, app: ASGIApp, *, actor_types: frozenset[str]) -> None:
        self._app = app
        self._types = actor_types
        self._background: set[asyncio.Task[None]] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/dapr/config":
            await self._on_sidecar_start()
        deactivated = self._deactivation(scope)
        if deactivated is not None:
            await self._deactivate(deactivated, scope, receive, send)
            return
        route = self._route(scope)
        if route is None:
            await self._app(scope, receive, send)
            return
        actor_type, actor_id, kind, name = route
        body = await _read_body(receive)
        if kind == "timer":
            message = f"{actor_type} has no timers; timer {name!r} refused"
            await _respond(send, 404, {"message": message, "errorCode": "ERR_ACTOR_TIMER"})
            return
        try:
            if kind == "remind":
                await _serve(receive, ActorRuntime.fire_reminder(actor_type, actor_id, name, body))
                message = f"called reminder. actor: {actor_type}.{actor_id}, reminder: {name}"
                await _respond(send, 200, {"message": message})
                return
            reentrancy = dict(scope.get("headers", ())).get(REENTRANCY_HEADER)
            result = await _serve(
                receive,
                ActorRuntime.dispatch(
                    actor_type, actor_id, name, body, reentrancy.decode() if reentrancy else None
                ),
            )
        except DaprInternalError as exc:
            await _respond(send, 500, exc.as_json_safe_dict())  # type: ignore[no-untyped-call]
            return
        except Exception as exc:
            await _respond(send, 500, {"message": repr(exc), "errorCode": ERROR_CODE_UNKNOWN})
            return
        await _send(send, 200, result, JSON_UTF8)

    async def _deactivate(self, object_id: str, scope: Scope, receive: Receive, send: Send) -> None:
        """`DELETE /actors/{type}/{id}`: placement moved the object away. Deactivate in its
        turn; but when a turn is running, answer at once and fence that turn (it may not
        commit) instead of waiting: daprd sends this DELETE while the actor type is locked
        for a new placement table, and the running turn's next state call waits for that
        lock to lift, which waits for this answer."""
        if not turn_running(object_id):
            async with turn_lock(object_id):
                await self._app(scope, receive, send)
            return
        fence(object_id)
        actor_type = str(scope["path"]).split("/")[2]
        task = asyncio.get_running_loop().create_task(_deactivate_after_turn(actor_type, object_id))
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        await _respond(send, 200, {})

    async def _on_sidecar_start(self) -> None:
        """A daprd reads `/dapr/config` once, when it starts: any activation made before may
        be stale (actors._activations). Every read counts, the first this process sees too: an
        app restarted under a living daprd sees its first read only when that daprd restarts."""
        sidecar_restarted(list(self._types))

    def _deactivation(self, scope: Scope) -> str | None:
        """The object id of `DELETE /actors/{type}/{id}` for one of our types, else None."""
        if scope["type"] != "http" or scope["method"] != "DELETE":
            return None
        parts = str(scope["path"]).split("/")
        if len(parts) != 4 or parts[1] != "actors" or parts[2] not in self._types:
            return None
        return parts[3]

    def _route(self, scope: Scope) -> tuple[str, str, str, str] | None:
        """(type, id, "method"|"remind"|"timer", name) for the calls this path serves."""
        if scope["type"] != "http" or scope["method"] != "PUT":
            return None
        parts = str(scope["path"]).split("/")
        # ["", "actors", type, id, "method", name] or [..., "method", "remind", name]
        if len(parts) < 6 or parts[1] != "actors" or parts[4] != "method":
            return None
        if parts[2] not in self._types:
            return None
        if len(parts) == 6 and parts[5] not in {"remind", "timer"}:
            return parts[2], parts[3], "method", parts[5]
        if len(parts) >= 7 and parts[5] in {"remind", "timer"}:
            return parts[2], parts[3], parts[5], "/".join(parts[6:])
        return None


async def _serve(receive: Receive, call: Coroutine[Any, Any, T]) -> T:
    """Run one actor call as serving the sidecar's call (actors._calls): while it runs, a
    dropped connection (the sidecar died, restarted or cancelled the call) marks the call
    lost, so its turn cannot commit. The watch ends before the answer is sent."""
    with serving_sidecar_call() as served:
        watch = asyncio.get_running_loop().create_task(_watch_disconnect(receive, served))
        try:
            return await call
        finally:
            watch.cancel()


async def _watch_disconnect(receive: Receive, served: SidecarCall) -> None:
    """The body was read: the server's next message is `http.disconnect`, once the
    connection drops (it is cancelled before the response completes)."""
    message = await receive()
    if message["type"] == "http.disconnect":
        served.lost = True


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message: Message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _respond(send: Send, status: int, payload: dict[str, Any]) -> None:
    await _send(send, status, json.dumps(payload).encode(), b"application/json")


async def _send(send: Send, status: int, body: bytes, content_type: bytes) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _deactivate_after_turn(actor_type: str, object_id: str) -> None:
    """Drop the instance once the fenced turn is over (the next turn then loads afresh)."""
    async with turn_lock(object_id):
        with contextlib.suppress(ValueError):  # not active any more
            await ActorRuntime.deactivate(actor_type, object_id)
