"""A failed turn leaves state and lineage exactly as they were, even in the SDK's cache.

The Dapr SDK clears an actor's state cache only on DaprInternalError, and marks staged values
clean before the save is attempted; after any other failure the next successful turn would
build on (and save) values that never committed. The object must discard them itself.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from actors import HostConfig, ResidentObject
from policies import TrustStore, generate_key, sign_policy, sign_token, verify_lineage
from tests.actors.fakes import InMemorySidecar, object_on

KEY = generate_key(kid="issuer-key", issuer="https://issuer.example")
COUNTER = {
    "iss": "https://issuer.example",
    "id": "counter",
    "version": 1,
    "objects": ["counter-*"],
    "data": {"count": 0},
    "evaluation": {"every": "1h", "on_change": False},
    "capabilities": {"write": ["count"]},
    "permissions": {"read": "true", "amend": "true"},
    "commands": {"increment": {"do": [{"set": {"count": "data.count + 1"}}]}},
}


def token() -> str:
    now = int(time.time())
    return sign_token(
        {"iss": "https://issuer.example", "sub": "ops", "iat": now, "exp": now + 600}, KEY
    )


def new_actor(sidecar: InMemorySidecar) -> ResidentObject:
    """A fresh activation over the same store, as the SDK builds one."""
    host = HostConfig(trust=TrustStore.from_jwks({"keys": [KEY.public_jwk]}))
    return object_on(sidecar, host, "counter-1")


async def increment(actor: ResidentObject) -> dict[str, Any]:
    request = {"name": "increment", "params": {}, "token": token()}
    result = await actor.command(request)
    await actor._on_post_actor_method_internal(None)  # type: ignore[arg-type]  # SDK's save
    return result


def stored(sidecar: InMemorySidecar, key: str) -> Any:
    return json.loads(sidecar.state[f"ResidentObject||counter-1||{key}"])


@pytest.mark.parametrize("failure", [RuntimeError("disk on fire"), ConnectionResetError()])
async def test_a_failed_save_is_not_carried_into_the_next_turn(failure: BaseException) -> None:
    sidecar = InMemorySidecar()
    actor = new_actor(sidecar)
    policy = {"policy": sign_policy(COUNTER, KEY), "token": token()}
    assert "error" not in await actor.install_policy(policy)
    assert (await increment(actor))["seq"] == 3

    sidecar.fail_next_save = failure
    with pytest.raises(type(failure)):
        await increment(actor)
    assert stored(sidecar, "data") == {"count": 1}

    assert (await increment(actor))["seq"] == 4
    assert stored(sidecar, "data") == {"count": 2}
    meta = stored(sidecar, "meta")
    entries = [stored(sidecar, f"lineage-{seq:010d}") for seq in range(1, meta["seq"] + 1)]
    verify_lineage(entries, data={"count": 2})


async def test_a_refused_command_writes_nothing() -> None:
    sidecar = InMemorySidecar()
    actor = new_actor(sidecar)
    await actor.install_policy({"policy": sign_policy(COUNTER, KEY), "token": token()})
    before = dict(sidecar.state)

    refused = await actor.command({"name": "increment", "params": {"x": 1}, "token": token()})
    await actor._on_post_actor_method_internal(None)  # type: ignore[arg-type]

    assert refused["error"]["code"] == "invalid_params"
    assert sidecar.state == before


async def test_overlapping_turns_on_one_object_are_serialized_in_the_app() -> None:
    """As when a sidecar restarts mid-turn and starts the next one: the SDK itself would
    interleave them, and both would build on the same state (a lost update)."""
    sidecar = InMemorySidecar()
    actor = new_actor(sidecar)
    await actor.install_policy({"policy": sign_policy(COUNTER, KEY), "token": token()})

    results = await asyncio.gather(*(increment(actor) for _ in range(5)))

    assert sorted(r["seq"] for r in results) == [3, 4, 5, 6, 7]
    assert stored(sidecar, "data") == {"count": 5}


async def test_a_failing_turn_cannot_erase_an_overlapping_one() -> None:
    sidecar = InMemorySidecar()
    actor = new_actor(sidecar)
    await actor.install_policy({"policy": sign_policy(COUNTER, KEY), "token": token()})
    sidecar.fail_next_save, sidecar.failure_delay = RuntimeError("sidecar gone"), 0.05

    first, second = await asyncio.gather(increment(actor), increment(actor), return_exceptions=True)

    assert isinstance(first, RuntimeError)
    assert isinstance(second, dict)
    assert second["seq"] == 3
    assert stored(sidecar, "data") == {"count": 1}


async def test_an_always_busy_object_does_not_keep_its_history_in_memory() -> None:
    sidecar = InMemorySidecar()
    actor = new_actor(sidecar)
    await actor.install_policy({"policy": sign_policy(COUNTER, KEY), "token": token()})
    for _ in range(100):
        await increment(actor)

    page = await actor.lineage({"token": token(), "after": 0, "limit": 1000})

    cached = actor._state_manager._default_state_change_tracker
    assert sorted(cached) == ["data", "meta", "outbox", "policy"]
    assert [e["seq"] for e in page["entries"]] == list(range(1, 103))
    verify_lineage(page["entries"], data={"count": 100})
