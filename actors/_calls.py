"""The sidecar call a turn serves: a turn may commit only while that call is still alive.

daprd's turn-based concurrency is a lock held for the duration of its call into the app. When
the call ends without our answer (daprd was killed, restarted, cancelled the call for a new
placement table, or timed it out), daprd has released that lock: it may already have delivered
the object's next call here or to another replica, which read the store afresh and committed.
A turn still running for the lost call acts on what it read before and must not commit, or it
overwrites the newer lineage entry (a fork whose first branch's effects were already published).

The app's ASGI layer opens a `SidecarCall` around each actor call it serves and marks it lost
when the sidecar's connection drops; a sidecar restart (a new generation, actors._activations)
also ends every call that began before it. `ObjectStore.commit` asks `call_lost()`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from ._activations import sidecar_generation


class SidecarCall:
    """One call from the sidecar into an actor; `lost` once its connection has dropped."""

    __slots__ = ("generation", "lost")

    def __init__(self) -> None:
        self.generation = sidecar_generation()
        self.lost = False

    def gone(self) -> bool:
        """The sidecar no longer waits for this call's answer (it dropped or restarted)."""
        return self.lost or self.generation != sidecar_generation()


_current: ContextVar[SidecarCall | None] = ContextVar("resident_sidecar_call", default=None)


@contextmanager
def serving_sidecar_call() -> Iterator[SidecarCall]:
    """Run the code inside as serving one sidecar call (tasks it starts inherit it)."""
    call = SidecarCall()
    token = _current.set(call)
    try:
        yield call
    finally:
        _current.reset(token)


def call_lost() -> bool:
    """Whether the sidecar call the running code serves is gone; False outside any call."""
    call = _current.get()
    return call is not None and call.gone()
