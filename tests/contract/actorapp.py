"""A small real Dapr actor app for the contract tests: `uvicorn tests.contract.actorapp:app`.

It uses only the Dapr SDK (dapr.ext.fastapi.DaprActor) and records what the sidecar did to it
(firings, activations, deactivations, overlapping turns) in process memory, served at
`GET /test/stats`, so tests can observe the sidecar from the app's side.

Settings come from the environment: DAPR_HTTP_PORT (the sidecar), ACTOR_IDLE_TIMEOUT_S and
ACTOR_SCAN_INTERVAL_S (idle deactivation; defaults keep actors alive for the whole run).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from dapr.actor import Actor, ActorInterface, ActorProxy, Remindable, actormethod
from dapr.actor.runtime.config import (
    ActorReentrancyConfig,
    ActorRuntimeConfig,
    ActorTypeConfig,
)
from dapr.actor.runtime.runtime import ActorRuntime
from dapr.ext.fastapi import DaprActor
from fastapi import FastAPI

FIRES: dict[str, list[float]] = defaultdict(list)  # "id/name" -> app-side receive times
TIMER_FIRES: dict[str, list[float]] = defaultdict(list)
ACTIVATIONS: dict[str, int] = defaultdict(int)
DEACTIVATIONS: dict[str, int] = defaultdict(int)
IN_TURN: dict[str, int] = defaultdict(int)
MAX_IN_TURN: dict[str, int] = defaultdict(int)
GLOBAL = {"in_flight": 0, "max_in_flight": 0}
FAIL_REMINDERS = {"count": 0}  # the next N reminder firings answer 500


class CounterInterface(ActorInterface):
    @actormethod(name="Increment")
    async def increment(self) -> int: ...

    @actormethod(name="Get")
    async def get(self) -> int: ...

    @actormethod(name="SetValue")
    async def set_value(self, value: Any) -> None: ...

    @actormethod(name="GetValue")
    async def get_value(self) -> Any: ...

    @actormethod(name="Fail")
    async def fail(self) -> None: ...

    @actormethod(name="Noop")
    async def noop(self) -> None: ...

    @actormethod(name="AddReminder")
    async def add_reminder(self, spec: dict[str, Any]) -> None: ...

    @actormethod(name="RemoveReminder")
    async def remove_reminder(self, name: str) -> None: ...

    @actormethod(name="AddTimer")
    async def add_timer(self, spec: dict[str, Any]) -> None: ...


class Counter(Actor, CounterInterface, Remindable):
    """State, overlapping-turn detection, reminders and timers in one actor type."""

    async def _on_activate(self) -> None:
        ACTIVATIONS[self.id.id] += 1

    async def _on_deactivate(self) -> None:
        DEACTIVATIONS[self.id.id] += 1

    async def increment(self) -> int:
        me = self.id.id
        IN_TURN[me] += 1
        GLOBAL["in_flight"] += 1
        MAX_IN_TURN[me] = max(MAX_IN_TURN[me], IN_TURN[me])
        GLOBAL["max_in_flight"] = max(GLOBAL["max_in_flight"], GLOBAL["in_flight"])
        try:
            _, count = await self._state_manager.try_get_state("count")
            await asyncio.sleep(0.002)  # widen the read-modify-write window a race would hit
            value = int(count or 0) + 1
            await self._state_manager.set_state("count", value)
            await self._state_manager.save_state()
            return value
        finally:
            IN_TURN[me] -= 1
            GLOBAL["in_flight"] -= 1

    async def get(self) -> int:
        _, count = await self._state_manager.try_get_state("count")
        return int(count or 0)

    async def set_value(self, value: Any) -> None:
        await self._state_manager.set_state("value", value)
        await self._state_manager.save_state()

    async def get_value(self) -> Any:
        _, value = await self._state_manager.try_get_state("value")
        return value

    async def fail(self) -> None:
        raise RuntimeError("deliberate failure")

    async def noop(self) -> None:
        return None

    async def add_reminder(self, spec: dict[str, Any]) -> None:
        await self.register_reminder(
            spec["name"],
            spec.get("data", "").encode(),
            timedelta(seconds=spec.get("due", 0.0)),
            timedelta(seconds=spec["period"]) if spec.get("period") else None,
            timedelta(seconds=spec["ttl"]) if spec.get("ttl") else None,
        )

    async def remove_reminder(self, name: str) -> None:
        await self.unregister_reminder(name)

    async def add_timer(self, spec: dict[str, Any]) -> None:
        await self.register_timer(
            spec["name"],
            self.on_timer,
            spec["name"],
            timedelta(seconds=spec.get("due", 0.0)),
            timedelta(seconds=spec.get("period", 0.0)),
        )

    async def on_timer(self, name: str) -> None:
        TIMER_FIRES[f"{self.id.id}/{name}"].append(time.time())

    async def receive_reminder(
        self,
        name: str,
        state: bytes,
        due_time: timedelta,
        period: timedelta,
        ttl: timedelta | None = None,
    ) -> None:
        if FAIL_REMINDERS["count"] > 0:
            FAIL_REMINDERS["count"] -= 1
            raise RuntimeError("reminder failure requested by the test")
        FIRES[f"{self.id.id}/{name}"].append(time.time())


class PingInterface(ActorInterface):
    @actormethod(name="CallSelf")
    async def call_self(self) -> str: ...

    @actormethod(name="Pong")
    async def pong(self) -> str: ...


class Ping(Actor, PingInterface):
    """Reentrancy: CallSelf calls Pong on the same id through the sidecar."""

    async def call_self(self) -> str:
        proxy = ActorProxy.create("Ping", self.id, PingInterface)
        return str(await proxy.Pong()) + "!"

    async def pong(self) -> str:
        return "pong"


def _seconds(name: str, default: float) -> timedelta:
    return timedelta(seconds=float(os.environ.get(name, default)))


@contextlib.asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    ActorRuntime.set_actor_config(
        ActorRuntimeConfig(
            actor_idle_timeout=_seconds("ACTOR_IDLE_TIMEOUT_S", 3600),
            actor_scan_interval=_seconds("ACTOR_SCAN_INTERVAL_S", 30),
            actor_type_configs=[
                ActorTypeConfig("Ping", reentrancy=ActorReentrancyConfig(enabled=True))
            ],
        )
    )
    await actor.register_actor(Counter)
    await actor.register_actor(Ping)
    yield


app = FastAPI(lifespan=lifespan)
actor = DaprActor(app)


@app.get("/test/stats")
async def stats() -> dict[str, Any]:
    return {
        "fires": FIRES,
        "timer_fires": TIMER_FIRES,
        "activations": ACTIVATIONS,
        "deactivations": DEACTIVATIONS,
        "max_in_turn": MAX_IN_TURN,
        "max_in_flight": GLOBAL["max_in_flight"],
    }


@app.post("/test/fail-reminders/{count}")
async def fail_reminders(count: int) -> dict[str, int]:
    FAIL_REMINDERS["count"] = count
    return FAIL_REMINDERS
