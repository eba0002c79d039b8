"""Baseline for bench_service: the thermostat as a hand-written Dapr actor, no policy.

Same transport (pooled sidecar client), same state layout (`data` + `meta` per cycle, each
value stored by `StateJSONSerializer` as ResidentObject's are), same app plumbing (the
sidecar's actor calls and reminder fires take `app.actor_fastpath.ActorFastPath`, as in
`app.main`), same reminder period: the difference to ResidentObject is the cost of carrying a
signed policy (verification, CEL, admission, lineage).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from dapr.actor import Actor, ActorInterface, Remindable, actormethod
from dapr.actor.runtime.runtime import ActorRuntime
from dapr.ext.fastapi import DaprActor
from fastapi import FastAPI

from actors import PlainJSONSerializer, SidecarClient
from actors._serializer import StateJSONSerializer
from app.actor_fastpath import ActorFastPath

SIDECAR = SidecarClient()


class PlainThermostatInterface(ActorInterface):
    @actormethod(name="Start")
    async def start(self, request: dict[str, Any]) -> dict[str, Any]: ...


class PlainThermostat(Actor, PlainThermostatInterface, Remindable):
    async def start(self, request: dict[str, Any]) -> dict[str, Any]:
        await self._state_manager.set_state(
            "data", {"temperature": 20, "threshold": 30, "status": "ok"}
        )
        await self._state_manager.set_state("meta", {"cycles": 0})
        period = timedelta(seconds=float(request.get("every", 1)))
        await self.register_reminder("evaluate", b"", due_time=period, period=period)
        return {"ok": True}

    async def receive_reminder(
        self, name: str, state: bytes, due_time: timedelta, period: timedelta, ttl: Any = None
    ) -> None:
        data = dict(await self._state_manager.get_state("data"))
        meta = dict(await self._state_manager.get_state("meta"))
        meta["cycles"] += 1
        meta["last"] = datetime.now(UTC).isoformat()
        if data["temperature"] > data["threshold"] and data["status"] != "alarm":
            data["status"] = "alarm"
            event = {"object": self.id.id, "temperature": data["temperature"]}
            await SIDECAR.publish(
                "pubsub",
                "alerts",
                {
                    "specversion": "1.0",
                    "id": meta["last"],
                    "source": "plain",
                    "type": "alert",
                    "data": event,
                },
            )
            await self._state_manager.set_state("data", data)
        elif data["temperature"] <= data["threshold"] and data["status"] == "alarm":
            data["status"] = "ok"
            await self._state_manager.set_state("data", data)
        await self._state_manager.set_state("meta", meta)


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    await ActorRuntime.register_actor(
        PlainThermostat,
        message_serializer=PlainJSONSerializer(),
        state_serializer=StateJSONSerializer(),
        actor_client=SIDECAR,
    )
    yield


app = FastAPI(lifespan=lifespan)
DaprActor(app)
app.add_middleware(ActorFastPath, actor_types=frozenset({"PlainThermostat"}))
