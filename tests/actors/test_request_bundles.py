"""Idempotency records travel in export bundles, and are checked as hostile input on import."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from actors import HostConfig, ResidentObject
from policies import SigningKey, TrustStore, build_bundle, generate_key, sign_policy
from tests.actors.fakes import InMemorySidecar, object_on
from tests.actors.test_failed_turns import KEY, token
from tests.actors.test_portability import PORTABLE

HOST_KEY = generate_key(kid="host-a-key")


def host_actor(
    sidecar: InMemorySidecar, name: str, *, key: SigningKey | None = None, **host: Any
) -> ResidentObject:
    config = HostConfig(
        trust=TrustStore.from_jwks({"keys": [KEY.public_jwk]}),
        host_id=name,
        host_key=key or generate_key(),
        **host,
    )
    return object_on(sidecar, config, "counter-1")


async def saved(actor: ResidentObject, result: Any) -> dict[str, Any]:
    await actor._on_post_actor_method_internal(None)  # type: ignore[arg-type]  # SDK's save
    assert isinstance(result, dict)
    return result


async def keyed(actor: ResidentObject, key: str, params: dict[str, Any] | None = None) -> Any:
    request = {
        "name": "increment",
        "params": params or {},
        "token": token(),
        "idempotency_key": key,
    }
    return await saved(actor, await actor.command(request))


def stored(sidecar: InMemorySidecar, key: str) -> Any:
    return json.loads(sidecar.state[f"ResidentObject||counter-1||{key}"])


async def exported_from_a(*keys: str) -> tuple[InMemorySidecar, dict[str, Any], list[Any]]:
    side_a = InMemorySidecar()
    a = host_actor(side_a, "host-a", key=HOST_KEY)
    await saved(a, await a.install_policy({"policy": sign_policy(PORTABLE, KEY), "token": token()}))
    firsts = [await keyed(a, key) for key in keys]
    bundle = await saved(a, await a.export({"token": token(), "move": True}))
    return side_a, bundle, firsts


def resigned(bundle: dict[str, Any], requests: list[Any]) -> dict[str, Any]:
    return build_bundle(
        object_id=bundle["object_id"],
        policy_jws=bundle["policy"],
        data=bundle["data"],
        lineage=bundle["lineage"],
        from_host=bundle["from_host"],
        key=HOST_KEY,
        policies=bundle["policies"],
        hosts=bundle["hosts"],
        requests=requests,
    )


async def test_a_retry_after_a_move_is_answered_from_the_bundled_record() -> None:
    _, bundle, (first,) = await exported_from_a("pay-1")
    assert [r["key"] for r in bundle["requests"]] == ["pay-1"]
    side_b = InMemorySidecar()
    b = host_actor(side_b, "host-b")
    await saved(b, await b.import_object({"bundle": bundle, "token": token()}))

    again = await keyed(b, "pay-1")
    assert again == {**first, "replayed": True}
    assert stored(side_b, "data") == {"count": 1}
    reused = await keyed(b, "pay-1", {"extra": 1})
    assert reused["error"]["code"] == "idempotency_key_reused"
    assert stored(side_b, "data") == {"count": 1}


async def test_a_bundle_without_records_has_no_requests_field() -> None:
    _, bundle, _ = await exported_from_a()
    assert "requests" not in bundle


async def test_expired_records_stay_behind_and_the_receivers_bound_applies() -> None:
    _, bundle, _ = await exported_from_a("k-0", "k-1", "k-2")
    old = {**bundle["requests"][0], "at": (datetime.now(UTC) - timedelta(hours=2)).isoformat()}
    side_b = InMemorySidecar()
    window = timedelta(hours=1)
    b = host_actor(side_b, "host-b", idempotency_window=window, idempotency_max_keys=1)
    forged = resigned(bundle, [old, *bundle["requests"][1:]])
    await saved(b, await b.import_object({"bundle": forged, "token": token()}))
    records = [k for k in side_b.state if k.startswith("ResidentObject||counter-1||request-slot-")]
    assert len(records) == 1
    assert json.loads(side_b.state[records[0]])["key"] == "k-2"
    assert (await keyed(b, "k-2"))["replayed"] is True
    assert "replayed" not in await keyed(b, "k-0")


def _record(bundle: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**bundle["requests"][0], **changes}


HOSTILE: dict[str, Any] = {
    "not an object": lambda b: "pay-1",
    "extra field": lambda b: _record(b, bytes=1),
    "missing field": lambda b: {k: v for k, v in _record(b).items() if k != "outcome"},
    "bad key": lambda b: _record(b, key="has space"),
    "long subject": lambda b: _record(b, sub="s" * 2000),
    "bad fingerprint": lambda b: _record(b, fingerprint="00"),
    "future time": lambda b: _record(b, at=(datetime.now(UTC) + timedelta(days=1)).isoformat()),
    "naive time": lambda b: _record(b, at="2026-01-01T00:00:00"),
    "no time": lambda b: _record(b, at="yesterday"),
    "seq beyond lineage": lambda b: _record(b, outcome={"seq": 10_000}),
    "seq not an int": lambda b: _record(b, outcome={"seq": True}),
    "outcome not an object": lambda b: _record(b, outcome=[1]),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
async def test_a_hostile_record_refuses_the_import_and_writes_nothing(case: str) -> None:
    _, bundle, _ = await exported_from_a("pay-1")
    forged = resigned(bundle, [HOSTILE[case](bundle)])
    side_b = InMemorySidecar()
    b = host_actor(side_b, "host-b")
    refused = await saved(b, await b.import_object({"bundle": forged, "token": token()}))
    assert refused["error"]["code"] == "invalid_bundle"
    assert "request record 0" in refused["error"]["message"]
    assert (side_b.state, side_b.reminders) == ({}, {})


async def test_too_many_records_refuse_the_bundle() -> None:
    _, bundle, _ = await exported_from_a("pay-1")
    forged = resigned(bundle, bundle["requests"] * 4097)
    b = host_actor(InMemorySidecar(), "host-b")
    refused = await saved(b, await b.import_object({"bundle": forged, "token": token()}))
    assert refused["error"]["code"] == "invalid_bundle"
    assert "4096" in refused["error"]["message"]


async def test_records_are_covered_by_the_host_signature() -> None:
    _, bundle, _ = await exported_from_a("pay-1")
    altered = json.loads(json.dumps(bundle))
    altered["requests"][0]["outcome"]["result"] = "forged"
    b = host_actor(InMemorySidecar(), "host-b")
    refused = await saved(b, await b.import_object({"bundle": altered, "token": token()}))
    assert refused["error"]["code"] == "invalid_host_signature"


async def test_requests_of_the_wrong_type_refuse_the_bundle() -> None:
    _, bundle, _ = await exported_from_a("pay-1")
    b = host_actor(InMemorySidecar(), "host-b")
    wrong = {**bundle, "requests": {"pay-1": bundle["requests"][0]}}
    refused = await saved(b, await b.import_object({"bundle": wrong, "token": token()}))
    assert refused["error"]["code"] == "invalid_bundle"
    assert "requests" in refused["error"]["message"]
