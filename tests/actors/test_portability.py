"""Export/Import in-process: the moved copy stops, the receiver resumes, nothing on refusal."""

from __future__ import annotations

import json
from typing import Any

from actors import HostConfig, ResidentObject
from policies import TrustStore, generate_key, sign_policy, verify_lineage
from tests.actors.fakes import InMemorySidecar, object_on
from tests.actors.test_failed_turns import COUNTER, KEY, increment, token

PORTABLE = {**COUNTER, "permissions": {"read": "true", "amend": "true", "export": "true"}}


def host_actor(sidecar: InMemorySidecar, name: str) -> ResidentObject:
    host = HostConfig(
        trust=TrustStore.from_jwks({"keys": [KEY.public_jwk]}),
        host_id=name,
        host_key=generate_key(),
    )
    return object_on(sidecar, host, "counter-1")


def meta(sidecar: InMemorySidecar) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(sidecar.state["ResidentObject||counter-1||meta"])
    return loaded


async def test_move_there_and_back_is_one_chain() -> None:
    side_a, side_b = InMemorySidecar(), InMemorySidecar()
    a, b = host_actor(side_a, "host-a"), host_actor(side_b, "host-b")
    await a.install_policy({"policy": sign_policy(PORTABLE, KEY), "token": token()})
    await increment(a)

    bundle = await a.export({"token": token(), "move": True, "destination": "https://b"})
    assert bundle["lineage"][-1]["kind"] == "export"
    assert (meta(side_a)["status"], meta(side_a)["moved_to"]) == ("moved", "https://b")
    assert "evaluate" not in side_a.reminders
    assert (await increment(a))["error"]["code"] == "moved"

    created = await b.import_object({"bundle": bundle, "token": token()})
    assert created["created"] is True
    assert "evaluate" in side_b.reminders
    assert (await increment(b))["seq"] == len(bundle["lineage"]) + 2

    back = await b.export({"token": token(), "move": True})
    returned = await a.import_object({"bundle": back, "token": token()})
    assert (returned["created"], returned["object"]["status"]) == (False, "active")
    assert returned["object"]["data"] == {"count": 2}
    entries = await a.lineage({"token": token(), "limit": 1000})
    verify_lineage(entries["entries"], data={"count": 2})
    assert "evaluate" in side_a.reminders


async def test_a_refused_import_writes_nothing() -> None:
    side_a, side_b = InMemorySidecar(), InMemorySidecar()
    a, b = host_actor(side_a, "host-a"), host_actor(side_b, "host-b")
    await a.install_policy({"policy": sign_policy(PORTABLE, KEY), "token": token()})
    bundle = await a.export({"token": token()})
    assert meta(side_a)["status"] == "active"

    tampered = {**bundle, "data": {"count": 5}}
    refused = await b.import_object({"bundle": tampered, "token": token()})
    assert refused["error"]["code"] == "data_mismatch"
    assert (side_b.state, side_b.reminders, side_b.kv) == ({}, {}, {})


ALERTING = {
    **PORTABLE,
    "capabilities": {"write": ["count"], "publish": ["alerts"]},
    "commands": {
        "increment": {
            "do": [
                {"set": {"count": "data.count + 1"}},
                {"publish": {"topic": "alerts", "data": "{'count': data.count + 1}"}},
            ]
        }
    },
}


async def test_a_move_delivers_pending_effects_first_or_is_refused() -> None:
    sidecar = InMemorySidecar()
    actor = host_actor(sidecar, "host-a")
    await actor.install_policy({"policy": sign_policy(ALERTING, KEY), "token": token()})
    sidecar.refuse_publishes = 2
    await increment(actor)  # its alert stays in the outbox

    refused = await actor.export({"token": token(), "move": True})
    assert refused["error"]["code"] == "effects_pending"
    assert meta(sidecar)["status"] == "active"

    moved = await actor.export({"token": token(), "move": True})
    assert moved["lineage"][-1]["kind"] == "export"
    assert [p["event"]["data"] for p in sidecar.published] == [{"count": 1}]
    assert json.loads(sidecar.state["ResidentObject||counter-1||outbox"]) == []
