"""One turn at a time per object inside this process, whatever the sidecar does.

daprd (and localdapr) serialize an actor's turns, but the Python SDK does not: when a sidecar
restarts while the app keeps running, a turn it had started can still be running here when the
new sidecar starts the next one for the same object. Both would share the SDK's state cache, and
a failing one clearing that cache would silently empty the other's pending writes. Keyed by
object id, not by actor instance, because the SDK may activate an id twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

_locks: dict[str, tuple[asyncio.Lock, int]] = {}
# Objects whose running turn must not commit: the sidecar deactivated them mid-turn (placement
# moved them); cleared when that turn ends.
_fenced: set[str] = set()


@asynccontextmanager
async def turn_lock(object_id: str) -> AsyncIterator[None]:
    """Hold the object's in-process turn; the registry forgets ids nobody waits on."""
    lock, users = _locks.get(object_id, (asyncio.Lock(), 0))
    _locks[object_id] = (lock, users + 1)
    try:
        async with lock:
            try:
                yield
            finally:
                _fenced.discard(object_id)
    finally:
        lock, users = _locks[object_id]
        if users <= 1:
            del _locks[object_id]
        else:
            _locks[object_id] = (lock, users - 1)


def turn_running(object_id: str) -> bool:
    """Whether a turn of `object_id` holds its lock now."""
    entry = _locks.get(object_id)
    return entry is not None and entry[0].locked()


def fence(object_id: str) -> None:
    """The running turn of `object_id` may no longer commit (its object moved away)."""
    if turn_running(object_id):
        _fenced.add(object_id)


def fenced(object_id: str) -> bool:
    return object_id in _fenced


def held_locks() -> int:
    """How many object ids currently have a turn running or waiting (for tests and metrics)."""
    return len(_locks)
