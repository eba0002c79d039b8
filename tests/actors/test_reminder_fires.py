"""Reminder fires as daprd delivers them: twice (dapr/dapr#3921), replayed back to back after
downtime, or up to a second early. One cycle per period; a skipped fire writes nothing; a
workflow timeout is taken on the fire that is due even when it comes early."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import yaml

from actors import HostConfig, ResidentObject
from policies import TrustStore, sign_policy
from tests.actors.fakes import InMemorySidecar, object_on
from tests.actors.test_failed_turns import COUNTER, KEY, token
from tests.support import ROOT


class FakeClock:
    def __init__(self) -> None:
        self.moment = datetime.now(UTC)

    def now(self) -> datetime:
        return self.moment


async def fire(actor: ResidentObject) -> None:
    await actor.receive_reminder("evaluate", b"", timedelta(0), timedelta(0))
    await actor._on_post_actor_method_internal(None)  # type: ignore[arg-type]


def new_object(object_id: str, sidecar: InMemorySidecar, clock: FakeClock) -> ResidentObject:
    host = HostConfig(trust=TrustStore.from_jwks({"keys": [KEY.public_jwk]}), clock=clock)
    return object_on(sidecar, host, object_id)


async def test_fires_replayed_back_to_back_run_one_cycle_and_write_nothing() -> None:
    sidecar, clock = InMemorySidecar(), FakeClock()
    actor = new_object("counter-1", sidecar, clock)
    policy = {**COUNTER, "evaluation": {"every": "10s", "on_change": False}}
    await actor.install_policy({"policy": sign_policy(policy, KEY), "token": token()})
    assert sidecar.reminders["evaluate"]["period"].startswith("0h0m10s")

    await fire(actor)
    stored = dict(sidecar.state)
    for _ in range(5):  # the scheduler's catch-up after downtime: missed ticks, back to back
        clock.moment += timedelta(milliseconds=100)
        await fire(actor)
    assert sidecar.state == stored
    clock.moment += timedelta(seconds=9)
    await fire(actor)

    meta = json.loads(sidecar.state["ResidentObject||counter-1||meta"])
    assert meta["cycles"] == 2


async def test_a_workflow_timeout_is_taken_on_its_fire_even_a_second_early() -> None:
    sidecar, clock = InMemorySidecar(), FakeClock()
    actor = new_object("order-early", sidecar, clock)
    document = yaml.safe_load((ROOT / "policies" / "examples" / "order.yaml").read_text())
    document["workflow"]["states"]["awaiting_payment"]["transitions"][1]["after"] = "5s"
    document = {**document, "iss": KEY.issuer, "permissions": {"read": "true", "amend": "true"}}
    await actor.install_policy({"policy": sign_policy(document, KEY), "token": token()})
    assert sidecar.reminders["evaluate"]["dueTime"].startswith("0h0m5s")

    clock.moment += timedelta(seconds=4.2)  # the due fire, delivered 0.8 s early
    await fire(actor)

    meta = json.loads(sidecar.state["ResidentObject||order-early||meta"])
    assert meta["workflow"]["state"] == "cancelled"
