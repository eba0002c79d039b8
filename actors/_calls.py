"""The sidecar call a turn serves: a turn may commit only while that call is still alive.

daprd's turn-based concurrency is a lock held for the duration of its call into the app. When
the call ends without our answer (daprd was killed, restarted, cancelled the call for a new
placement table, or timed it out), daprd has released that lock: it may already have delivered
the object's next call here or to another replica, which read the store afresh and committed.
A turn still running for the lost call acts on what it read before and must not commit, or it
overwrites the newer lineage entry (a fork whose first branch's effects were already published).

The app's ASGI layer serves each actor call inside `serving_sidecar_call()` and marks it lost
when the sidecar's connection drops. A sidecar that starts reads the app's `/dapr/config`
first, which starts a new *sidecar generation* (`new_sidecar_generation`): every call that began
before it is lost, and a transaction one of them already has on its way is aborted (its
connection closed), because a new daprd holds a transaction for an object it does not host yet
and applies it once placement gives it the object. `ObjectStore.commit` sends its transaction
through `send_transaction`, which refuses or aborts it for a lost call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from ._errors import ObjectUnavailableError

LOST = (
    "the sidecar stopped waiting for this turn (it restarted or gave up on the call); "
    "nothing was written; retry"
)
ABORTED = (
    "the sidecar restarted while this turn's transaction was on its way; it was aborted and "
    "most likely not applied; retry"
)

_generation = 0


def sidecar_generation() -> int:
    """How many sidecar starts this process has seen; a call and an instance record it."""
    return _generation


class SidecarCall:
    """One call from the sidecar into an actor; `lost` once its connection has dropped."""

    __slots__ = ("aborted", "generation", "lost")

    def __init__(self) -> None:
        self.generation = _generation
        self.lost = False
        self.aborted = False

    def gone(self) -> bool:
        """The sidecar no longer waits for this call's answer (it dropped or restarted)."""
        return self.lost or self.generation != _generation


_current: ContextVar[SidecarCall | None] = ContextVar("resident_sidecar_call", default=None)
# The calls whose transaction is on its way now, with the task sending it.
_sending: dict[SidecarCall, asyncio.Task[Any]] = {}


@contextmanager
def serving_sidecar_call() -> Iterator[SidecarCall]:
    """Run the code inside as serving one sidecar call (tasks it starts inherit it)."""
    call = SidecarCall()
    token = _current.set(call)
    try:
        yield call
    finally:
        _current.reset(token)


def new_sidecar_generation() -> int:
    """A sidecar (re)started: every call served so far is lost, and each transaction one of
    them has on its way is aborted (cancelling its task closes the connection, so daprd drops
    the request it may be holding)."""
    global _generation
    _generation += 1
    for call, task in list(_sending.items()):
        if not call.aborted:
            call.aborted = True
            task.cancel()
    return _generation


async def send_transaction(save: Callable[[], Awaitable[None]]) -> None:
    """Send a turn's transaction for the sidecar call it serves: refused (nothing sent) when
    that call is gone, aborted when its sidecar restarts while it is on its way; both raise
    ObjectUnavailableError. Outside any call (in-process use) it is simply sent."""
    call, task = _current.get(), asyncio.current_task()
    if call is None or task is None:
        await save()
        return
    if call.gone():
        raise ObjectUnavailableError(LOST)
    _sending[call] = task
    try:
        await save()
    except asyncio.CancelledError:
        if not call.aborted:
            raise
        task.uncancel()
        raise ObjectUnavailableError(ABORTED) from None
    finally:
        del _sending[call]
