"""Effects are never lost: committed with the change, delivered after, retried on later turns."""

from __future__ import annotations

import json
import time
from typing import Any

from actors import HostConfig, ResidentObject
from policies import TrustStore, generate_key, sign_policy, sign_token
from tests.actors.fakes import InMemorySidecar, object_on

KEY = generate_key(kid="k", issuer="https://issuer.example")
ALERTING: dict[str, Any] = {
    "id": "alerting",
    "version": 1,
    "objects": ["alarm-*"],
    "data": {"level": 0},
    "evaluation": {"every": "1h", "on_change": False},
    "capabilities": {"write": ["level"], "publish": ["alerts"]},
    "permissions": {"read": "true", "amend": "true"},
    "commands": {
        "raise": {
            "params": {"level": "integer"},
            "do": [
                {"set": {"level": "params.level"}},
                {"publish": {"topic": "alerts", "data": "{'level': params.level}"}},
            ],
        }
    },
}


def caller_token() -> str:
    now = int(time.time())
    claims = {"iss": "https://issuer.example", "sub": "ops", "iat": now, "exp": now + 600}
    return sign_token(claims, KEY)


def make_actor(sidecar: InMemorySidecar) -> ResidentObject:
    host = HostConfig(trust=TrustStore.from_jwks({"keys": [KEY.public_jwk]}))
    return object_on(sidecar, host, "alarm-1")


async def turn(actor: ResidentObject, level: int) -> dict[str, Any]:
    request = {"name": "raise", "params": {"level": level}, "token": caller_token()}
    result = await actor.command(request)
    await actor._on_post_actor_method_internal(None)  # type: ignore[arg-type]
    return result


def outbox(sidecar: InMemorySidecar) -> list[dict[str, Any]]:
    raw = sidecar.state.get("ResidentObject||alarm-1||outbox")
    return json.loads(raw) if raw else []


async def test_an_undelivered_effect_is_kept_and_retried_with_its_id() -> None:
    sidecar = InMemorySidecar()
    actor = make_actor(sidecar)
    await actor.install_policy({"policy": sign_policy(ALERTING, KEY), "token": caller_token()})

    sidecar.refuse_publishes = 1
    first = await turn(actor, 1)

    assert first["applied"] is True
    assert sidecar.published == []
    pending = outbox(sidecar)
    assert [(p["topic"], p["data"], p["attempts"]) for p in pending] == [
        ("alerts", {"level": 1}, 1)
    ]

    await turn(actor, 2)

    events = [p["event"] for p in sidecar.published]
    assert [e["data"] for e in events] == [{"level": 1}, {"level": 2}]
    assert events[0]["id"] == pending[0]["id"]
    assert outbox(sidecar) == []
