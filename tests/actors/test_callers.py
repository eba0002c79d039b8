"""An object hears only the issuers its policy names: a token from any other trusted issuer is
refused by every method that authenticates a caller, even where the permission CEL admits it."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from actors import HostConfig, ResidentObject
from policies import SigningKey, TrustStore, generate_key, sign_policy, sign_token
from tests.actors.fakes import InMemorySidecar, object_on
from tests.actors.test_failed_turns import COUNTER, KEY

OTHER = generate_key(kid="other-key", issuer="https://other.example")
OPEN = {"read": "true", "amend": "true", "export": "true", "evaluate": "true"}
POLICY = {**COUNTER, "permissions": OPEN}


def token(key: SigningKey = KEY) -> str:
    now = int(time.time())
    return sign_token({"iss": key.issuer, "sub": "ops", "iat": now, "exp": now + 600}, key)


def actor(sidecar: InMemorySidecar, name: str = "host-a") -> ResidentObject:
    host = HostConfig(
        trust=TrustStore.from_jwks({"keys": [KEY.public_jwk, OTHER.public_jwk]}),
        host_id=name,
        host_key=generate_key(),
    )
    return object_on(sidecar, host, "counter-1")


def successor(**changes: Any) -> str:
    return sign_policy({**POLICY, "version": 2, **changes}, KEY)


Call = Callable[[ResidentObject, str], Awaitable[dict[str, Any]]]
CALLS: dict[str, Call] = {
    "amend": lambda a, t: a.install_policy({"policy": successor(), "token": t}),
    "amend to a policy naming the caller": lambda a, t: a.install_policy(
        {"policy": successor(callers=[KEY.issuer, OTHER.issuer]), "token": t}
    ),
    "command": lambda a, t: a.command({"name": "increment", "params": {}, "token": t}),
    "snapshot": lambda a, t: a.snapshot({"token": t}),
    "lineage": lambda a, t: a.lineage({"token": t}),
    "evaluate": lambda a, t: a.evaluate({"token": t}),
    "export": lambda a, t: a.export({"token": t}),
}


async def installed(
    sidecar: InMemorySidecar, document: dict[str, Any] = POLICY, *, by: SigningKey = KEY
) -> None:
    a = actor(sidecar)
    created = await a.install_policy({"policy": sign_policy(document, KEY), "token": token(by)})
    assert created["created"] is True, created
    await a._on_post_actor_method_internal(None)  # type: ignore[arg-type]  # SDK's save


@pytest.mark.parametrize("call", sorted(CALLS))
async def test_a_token_from_an_issuer_the_policy_does_not_name_is_refused(call: str) -> None:
    sidecar = InMemorySidecar()
    await installed(sidecar)
    before = dict(sidecar.state)

    refused = await CALLS[call](actor(sidecar), token(OTHER))

    assert refused["error"]["code"] == "forbidden", refused
    assert "accepts callers only from 'https://issuer.example'" in refused["error"]["message"]
    assert sidecar.state == before
    assert "error" not in await CALLS[call](actor(sidecar), token())  # its own issuer: admitted


async def test_creating_needs_a_caller_the_new_policy_names() -> None:
    sidecar = InMemorySidecar()
    refused = await actor(sidecar).install_policy(
        {"policy": sign_policy(POLICY, KEY), "token": token(OTHER)}
    )
    assert refused["error"]["code"] == "forbidden"
    assert sidecar.state == {}
    await installed(sidecar, {**POLICY, "callers": [OTHER.issuer]}, by=OTHER)
    a = actor(sidecar)
    assert (await a.snapshot({"token": token(OTHER)}))["data"] == {"count": 0}
    assert (await a.snapshot({"token": token()}))["error"]["code"] == "forbidden"


async def test_importing_needs_a_caller_the_bundled_policy_names() -> None:
    side_a, side_b = InMemorySidecar(), InMemorySidecar()
    await installed(side_a)
    bundle = await actor(side_a).export({"token": token()})
    b = actor(side_b, "host-b")

    refused = await b.import_object({"bundle": bundle, "token": token(OTHER)})

    assert refused["error"]["code"] == "forbidden", refused
    assert (side_b.state, side_b.reminders) == ({}, {})
    assert (await b.import_object({"bundle": bundle, "token": token()}))["created"] is True
