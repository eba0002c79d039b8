"""Health, metadata, API tokens and error shapes of the sidecar itself."""

from __future__ import annotations

from pathlib import Path

import httpx
from dapr.actor import ActorId, ActorProxy

from tests.contract.actorapp import CounterInterface
from tests.contract.conftest import PairFactory, sdk_pointed_at
from tests.contract.pair import SidecarPair


def test_health_routes(actor_pair: SidecarPair) -> None:
    assert httpx.get(f"{actor_pair.dapr_url}/v1.0/healthz").status_code == 204
    assert httpx.get(f"{actor_pair.dapr_url}/v1.0/healthz/outbound").status_code == 204


def test_metadata_lists_app_and_actor_types(actor_pair: SidecarPair) -> None:
    meta = httpx.get(f"{actor_pair.dapr_url}/v1.0/metadata").json()
    assert meta["id"] == actor_pair.app_id
    types = {a["type"] for a in meta["actors"]}
    assert {"Counter", "Ping"} <= types
    # daprd leaves out zero values: "count" of a type with no active actor, empty lists.
    assert all(isinstance(a.get("count", 0), int) for a in meta["actors"])
    for key in ("components", "extended"):
        assert key in meta


def test_unknown_route_is_a_dapr_404(actor_pair: SidecarPair) -> None:
    resp = httpx.get(f"{actor_pair.dapr_url}/v1.0/nothing/here")
    assert resp.status_code == 404  # daprd tries it as service invocation, naming no app
    assert resp.json()["errorCode"] == "ERR_DIRECT_INVOKE"


def test_sidecar_serves_outbound_health_before_the_app(tmp_path: Path) -> None:
    pair = SidecarPair("tests.contract.actorapp:app", tmp_path)
    try:
        pair.start_sidecar()  # no app at all: the SDK's start-up poll must still succeed
        assert httpx.get(f"{pair.dapr_url}/v1.0/healthz/outbound").status_code == 204
        not_ready = httpx.get(f"{pair.dapr_url}/v1.0/healthz")
        assert not_ready.status_code == 500
        assert "errorCode" in not_ready.json()
    finally:
        pair.stop()


async def test_api_token_is_enforced(make_pair: PairFactory, http: httpx.AsyncClient) -> None:
    pair = make_pair(sidecar_env={"DAPR_API_TOKEN": "s3cret"})
    url = pair.dapr_url
    assert (await http.get(f"{url}/v1.0/healthz")).status_code == 204
    assert (await http.get(f"{url}/v1.0/healthz/outbound")).status_code == 204
    for method, path in [
        ("GET", "/v1.0/metadata"),
        ("POST", "/v1.0/actors/Counter/t/method/Noop"),
        ("GET", "/v1.0/actors/Counter/t/state/k"),
        ("GET", "/v1.0-alpha1/localdapr/anything"),
    ]:
        refused = await http.request(method, url + path)
        assert refused.status_code == 401, path
        assert "invalid api token" in refused.text  # daprd: plain text; localdapr: Dapr JSON
        wrong = await http.request(method, url + path, headers={"dapr-api-token": "nope"})
        assert wrong.status_code == 401, path
    ok = await http.get(f"{url}/v1.0/metadata", headers={"dapr-api-token": "s3cret"})
    assert ok.status_code == 200
    with sdk_pointed_at(pair):  # the SDK sends the token; the app's SDK does too
        proxy = ActorProxy.create("Counter", ActorId("tok"), CounterInterface)
        assert await proxy.Increment() == 1
