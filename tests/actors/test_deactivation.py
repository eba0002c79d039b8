"""Deactivation while a turn runs (daprd sends DELETE when placement moves the object away).

daprd sends that DELETE while the actor type is locked for the new placement table; a turn
still running here would wait for that lock on its next state call, so the DELETE must not
wait for the turn: it is answered at once, the running turn is fenced (its commit is refused,
nothing is written), and the instance is dropped once the turn is over.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from starlette.types import Receive, Scope, Send

from actors import ObjectUnavailableError, turn_lock
from actors._state import ObjectStore
from app.actor_fastpath import ActorFastPath


class CountingState:
    """Just enough of the SDK's state manager for `ObjectStore.commit`."""

    def __init__(self) -> None:
        self.saved = 0

    async def save_state(self) -> None:
        self.saved += 1


def delete_scope(object_id: str) -> Scope:
    return {"type": "http", "method": "DELETE", "path": f"/actors/ResidentObject/{object_id}"}


async def receive() -> dict[str, object]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def test_a_deactivation_during_a_turn_is_answered_at_once_and_fences_the_turn() -> None:
    passed_on: list[str] = []
    answered: list[int] = []

    async def downstream(scope: Scope, receive: Receive, send: Send) -> None:
        passed_on.append(scope["path"])

    async def send(message: Any) -> None:
        if message["type"] == "http.response.start":
            answered.append(message["status"])

    app = ActorFastPath(downstream, actor_types=frozenset({"ResidentObject"}))
    state = CountingState()
    store = ObjectStore(state, object_id="obj-1")  # type: ignore[arg-type]
    deleted = asyncio.Event()
    outcome: list[str] = []

    async def turn() -> None:
        async with turn_lock("obj-1"):
            await deleted.wait()
            try:
                await store.commit()
            except ObjectUnavailableError:
                outcome.append("refused")

    running = asyncio.create_task(turn())
    await asyncio.sleep(0)
    await asyncio.wait_for(app(delete_scope("obj-1"), receive, send), timeout=1)
    assert answered == [200]  # while the turn still runs
    deleted.set()
    await running
    assert outcome == ["refused"]
    assert state.saved == 0

    async with turn_lock("obj-1"):  # the next turn is not fenced
        await store.commit()
    assert state.saved == 1
    assert passed_on == []


async def test_a_deactivation_with_no_turn_running_goes_to_the_sdk_in_its_turn() -> None:
    passed_on: list[str] = []

    async def downstream(scope: Scope, receive: Receive, send: Send) -> None:
        passed_on.append(scope["path"])

    async def send(message: Any) -> None:
        return None

    app = ActorFastPath(downstream, actor_types=frozenset({"ResidentObject"}))
    await app(delete_scope("obj-2"), receive, send)
    assert passed_on == ["/actors/ResidentObject/obj-2"]


@pytest.mark.parametrize("object_id", ["obj-3"])
async def test_a_turn_that_was_not_deactivated_commits(object_id: str) -> None:
    state = CountingState()
    store = ObjectStore(state, object_id=object_id)  # type: ignore[arg-type]
    async with turn_lock(object_id):
        await store.commit()
    assert state.saved == 1
