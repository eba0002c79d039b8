"""Reminders: timing, TTL, repetitions, one-shot, retries, and durability across SIGKILL."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest
from dapr.actor import ActorId, ActorProxy

from tests.contract.actorapp import CounterInterface
from tests.contract.conftest import PairFactory, app_stats, sdk_pointed_at
from tests.contract.pair import SidecarPair
from tests.support import eventually


def fires(pair: SidecarPair, actor_id: str, name: str) -> list[float]:
    found: list[float] = app_stats(pair)["fires"].get(f"{actor_id}/{name}", [])
    return found


def reminder_url(pair: SidecarPair, actor_id: str, name: str) -> str:
    return f"{pair.dapr_url}/v1.0/actors/Counter/{actor_id}/reminders/{name}"


def put_reminder(pair: SidecarPair, actor_id: str, name: str, **body: Any) -> None:
    resp = httpx.put(reminder_url(pair, actor_id, name), json=body, headers=pair.token_headers())
    assert resp.status_code == 204, resp.text


def fresh() -> str:
    return f"rem-{uuid.uuid4().hex[:8]}"


async def test_one_second_period_fires_four_to_six_times_in_five_seconds(
    sdk: SidecarPair, http: httpx.AsyncClient
) -> None:
    actor_id = fresh()
    start = time.time()
    proxy = ActorProxy.create("Counter", ActorId(actor_id), CounterInterface)
    await proxy.AddReminder({"name": "beat", "due": 1.0, "period": 1.0, "data": "payload"})
    eventually(lambda: len(fires(sdk, actor_id, "beat")) >= 6, timeout=15)
    in_window = [t for t in fires(sdk, actor_id, "beat") if t <= start + 5.0]
    assert 4 <= len(in_window) <= 6
    got = (await http.get(reminder_url(sdk, actor_id, "beat"))).json()
    assert got["data"] == "cGF5bG9hZA=="  # as the SDK registered it: base64 of the state
    assert (await http.delete(reminder_url(sdk, actor_id, "beat"))).status_code == 204
    assert (await http.get(reminder_url(sdk, actor_id, "beat"))).status_code == 404


def test_reminder_stops_after_ttl(actor_pair: SidecarPair) -> None:
    actor_id = fresh()
    put_reminder(actor_pair, actor_id, "brief", dueTime="0s", period="300ms", ttl="1s", data="")
    eventually(lambda: httpx.get(reminder_url(actor_pair, actor_id, "brief")).status_code == 404)
    assert 2 <= len(fires(actor_pair, actor_id, "brief")) <= 5


def test_reminder_stops_after_repetitions(actor_pair: SidecarPair) -> None:
    actor_id = fresh()
    # Whole seconds: daprd (dapr/kit) refuses fractions in ISO 8601 durations.
    put_reminder(actor_pair, actor_id, "thrice", dueTime="PT0S", period="R3/PT1S", data="")
    eventually(
        lambda: httpx.get(reminder_url(actor_pair, actor_id, "thrice")).status_code == 404,
        timeout=15,
    )
    assert len(fires(actor_pair, actor_id, "thrice")) == 3


def test_one_shot_reminder_fires_once(actor_pair: SidecarPair) -> None:
    actor_id = fresh()
    put_reminder(actor_pair, actor_id, "once", dueTime="0h0m0s200ms0μs", period=None, data="")
    eventually(lambda: httpx.get(reminder_url(actor_pair, actor_id, "once")).status_code == 404)
    assert len(fires(actor_pair, actor_id, "once")) == 1


def test_failing_firing_is_retried(actor_pair: SidecarPair) -> None:
    actor_id = fresh()
    httpx.post(f"{actor_pair.app_url}/test/fail-reminders/2").raise_for_status()
    put_reminder(actor_pair, actor_id, "retry", dueTime="0s", data="")
    eventually(lambda: len(fires(actor_pair, actor_id, "retry")) == 1, timeout=10)


def test_malformed_reminders_are_dapr_errors(actor_pair: SidecarPair) -> None:
    """Values that do not parse fail creation (500); a body that does not decode is a 400."""
    url = reminder_url(actor_pair, "bad", "r")
    for body, fragment in [
        ({"dueTime": "soon"}, "due time"),
        ({"period": "every minute"}, "period"),
        ({"period": "R3/PT0.5S"}, "period"),
        ({"period": "P1D"}, "period"),  # the Scheduler takes no calendar units
        ({"period": "1s", "ttl": "1x"}, "ttl"),
    ]:
        resp = httpx.put(url, json=body)
        assert resp.status_code == 500, body
        assert resp.json()["errorCode"] == "ERR_ACTOR_REMINDER_CREATE"
        assert fragment in resp.json()["message"], body
    for raw in [b'{"dueTime": 5}', b"[1,"]:
        resp = httpx.put(url, content=raw)
        assert resp.status_code == 400, raw
        assert resp.json()["errorCode"] == "ERR_MALFORMED_REQUEST"
    assert httpx.get(url).status_code == 404  # nothing was registered
    other = httpx.put(f"{actor_pair.dapr_url}/v1.0/actors/Nope/1/reminders/r", json={})
    assert other.status_code == 403
    assert other.json()["errorCode"] == "ERR_ACTOR_REMINDER_NON_HOSTED"


def test_reminder_survives_sidecar_sigkill(make_pair: PairFactory) -> None:
    pair = make_pair()
    actor_id = fresh()
    with sdk_pointed_at(pair):
        put_reminder(pair, actor_id, "durable", dueTime="0s", period="1s", data="")
        eventually(lambda: len(fires(pair, actor_id, "durable")) >= 1, timeout=10)
        pair.kill_sidecar()
        pair.start_sidecar()
        pair.wait_ready()
        restarted = time.time()
        eventually(
            lambda: len([t for t in fires(pair, actor_id, "durable") if t > restarted]) >= 2,
            timeout=15,
        )
        assert httpx.get(reminder_url(pair, actor_id, "durable")).status_code == 200


@pytest.mark.parametrize("sidecar", ["localdapr"])
def test_overdue_reminder_fires_once_after_downtime(make_pair: PairFactory) -> None:
    """localdapr only: it has no Scheduler apart from the sidecar, so nothing ticks while it is
    down and an overdue reminder fires once, then keeps its period. daprd's Scheduler keeps
    ticking while daprd is down and delivers the missed ticks when it reconnects."""
    pair = make_pair()
    actor_id = fresh()
    with sdk_pointed_at(pair):
        put_reminder(pair, actor_id, "durable", dueTime="0s", period="2s", data="")
        eventually(lambda: len(fires(pair, actor_id, "durable")) == 1, timeout=10)
        time.sleep(0.5)  # let the batched write-back of the next due time land
        pair.kill_sidecar()
        time.sleep(4.5)  # downtime: two ticks are missed while nobody can fire them
        pair.start_sidecar()
        pair.wait_ready()
        restarted = time.time()
        eventually(lambda: len(fires(pair, actor_id, "durable")) == 2, timeout=10)
        # Missed ticks are not replayed: the next firing keeps the 2 s period.
        eventually(lambda: len(fires(pair, actor_id, "durable")) == 3, timeout=10)
        after = fires(pair, actor_id, "durable")
        assert after[1] >= restarted - 0.5
        assert after[2] - after[1] >= 1.5
        assert httpx.get(reminder_url(pair, actor_id, "durable")).status_code == 200
