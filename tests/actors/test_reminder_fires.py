"""A reminder Dapr delivers twice (dapr/dapr#3921) runs one cycle, and the skip is counted."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from dapr.actor import ActorId
from dapr.actor.runtime._type_information import ActorTypeInformation
from dapr.actor.runtime.context import ActorRuntimeContext

from actors import HostConfig, PlainJSONSerializer, ResidentObject
from policies import TrustStore, sign_policy
from tests.actors.fakes import InMemorySidecar
from tests.actors.test_failed_turns import COUNTER, KEY, token


class FakeClock:
    def __init__(self) -> None:
        self.moment = datetime.now(UTC)

    def now(self) -> datetime:
        return self.moment


async def fire(actor: ResidentObject) -> None:
    await actor.receive_reminder("evaluate", b"", timedelta(0), timedelta(0))
    await actor._on_post_actor_method_internal(None)  # type: ignore[arg-type]


async def test_a_duplicate_fire_within_half_a_period_is_skipped() -> None:
    sidecar, clock = InMemorySidecar(), FakeClock()
    host = HostConfig(trust=TrustStore.from_jwks({"keys": [KEY.public_jwk]}), clock=clock)
    ctx = ActorRuntimeContext(
        ActorTypeInformation.create(ResidentObject),
        PlainJSONSerializer(),
        PlainJSONSerializer(),
        sidecar,
    )
    actor = ResidentObject(ctx, ActorId("counter-1"), host=host, sidecar=sidecar)
    policy = {**COUNTER, "evaluation": {"every": "10s", "on_change": False}}
    await actor.install_policy({"policy": sign_policy(policy, KEY), "token": token()})
    assert sidecar.reminders["evaluate"]["period"].startswith("0h0m10s")

    await fire(actor)
    clock.moment += timedelta(seconds=1)
    await fire(actor)
    clock.moment += timedelta(seconds=9)
    await fire(actor)

    meta = json.loads(sidecar.state["ResidentObject||counter-1||meta"])
    assert (meta["cycles"], meta["skipped_fires"]) == (2, 1)
