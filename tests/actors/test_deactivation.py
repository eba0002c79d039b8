"""Deactivation waits for the object's turn (daprd sends DELETE while a turn may still run)."""

from __future__ import annotations

import asyncio

from starlette.types import Receive, Scope, Send

from actors import turn_lock
from app.actor_fastpath import ActorFastPath


async def test_a_deactivation_waits_until_the_running_turn_ends() -> None:
    events: list[str] = []

    async def downstream(scope: Scope, receive: Receive, send: Send) -> None:
        events.append(f"{scope['method']} {scope['path']}")

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: object) -> None:
        return None

    app = ActorFastPath(downstream, actor_types=frozenset({"ResidentObject"}))
    scope = {"type": "http", "method": "DELETE", "path": "/actors/ResidentObject/obj-1"}
    turn_started = asyncio.Event()

    async def turn() -> None:
        async with turn_lock("obj-1"):
            turn_started.set()
            await asyncio.sleep(0.2)
            events.append("turn committed")

    running = asyncio.create_task(turn())
    await turn_started.wait()
    await app(scope, receive, send)  # type: ignore[arg-type]
    await running

    assert events == ["turn committed", "DELETE /actors/ResidentObject/obj-1"]
