"""Input limits inside the actor, where a call through the sidecar arrives without passing the
app: deep bodies, deep params and data growth are refused with an envelope, never a crash."""

from __future__ import annotations

import json
from typing import Any

from actors import HostConfig, PlainJSONSerializer, ResidentObject
from actors._serializer import TooDeepBody
from policies import InputLimits, TrustStore, sign_policy, verify_lineage
from tests.actors.fakes import InMemorySidecar, object_on
from tests.actors.test_failed_turns import KEY, token

GROWER = {
    "iss": "https://issuer.example",
    "id": "grower",
    "version": 1,
    "objects": ["counter-*"],
    "data": {"s": ""},
    "evaluation": {"every": "1h"},
    "capabilities": {"write": ["s"]},
    "permissions": {"read": "true", "amend": "true", "evaluate": "true"},
    "commands": {"grow": {"do": [{"set": {"s": "data.s + '" + "0123456789" * 5 + "'"}}]}},
}
CYCLING = {
    **GROWER,
    "commands": {},
    "rules": [
        {"name": "grow", "when": "true", "do": [{"set": {"s": "data.s + '" + "x" * 50 + "'"}}]}
    ],
}


def actor(sidecar: InMemorySidecar, inputs: InputLimits) -> ResidentObject:
    host = HostConfig(trust=TrustStore.from_jwks({"keys": [KEY.public_jwk]}), inputs=inputs)
    return object_on(sidecar, host, "counter-1")


async def call(obj: ResidentObject, method: str, request: Any) -> dict[str, Any]:
    result: dict[str, Any] = await getattr(obj, method)(request)
    await obj._on_post_actor_method_internal(None)  # type: ignore[arg-type]  # SDK's save
    return result


def state(sidecar: InMemorySidecar) -> dict[str, Any]:
    return {k: v for k, v in sidecar.state.items() if k.startswith("ResidentObject||counter-1")}


def test_a_body_too_deep_for_json_decodes_to_a_marker() -> None:
    serializer = PlainJSONSerializer()
    assert isinstance(serializer.deserialize(b"[" * 5000 + b"]" * 5000), TooDeepBody)
    assert serializer.deserialize(b'{"a": [1]}') == {"a": [1]}


async def test_the_marker_and_deep_params_are_refused_with_an_envelope() -> None:
    sidecar = InMemorySidecar()
    obj = actor(sidecar, InputLimits(max_json_depth=4))
    install = {"policy": sign_policy(GROWER, KEY), "token": token()}
    assert "error" not in await call(obj, "install_policy", install)
    before = dict(state(sidecar))
    refused = await call(obj, "command", TooDeepBody())
    assert refused["error"]["code"] == "too_deep"
    params: Any = {"a": {"b": {"c": {"d": {}}}}}  # 5 levels
    deep = await call(obj, "command", {"name": "grow", "params": params, "token": token()})
    assert deep["error"]["code"] == "too_deep"
    params["a"]["b"]["c"]["d"] = 1
    shallow = await call(obj, "command", {"name": "grow", "params": params, "token": token()})
    assert shallow["error"]["code"] == "invalid_params"  # past the depth check
    assert state(sidecar) == before


async def test_a_command_growing_data_past_the_limit_changes_nothing() -> None:
    sidecar = InMemorySidecar()
    obj = actor(sidecar, InputLimits(max_data_bytes=200))
    await call(obj, "install_policy", {"policy": sign_policy(GROWER, KEY), "token": token()})
    request = {"name": "grow", "params": {}, "token": token()}
    assert [(await call(obj, "command", request))["seq"] for _ in range(3)] == [3, 4, 5]
    before = dict(state(sidecar))
    refused = await call(obj, "command", request)
    assert refused["error"]["code"] == "data_too_large"
    assert "RESIDENT_MAX_DATA_BYTES" in refused["error"]["message"]
    assert state(sidecar) == before


async def test_a_cycle_past_the_limit_is_denied_recorded_and_the_object_runs_on() -> None:
    sidecar = InMemorySidecar()
    obj = actor(sidecar, InputLimits(max_data_bytes=200))
    await call(obj, "install_policy", {"policy": sign_policy(CYCLING, KEY), "token": token()})
    cycles = [await call(obj, "evaluate", {"token": token()}) for _ in range(5)]
    assert [bool(c["changes"]) for c in cycles] == [True, True, True, False, False]
    assert cycles[3]["denied"][0]["rule"] == "grow"
    assert cycles[3]["denied"][0]["reason"].startswith("data_too_large: ")
    snapshot = await call(obj, "snapshot", {"token": token()})
    assert len(snapshot["data"]["s"]) == 150
    assert snapshot["cycles"] == 5
    page = await call(obj, "lineage", {"token": token(), "limit": 100})
    assert [e["kind"] for e in page["entries"]][-2:] == ["cycle", "cycle"]
    assert page["entries"][-1]["denied"]
    assert not page["entries"][-1]["changes"]
    verify_lineage(page["entries"], data=snapshot["data"])
    assert json.dumps(snapshot["data"])
