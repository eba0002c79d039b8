"""Actor invocation, turn-based concurrency, state and deactivation, through the real Dapr SDK."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import httpx
import pytest
from dapr.actor import ActorId, ActorProxy
from dapr.clients.exceptions import DaprInternalError

from tests.contract.actorapp import CounterInterface, PingInterface
from tests.contract.conftest import PairFactory, app_stats
from tests.contract.pair import SidecarPair
from tests.support import eventually


def counter(actor_id: str) -> ActorProxy:
    return ActorProxy.create("Counter", ActorId(actor_id), CounterInterface)


def fresh(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def test_state_round_trip_through_the_sdk(sdk: SidecarPair, http: httpx.AsyncClient) -> None:
    actor_id = fresh("state")
    value = {"list": [1, 2.5, None], "text": "héllo ✓", "nested": {"ok": True}}
    proxy = counter(actor_id)
    await proxy.SetValue(value)
    assert await proxy.GetValue() == value
    raw = await http.get(f"{sdk.dapr_url}/v1.0/actors/Counter/{actor_id}/state/value")
    assert raw.status_code == 200
    assert json.loads(raw.content) == value


def test_absent_state_is_204(actor_pair: SidecarPair) -> None:
    resp = httpx.get(f"{actor_pair.dapr_url}/v1.0/actors/Counter/{fresh('none')}/state/nope")
    assert resp.status_code == 204
    assert resp.content == b""


def activated(pair: SidecarPair, prefix: str) -> str:
    """The state URL of a fresh Counter, activated first: daprd writes state only for an
    actor active on it."""
    actor_id = fresh(prefix)
    assert httpx.post(f"{pair.dapr_url}/v1.0/actors/Counter/{actor_id}/method/Noop").is_success
    return f"{pair.dapr_url}/v1.0/actors/Counter/{actor_id}/state"


def test_state_of_an_actor_not_active_is_refused(actor_pair: SidecarPair) -> None:
    base = f"{actor_pair.dapr_url}/v1.0/actors/Counter/{fresh('inactive')}/state"
    resp = httpx.put(base, json=[{"operation": "upsert", "request": {"key": "a", "value": 1}}])
    assert resp.status_code == 400
    assert resp.json()["errorCode"] == "ERR_ACTOR_INSTANCE_MISSING"
    assert httpx.get(f"{base}/a").status_code == 204


def test_transaction_with_a_malformed_op_writes_nothing(actor_pair: SidecarPair) -> None:
    base = activated(actor_pair, "tx")
    ops = [
        {"operation": "upsert", "request": {"key": "a", "value": 1}},
        {"operation": "upsert", "request": {"key": "b", "value": 2}},
        {"operation": "explode", "request": {"key": "c"}},
    ]
    resp = httpx.put(base, json=ops)
    assert resp.status_code == 500
    assert resp.json()["errorCode"] == "ERR_ACTOR_STATE_TRANSACTION_SAVE"
    assert "explode" in resp.json()["message"]
    assert httpx.get(f"{base}/a").status_code == 204
    assert httpx.get(f"{base}/b").status_code == 204


def test_transaction_applies_upserts_and_deletes(actor_pair: SidecarPair) -> None:
    base = activated(actor_pair, "tx")
    first = [
        {"operation": "upsert", "request": {"key": "keep", "value": {"v": 1}}},
        {"operation": "upsert", "request": {"key": "gone", "value": "x"}},
    ]
    assert httpx.put(base, json=first).status_code == 204
    assert httpx.post(base, json=[{"operation": "delete", "request": {"key": "gone"}}]).is_success
    assert httpx.get(f"{base}/keep").json() == {"v": 1}
    assert httpx.get(f"{base}/gone").status_code == 204


def test_state_ttl_expires_a_value(make_pair: PairFactory) -> None:
    """`ttlInSeconds` needs daprd's ActorStateTTL preview feature (resources/actorttl)."""
    pair = make_pair(resources_path=Path(__file__).parent / "resources" / "actorttl")
    base = activated(pair, "ttl")
    brief = {"key": "brief", "value": 7, "metadata": {"ttlInSeconds": "1"}}
    assert httpx.put(base, json=[{"operation": "upsert", "request": brief}]).status_code == 204
    assert httpx.get(f"{base}/brief").json() == 7
    eventually(lambda: httpx.get(f"{base}/brief").status_code == 204, timeout=5)


@pytest.mark.parametrize(
    "body",
    [b"{not json", b'{"operation": "upsert"}', b"[1]", b""],
)
def test_undecodable_state_requests_get_dapr_400(actor_pair: SidecarPair, body: bytes) -> None:
    """A body that is not a JSON list of operations is refused before anything else."""
    resp = httpx.put(f"{actor_pair.dapr_url}/v1.0/actors/Counter/x/state", content=body)
    assert resp.status_code == 400
    assert resp.json()["errorCode"] == "ERR_MALFORMED_REQUEST"


@pytest.mark.parametrize(
    ("op", "fragment"),
    [
        ({"operation": "upsert", "request": {"value": 1}}, "key"),
        (
            {"operation": "upsert", "request": {"key": "k", "metadata": {"ttlInSeconds": "x"}}},
            "ttlInSeconds",
        ),
        ({"operation": "upsert"}, "request"),
        ({"operation": "rename", "request": {"key": "k"}}, "rename"),
    ],
)
def test_invalid_state_operations_are_refused(
    actor_pair: SidecarPair, op: dict[str, object], fragment: str
) -> None:
    base = activated(actor_pair, "bad")
    resp = httpx.put(base, json=[op])
    assert resp.status_code == 500
    assert resp.json()["errorCode"] == "ERR_ACTOR_STATE_TRANSACTION_SAVE"
    assert fragment in resp.json()["message"]
    assert httpx.get(f"{base}/k").status_code == 204


async def test_concurrent_increments_are_one_turn_at_a_time(sdk: SidecarPair) -> None:
    hot = fresh("hot")
    others = [fresh(f"cold{i}") for i in range(20)]
    calls = [counter(hot).Increment() for _ in range(200)]
    calls += [counter(o).Increment() for o in others for _ in range(10)]
    results = await asyncio.gather(*calls)
    assert sorted(results[:200]) == list(range(1, 201))
    assert await counter(hot).Get() == 200
    assert [await counter(o).Get() for o in others] == [10] * 20
    stats = app_stats(sdk)
    assert stats["max_in_turn"][hot] == 1
    assert all(stats["max_in_turn"][o] == 1 for o in others)
    assert stats["max_in_flight"] > 1, "different actors should run in parallel"


async def test_app_error_is_500_with_the_apps_body(
    sdk: SidecarPair, http: httpx.AsyncClient
) -> None:
    with pytest.raises(DaprInternalError, match="deliberate failure"):
        await counter(fresh("fail")).Fail()
    resp = await http.post(f"{sdk.dapr_url}/v1.0/actors/Counter/x/method/Fail")
    assert resp.status_code == 500
    assert resp.json()["errorCode"] == "ERR_ACTOR_INVOKE_METHOD"
    assert "deliberate failure" in resp.json()["message"]


def test_unknown_actor_type_is_a_dapr_error(actor_pair: SidecarPair) -> None:
    """daprd looks the type up in placement for a few seconds before giving up."""
    nope = f"{actor_pair.dapr_url}/v1.0/actors/Nope/1"
    resp = httpx.post(f"{nope}/method/Anything", timeout=30)
    assert resp.status_code == 500
    assert resp.json()["errorCode"] == "ERR_ACTOR_INVOKE_METHOD"
    assert "did not find address for actor 'Nope/1'" in resp.json()["message"]
    assert httpx.get(f"{nope}/state/k").status_code == 204  # reads need no active actor
    write = httpx.put(f"{nope}/state", json=[])
    assert write.status_code == 400
    assert write.json()["errorCode"] == "ERR_ACTOR_INSTANCE_MISSING"
    timer = httpx.put(f"{nope}/timers/t", json={"dueTime": "1s"})
    assert timer.status_code == 500
    assert timer.json()["errorCode"] == "ERR_ACTOR_TIMER_CREATE"


async def test_reentrant_call_back_into_the_same_actor(sdk: SidecarPair) -> None:
    proxy = ActorProxy.create("Ping", ActorId(fresh("ping")), PingInterface)
    assert await asyncio.wait_for(proxy.CallSelf(), timeout=20) == "pong!"


async def test_idle_actor_is_deactivated(sdk: SidecarPair) -> None:
    actor_id = fresh("idle")
    await counter(actor_id).Noop()
    assert app_stats(sdk)["activations"][actor_id] == 1

    def active_counters() -> int:
        meta = httpx.get(f"{sdk.dapr_url}/v1.0/metadata").json()
        return next(a.get("count", 0) for a in meta["actors"] if a["type"] == "Counter")

    eventually(lambda: app_stats(sdk)["deactivations"].get(actor_id) == 1, timeout=15)
    await counter(actor_id).Noop()
    assert app_stats(sdk)["activations"][actor_id] == 2
    assert active_counters() >= 1


async def test_timers_fire_and_stop_when_deleted(sdk: SidecarPair, http: httpx.AsyncClient) -> None:
    actor_id = fresh("timer")
    await counter(actor_id).AddTimer({"name": "tick", "due": 0.1, "period": 0.3})
    key = f"{actor_id}/tick"
    eventually(lambda: len(app_stats(sdk)["timer_fires"].get(key, [])) >= 3, timeout=10)
    resp = await http.delete(f"{sdk.dapr_url}/v1.0/actors/Counter/{actor_id}/timers/tick")
    assert resp.status_code == 204


def test_bad_timer_period_is_a_dapr_error(actor_pair: SidecarPair) -> None:
    resp = httpx.put(
        f"{actor_pair.dapr_url}/v1.0/actors/Counter/t/timers/x",
        json={"callback": "cb", "dueTime": "1s", "period": "every minute"},
    )
    assert resp.status_code == 500
    assert resp.json()["errorCode"] == "ERR_ACTOR_TIMER_CREATE"
    assert "period" in resp.json()["message"]


def test_an_unreachable_app_is_a_dapr_error(make_pair: PairFactory) -> None:
    """A dead app channel is answered in daprd's JSON shape, not as an unhandled ASGI error."""
    pair = make_pair()
    assert pair.app_proc is not None
    assert pair.sidecar_proc is not None
    pair.app_proc.kill()
    resp = httpx.post(f"{pair.dapr_url}/v1.0/actors/Counter/{fresh('gone')}/method/Get")
    assert resp.status_code == 500
    assert resp.json()["errorCode"] == "ERR_ACTOR_INVOKE_METHOD"
    assert f"127.0.0.1:{pair.app_port}" in resp.json()["message"]  # names the app it tried
    assert "Exception in ASGI application" not in pair.sidecar_proc.output()
