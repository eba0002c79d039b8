"""Turn-based concurrency: one turn at a time per actor, as daprd enforces it.

The Python SDK does not serialize calls to one actor id; daprd does, with a per-actor lock
held across method calls, reminders and timers. With reentrancy enabled, a call carrying the
`Dapr-Reentrancy-Id` of the turn in progress enters that turn instead of waiting for it
(A calls B calls A would otherwise deadlock), up to `maxStackDepth` nested entries.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from ._errors import DaprError

ActorKey = tuple[str, str]


@dataclass(slots=True)
class _Turn:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    holder: str | None = None
    depth: int = 0
    users: int = 0  # holders + waiters; the entry is dropped when it reaches 0


class StackDepthError(DaprError):
    """A reentrant chain went deeper than maxStackDepth; retrying the same chain fails again."""

    def __init__(self, depth: int) -> None:
        super().__init__(500, "ERR_ACTOR_STACK_DEPTH", f"maximum stack depth exceeded ({depth})")


class TurnLocks:
    """Per-(type, id) turn locks, created on first use and dropped when idle.

    `turn()` is an async context manager. Pass `reentrancy_id` only when the actor type has
    reentrancy enabled; `max_depth` bounds nested entries of one reentrant turn.
    """

    def __init__(self) -> None:
        self._turns: dict[ActorKey, _Turn] = {}

    def busy(self, key: ActorKey) -> bool:
        """True while a turn is held or awaited: idle deactivation must not interrupt it."""
        return key in self._turns

    @contextlib.asynccontextmanager
    async def turn(
        self, key: ActorKey, *, reentrancy_id: str | None = None, max_depth: int = 32
    ) -> AsyncIterator[None]:
        state = self._turns.get(key)
        if state is None:
            state = self._turns[key] = _Turn()
        if reentrancy_id is not None and state.holder == reentrancy_id and state.depth > 0:
            if state.depth >= max_depth:
                raise StackDepthError(max_depth)
            state.depth += 1
            try:
                yield
            finally:
                state.depth -= 1
            return
        state.users += 1
        try:
            await state.lock.acquire()
            state.holder, state.depth = reentrancy_id, 1
            try:
                yield
            finally:
                state.holder, state.depth = None, 0
                state.lock.release()
        finally:
            state.users -= 1
            if state.users == 0:
                self._turns.pop(key, None)
