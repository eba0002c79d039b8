"""A command delivered twice (daprd retries actor calls across rebalances) is applied once.

The HTTP API gives every command a fresh `request_id`; the object records the outcome in the
same transaction and answers a second delivery with it, even from a new activation.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from actors import HostConfig, ResidentObject
from policies import TrustStore, sign_policy, sign_token
from tests.actors.fakes import InMemorySidecar, object_on
from tests.actors.test_failed_turns import COUNTER, KEY, stored


def token(sub: str = "ops") -> str:
    now = int(time.time())
    claims = {"iss": "https://issuer.example", "sub": sub, "iat": now, "exp": now + 600}
    return sign_token(claims, KEY)


def activation(sidecar: InMemorySidecar) -> ResidentObject:
    host = HostConfig(trust=TrustStore.from_jwks({"keys": [KEY.public_jwk]}))
    return object_on(sidecar, host, "counter-1")


async def command(actor: ResidentObject, request_id: object, **extra: Any) -> dict[str, Any]:
    request = {"name": "increment", "params": {}, "token": token(), "request_id": request_id}
    result = await actor.command({**request, **extra})
    await actor._on_post_actor_method_internal(None)  # type: ignore[arg-type]  # SDK's save
    return result


async def installed() -> tuple[InMemorySidecar, ResidentObject]:
    sidecar = InMemorySidecar()
    actor = activation(sidecar)
    assert "error" not in await actor.install_policy(
        {"policy": sign_policy(COUNTER, KEY), "token": token()}
    )
    return sidecar, actor


async def test_a_second_delivery_returns_the_first_outcome_and_applies_nothing() -> None:
    sidecar, actor = await installed()
    first = await command(actor, "r-1")
    again = await command(activation(sidecar), "r-1")  # e.g. retried on another replica
    assert again["seq"] == first["seq"] == 3
    assert again["replayed"] is True
    assert stored(sidecar, "data") == {"count": 1}
    assert stored(sidecar, "meta")["seq"] == 3
    assert (await command(actor, "r-2"))["seq"] == 4
    assert stored(sidecar, "data") == {"count": 2}


async def test_an_id_is_per_caller_and_bound_to_its_request() -> None:
    sidecar, actor = await installed()
    await command(actor, "r-1")
    other = await command(actor, "r-1", token=token("someone-else"))
    assert "replayed" not in other  # another caller's id space: applied
    assert stored(sidecar, "data") == {"count": 2}
    reused = await command(actor, "r-1", params={"unexpected": 1})
    assert reused["error"]["code"] in {"conflict", "invalid_params"}
    assert stored(sidecar, "data") == {"count": 2}


@pytest.mark.parametrize("bad", [5, "", "x" * 129])
async def test_a_malformed_request_id_is_refused(bad: object) -> None:
    sidecar, actor = await installed()
    refused = await command(actor, bad)
    assert refused["error"]["code"] == "invalid_request"
    assert stored(sidecar, "data") == {"count": 0}
