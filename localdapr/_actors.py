"""The actor API family: invocation under turn locks, state, reminders, timers, idle deactivation.

Every call into an actor (a method, a reminder, a timer, a deactivation) goes through
`ActorSubsystem.call`, which takes the actor's turn lock: that lock, not the Python SDK, is
what makes an actor's turn atomic. Actors hosted here are the app's `entities`; an actor is
active from its first call until it has been idle for `actorIdleTimeout`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from starlette.routing import BaseRoute

from ._actorconfig import ActorsConfig, TypeConfig, parse_actors_config
from ._actorstate import ActorStateStore
from ._appchannel import AppResponse
from ._config import SidecarConfig
from ._errors import DaprError
from ._reminders import Reminders
from ._store import open_db
from ._subsystem import SidecarContext
from ._timers import Timers
from ._turns import ActorKey, TurnLocks

log = logging.getLogger("localdapr.actors")

REENTRANCY_HEADER = "Dapr-Reentrancy-Id"
READY_WAIT = 10.0  # how long an early actor call waits for the app's config


def _path(actor_type: str, actor_id: str) -> str:
    return f"/actors/{quote(actor_type, safe='')}/{quote(actor_id, safe='')}"


class ActorSubsystem:
    """Hosts the app's actor types; see the module docstring."""

    name = "actors"

    def __init__(self, config: SidecarConfig) -> None:
        self._config = config
        self._ctx: SidecarContext | None = None
        self._conn: sqlite3.Connection | None = None
        self._locks = TurnLocks()
        self._active: dict[ActorKey, float] = {}
        self._actors = ActorsConfig({})
        self._ready = asyncio.Event()
        self._scanner: asyncio.Task[None] | None = None
        self.state: ActorStateStore | None = None
        self.reminders: Reminders | None = None
        self.timers = Timers(self.call)

    # -- Subsystem protocol -----------------------------------------------------------------

    def routes(self) -> list[BaseRoute]:
        from ._actorroutes import actor_routes  # routes need this class; avoid an import cycle

        return actor_routes(self)

    async def start(self, ctx: SidecarContext) -> None:
        self._ctx = ctx
        self._conn = open_db(ctx.config.db_path)
        self.state = ActorStateStore(self._conn)
        self.reminders = Reminders(self._conn, self.call)
        loaded = self.reminders.load()
        if loaded:
            log.info("loaded %d durable reminders", loaded)

    async def on_app_ready(self, ctx: SidecarContext) -> None:
        self._actors = parse_actors_config(ctx.app_config)
        if self.reminders is not None:
            self.reminders.start()
        self.timers.start()
        self._scanner = asyncio.create_task(self._scan_idle(), name="localdapr-idle-scan")
        self._ready.set()
        log.info("actor types hosted: %s", sorted(self._actors.types) or "none")

    async def close(self) -> None:
        if self._scanner is not None:
            self._scanner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._scanner
        await self.timers.close()
        if self.reminders is not None:
            await self.reminders.close()
        if self._conn is not None:
            self._conn.close()

    def metadata(self) -> dict[str, Any]:
        counts = dict.fromkeys(self._actors.types, 0)
        for actor_type, _ in self._active:
            counts[actor_type] = counts.get(actor_type, 0) + 1
        # As daprd's JSON: a type with no active actor has no "count" (protojson omits zeros).
        actors = [{"type": t, "count": n} if n else {"type": t} for t, n in sorted(counts.items())]
        return {"actors": actors}

    # -- hosting ----------------------------------------------------------------------------

    async def hosted(self, actor_type: str, *, missing: DaprError) -> TypeConfig:
        """The type's config, waiting briefly for the app's config; `missing` if not hosted."""
        if not self._ready.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ready.wait(), READY_WAIT)
        cfg = self._actors.types.get(actor_type)
        if cfg is None:
            raise missing
        return cfg

    def is_active(self, actor_type: str, actor_id: str) -> bool:
        """Whether the actor is active here: called and not deactivated since (daprd's table)."""
        return (actor_type, actor_id) in self._active

    async def call(
        self,
        actor_type: str,
        actor_id: str,
        method_path: str,
        body: bytes,
        *,
        reentrancy_id: str | None = None,
        content_type: str | None = None,
        trace: Mapping[str, str] | None = None,
    ) -> AppResponse:
        """PUT one method/reminder/timer to the app inside the actor's turn."""
        if self._ctx is None:
            raise DaprError(503, "ERR_ACTOR_RUNTIME_CLOSED", "actor runtime is not started")
        cfg = self._actors.types.get(actor_type, TypeConfig())
        headers = {"Content-Type": content_type or "application/json", **(trace or {})}
        if cfg.reentrant:
            reentrancy_id = reentrancy_id or uuid.uuid4().hex
            headers[REENTRANCY_HEADER] = reentrancy_id
        else:
            reentrancy_id = None
        key = (actor_type, actor_id)
        path = f"{_path(actor_type, actor_id)}/method/{method_path}"
        async with self._locks.turn(key, reentrancy_id=reentrancy_id, max_depth=cfg.max_depth):
            self._active[key] = time.monotonic()
            try:
                return await self._ctx.app.call("PUT", path, body=body, headers=headers)
            finally:
                self._active[key] = time.monotonic()

    # -- idle deactivation ------------------------------------------------------------------

    async def _scan_idle(self) -> None:
        while True:
            await asyncio.sleep(self._actors.scan_interval)
            now = time.monotonic()
            for key, last in list(self._active.items()):
                cfg = self._actors.types.get(key[0], TypeConfig())
                if now - last >= cfg.idle_timeout and not self._locks.busy(key):
                    try:
                        await self.deactivate(key, idle_timeout=cfg.idle_timeout)
                    except Exception:
                        log.exception("deactivating %s failed; will retry next scan", key)

    async def deactivate(self, key: ActorKey, *, idle_timeout: float = 0.0) -> None:
        """DELETE the actor on the app inside its turn, unless it was used meanwhile."""
        if self._ctx is None:
            return
        async with self._locks.turn(key):
            last = self._active.get(key)
            if last is None or time.monotonic() - last < idle_timeout:
                return
            resp = await self._ctx.app.call("DELETE", _path(*key))
            # The SDK answers 500 for an actor it does not hold (e.g. the app restarted):
            # either way it is no longer active there.
            if resp.status >= 300:
                log.debug("deactivating %s: app answered %d", key, resp.status)
            self._active.pop(key, None)
            self.timers.delete_actor(*key)
            log.debug("deactivated idle actor %s/%s", *key)
