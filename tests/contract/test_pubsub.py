"""Pub/sub on both sidecars: CloudEvents, retry/drop/dead-letter semantics, durability.

The subscriber app answers as each test tells it and records what it received; the sidecar
allows 3 attempts with a 50 ms back-off (daprd: resources/resiliency.yaml; localdapr:
LOCALDAPR_PUBSUB_*), so the retry paths finish in well under a second. Outcomes are observed
through the app (a dropped message is one that is not seen again).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.contract.nonactor import subscriber_pair
from tests.contract.pair import SidecarPair
from tests.support import eventually

CE = "application/cloudevents+json"


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory, sidecar: str) -> Iterator[SidecarPair]:
    with subscriber_pair(tmp_path_factory.mktemp("pubsub"), sidecar=sidecar) as (
        pair,
        _peer,
    ):
        yield pair


@pytest.fixture(scope="module")
def dapr(pair: SidecarPair) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=pair.dapr_url, timeout=10.0) as client:
        yield client


@pytest.fixture(scope="module")
def app(pair: SidecarPair) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=pair.app_url, timeout=10.0) as client:
        yield client


def marker() -> dict[str, str]:
    """A unique payload, so a test finds its own deliveries in the shared app's records."""
    return {"marker": uuid.uuid4().hex}


def received(app: httpx.Client, route: str, payload: dict[str, str]) -> list[dict[str, Any]]:
    records = app.get(f"/test/received/{route}").json()
    return [r for r in records if r["event"].get("data") == payload]


def published(dapr: httpx.Client, topic: str, payload: dict[str, str]) -> dict[str, Any]:
    rows = dapr.get("/v1.0-alpha1/localdapr/published", params={"topic": topic}).json()
    (row,) = [r for r in rows if r["event"].get("data") == payload]
    return dict(row)


def delivery_status(dapr: httpx.Client, topic: str, payload: dict[str, str]) -> tuple[str, int]:
    """localdapr's own record of a delivery (its debugging route; daprd has none)."""
    (delivery,) = published(dapr, topic, payload)["deliveries"]
    return delivery["status"], delivery["attempts"]


def settled(app: httpx.Client, route: str, payload: dict[str, str], count: int) -> list[Any]:
    """The app's deliveries of `payload` on `route` once they reach `count` and stay there
    (a retry or a redelivery after that would show up within the back-off many times over)."""
    eventually(lambda: len(received(app, route, payload)) >= count)
    time.sleep(SETTLE_S)
    got = received(app, route, payload)
    assert len(got) == count, got
    return got


SETTLE_S = 0.5


def test_json_is_delivered_as_a_cloudevent(dapr: httpx.Client, app: httpx.Client) -> None:
    payload = marker()
    assert dapr.post("/v1.0/publish/pubsub/orders", json=payload).status_code == 204
    (got,) = eventually(lambda: received(app, "orders", payload))
    event = got["event"]
    assert got["contentType"] == CE
    assert event["specversion"] == "1.0"
    assert event["type"] == "com.dapr.event.sent"
    assert event["source"] == "contract"
    assert (event["topic"], event["pubsubname"]) == ("orders", "pubsub")
    assert event["datacontenttype"] == "application/json"
    assert event["id"]
    settled(app, "orders", payload, 1)


def test_a_published_cloudevent_keeps_its_id(dapr: httpx.Client, app: httpx.Client) -> None:
    payload, event_id = marker(), f"resident-{uuid.uuid4()}"
    own = {"id": event_id, "specversion": "1.0", "source": "me", "type": "x.y", "data": payload}
    resp = dapr.post(
        "/v1.0/publish/pubsub/orders", content=json.dumps(own), headers={"content-type": CE}
    )
    assert resp.status_code == 204
    (got,) = eventually(lambda: received(app, "orders", payload))
    assert (got["event"]["id"], got["event"]["type"], got["event"]["source"]) == (
        event_id,
        "x.y",
        "me",
    )
    assert got["event"]["topic"] == "orders"


def test_metadata_overrides_the_cloudevent_id(dapr: httpx.Client, app: httpx.Client) -> None:
    payload = marker()
    url = "/v1.0/publish/pubsub/orders?metadata.cloudevent.id=chosen-id"
    assert dapr.post(url, json=payload).status_code == 204
    (got,) = eventually(lambda: received(app, "orders", payload))
    assert got["event"]["id"] == "chosen-id"


@pytest.mark.parametrize(
    ("topic", "answers", "attempts"),
    [
        ("retry", ["RETRY", "RETRY"], 3),
        ("status500", ["500"], 2),
        ("orders", ["EMPTY"], 1),
    ],
)
def test_retry_and_5xx_are_retried_until_success(
    dapr: httpx.Client, app: httpx.Client, topic: str, answers: list[str], attempts: int
) -> None:
    app.post(f"/test/answers/{topic}", json=answers)
    payload = marker()
    dapr.post(f"/v1.0/publish/pubsub/{topic}", json=payload)
    got = settled(app, topic, payload, attempts)
    assert len({r["event"]["id"] for r in got}) == 1  # one message, redelivered


@pytest.mark.parametrize("answer", ["DROP", "404"])
def test_drop_and_404_drop_without_retry(
    dapr: httpx.Client, app: httpx.Client, answer: str
) -> None:
    app.post("/test/answers/drop", json=[answer])
    payload = marker()
    dapr.post("/v1.0/publish/pubsub/drop", json=payload)
    settled(app, "drop", payload, 1)
    assert received(app, "dead", payload) == []


def test_dead_letter_after_the_attempt_limit(dapr: httpx.Client, app: httpx.Client) -> None:
    app.post("/test/answers/exhaust", json=["500", "RETRY", "503"])
    payload = marker()
    dapr.post("/v1.0/publish/pubsub/exhaust", json=payload)
    attempts = settled(app, "exhaust", payload, 3)
    (dead,) = settled(app, "dead", payload, 1)
    assert dead["event"]["id"] == attempts[0]["event"]["id"]


def test_drop_goes_to_the_dead_letter_topic_when_there_is_one(
    dapr: httpx.Client, app: httpx.Client
) -> None:
    app.post("/test/answers/drop-dlt", json=["DROP"])
    payload = marker()
    dapr.post("/v1.0/publish/pubsub/drop-dlt", json=payload)
    (dropped,) = settled(app, "drop-dlt", payload, 1)
    (dead,) = settled(app, "dead", payload, 1)
    assert dead["event"]["id"] == dropped["event"]["id"]


def test_exhausted_without_dead_letter_topic_is_dropped(
    dapr: httpx.Client, app: httpx.Client
) -> None:
    app.post("/test/answers/exhaust-nodlt", json=["500"] * 3)
    payload = marker()
    dapr.post("/v1.0/publish/pubsub/exhaust-nodlt", json=payload)
    settled(app, "exhaust-nodlt", payload, 3)
    assert received(app, "dead", payload) == []


def test_routing_rules_pick_the_path(dapr: httpx.Client, app: httpx.Client) -> None:
    special, plain = marker(), marker()
    url = "/v1.0/publish/pubsub/routed?metadata.cloudevent.type=com.example.special"
    dapr.post(url, json=special)
    dapr.post("/v1.0/publish/pubsub/routed", json=plain)
    eventually(lambda: received(app, "special", special))
    eventually(lambda: received(app, "routed", plain))
    assert received(app, "routed", special) == []


@pytest.mark.parametrize("topic", ["declared", "declared-v1"])
def test_declarative_subscriptions_deliver(
    dapr: httpx.Client, app: httpx.Client, topic: str
) -> None:
    payload = marker()
    dapr.post(f"/v1.0/publish/pubsub/{topic}", json=payload)
    eventually(lambda: received(app, topic, payload))


def test_subscriptions_appear_in_metadata_within_scope(dapr: httpx.Client) -> None:
    subs = dapr.get("/v1.0/metadata").json()["subscriptions"]
    kinds = {s["topic"]: s["type"] for s in subs}
    assert kinds["orders"] == "PROGRAMMATIC"
    assert kinds["declared"] == kinds["declared-v1"] == "DECLARATIVE"
    assert "scoped-out" not in kinds


def test_a_message_nobody_subscribes_to_is_accepted_and_reaches_no_route(
    dapr: httpx.Client, app: httpx.Client
) -> None:
    payload = marker()
    assert dapr.post("/v1.0/publish/pubsub/nobody/listens", json=payload).status_code == 204
    dapr.post("/v1.0/publish/pubsub/orders", json=marker())  # a later message is delivered
    time.sleep(SETTLE_S)
    for route in ("orders", "dead", "routed"):
        assert received(app, route, payload) == []


@pytest.mark.parametrize(
    ("url", "body", "headers", "status", "code"),
    [
        ("/v1.0/publish/nope/orders", b"{}", {}, 404, "ERR_PUBSUB_NOT_FOUND"),
        # No topic: the route does not match; daprd's fallback wants an app id.
        ("/v1.0/publish/pubsub", b"{}", {}, 404, "ERR_DIRECT_INVOKE"),
        ("/v1.0/publish/pubsub/orders", b"[1]", {"content-type": CE}, 500, None),
        ("/v1.0/publish/pubsub/orders", b"{oops", {"content-type": CE}, 500, None),
        (
            "/v1.0/publish/pubsub/orders?metadata.rawPayload=maybe",
            b"{}",
            {},
            400,
            "ERR_PUBSUB_REQUEST_METADATA",
        ),
    ],
)
def test_bad_publish_requests_get_dapr_style_errors(
    dapr: httpx.Client,
    url: str,
    body: bytes,
    headers: dict[str, str],
    status: int,
    code: str | None,
) -> None:
    resp = dapr.post(url, content=body, headers=headers)
    assert resp.status_code == status, resp.text
    assert resp.json()["errorCode"] == (code or "ERR_PUBSUB_CLOUD_EVENTS_SER")


def test_messages_survive_restarts_and_wait_for_the_app(tmp_path: Path) -> None:
    """An undelivered message outlives a SIGKILLed sidecar; one published while the app is
    down waits for it (its subscriptions are unknown until it answers /dapr/subscribe)."""
    env = {"LOCALDAPR_PUBSUB_MAX_ATTEMPTS": "10000", "LOCALDAPR_PUBSUB_BACKOFF_MS": "100"}
    with (
        subscriber_pair(tmp_path, sidecar_env=env) as (pair, _peer),
        httpx.Client(base_url=pair.dapr_url, timeout=10.0) as dapr,
        httpx.Client(base_url=pair.app_url, timeout=10.0) as app,
    ):
        app.post("/test/answers/durable", json=["500"] * 10000)
        payload = marker()
        dapr.post("/v1.0/publish/pubsub/durable", json=payload)
        eventually(lambda: received(app, "durable", payload))
        pair.kill_sidecar()
        app.post("/test/answers/durable", json=[])
        pair.restart_sidecar()
        eventually(lambda: delivery_status(dapr, "durable", payload)[0] == "delivered")
        assert len({r["event"]["id"] for r in received(app, "durable", payload)}) == 1

        assert pair.app_proc is not None
        pair.app_proc.kill()
        pair.kill_sidecar()
        pair.start_sidecar()
        early = marker()
        assert dapr.post("/v1.0/publish/pubsub/orders", json=early).status_code == 204
        assert published(dapr, "orders", early)["deliveries"] == []
        pair.start_app()
        pair.wait_ready()
        eventually(lambda: received(app, "orders", early))
