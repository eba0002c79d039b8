"""Pub/sub across sidecars sharing one broker db (`--broker-db`), as Dapr apps share one Redis.

Three apps, each behind its own localdapr: `publisher` (the actor app: it subscribes to
nothing) and the subscriber app twice, as `billing` and `shipping`. The app id is the consumer
group: every subscribing app id gets each message once, with its own retries and dead letters.
"""

from __future__ import annotations

import contextlib
import functools
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from localdapr._pubsubstore import Message, PubSubStore
from localdapr._store import open_db
from tests.contract.nonactor import APP as SUBSCRIBER_APP
from tests.contract.nonactor import STATIC
from tests.contract.pair import SidecarPair
from tests.support import eventually

PUBLISHER_APP = "tests.contract.actorapp:app"
ENV = {"LOCALDAPR_PUBSUB_MAX_ATTEMPTS": "3", "LOCALDAPR_PUBSUB_BACKOFF_MS": "50"}

_SCOPED = """\
apiVersion: dapr.io/v2alpha1
kind: Subscription
metadata:
  name: billing-only
spec:
  pubsubname: pubsub
  topic: invoices
  routes:
    default: /events/invoices
scopes:
  - billing
"""


class Broker:
    """The sidecar pairs sharing one broker db (not yet started), and how to make more."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.db = root / "broker.db"
        self.resources = root / "resources"
        self.resources.mkdir()
        shutil.copy(STATIC / "pubsub.yaml", self.resources / "pubsub.yaml")
        (self.resources / "scoped.yaml").write_text(_SCOPED)
        self.publisher = self.pair(PUBLISHER_APP, "publisher")
        self.billing = self.pair(SUBSCRIBER_APP, "billing")
        self.shipping = self.pair(SUBSCRIBER_APP, "shipping")

    def pair(self, app: str, app_id: str) -> SidecarPair:
        return SidecarPair(
            app,
            self.root / app_id,
            app_id=app_id,
            resources_path=self.resources,
            sidecar_env=ENV,
            broker_db=self.db,
        )

    def publish(self, topic: str, payload: dict[str, str]) -> None:
        url = f"{self.publisher.dapr_url}/v1.0/publish/pubsub/{topic}"
        assert httpx.post(url, json=payload, timeout=10).status_code == 204


def start_all(*pairs: SidecarPair) -> None:
    """Start every process before waiting for any, so the pairs boot in parallel."""
    for pair in pairs:
        pair.workdir.mkdir(parents=True, exist_ok=True)
        pair.start_sidecar()
    for pair in pairs:
        pair.start_app()
    for pair in pairs:
        pair.wait_ready()


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    broker = Broker(tmp_path_factory.mktemp("broker"))
    pairs = (broker.publisher, broker.billing, broker.shipping)
    with contextlib.ExitStack() as stack:
        for pair in pairs:
            stack.callback(pair.stop)
        start_all(*pairs)
        yield broker


def marker() -> dict[str, str]:
    return {"marker": uuid.uuid4().hex}


def received(pair: SidecarPair, route: str, payload: dict[str, str]) -> list[dict[str, Any]]:
    records = httpx.get(f"{pair.app_url}/test/received/{route}", timeout=10).json()
    return [r["event"] for r in records if r["event"].get("data") == payload]


def listed(pair: SidecarPair, topic: str, payload: dict[str, str]) -> dict[str, Any]:
    """The broker's record of one message, read through any sidecar sharing the broker."""
    url = f"{pair.dapr_url}/v1.0-alpha1/localdapr/published"
    rows = httpx.get(url, params={"topic": topic}, timeout=10).json()
    (row,) = [r for r in rows if r["event"].get("data") == payload]
    return dict(row)


def outcomes(pair: SidecarPair, topic: str, payload: dict[str, str]) -> dict[str, tuple[str, int]]:
    """Each app id's delivery of one message: (status, attempts)."""
    deliveries = listed(pair, topic, payload)["deliveries"]
    return {d["appId"]: (d["status"], d["attempts"]) for d in deliveries}


def test_each_subscribing_app_gets_the_message_once(broker: Broker) -> None:
    payload = marker()
    broker.publish("orders", payload)
    done = {"billing": ("delivered", 1), "shipping": ("delivered", 1)}
    eventually(lambda: outcomes(broker.billing, "orders", payload) == done)
    row = listed(broker.shipping, "orders", payload)
    assert row["publisher"] == "publisher"
    for subscriber in (broker.billing, broker.shipping):
        (event,) = received(subscriber, "orders", payload)
        assert (event["id"], event["source"]) == (row["id"], "publisher")
        assert (event["topic"], event["pubsubname"]) == ("orders", "pubsub")


def test_retries_and_dead_letters_are_per_app(broker: Broker) -> None:
    httpx.post(f"{broker.billing.app_url}/test/answers/exhaust", json=["500", "RETRY", "503"])
    payload = marker()
    broker.publish("exhaust", payload)
    done = {"billing": ("deadlettered", 3), "shipping": ("delivered", 1)}
    eventually(lambda: outcomes(broker.publisher, "exhaust", payload) == done)
    assert len(received(broker.billing, "exhaust", payload)) == 3
    assert len(received(broker.shipping, "exhaust", payload)) == 1
    # Dapr republishes a dead letter to its topic on the same broker: every app subscribed
    # to that topic receives it, with the original CloudEvent id.
    original = listed(broker.publisher, "exhaust", payload)["id"]
    for subscriber in (broker.billing, broker.shipping):
        (dead,) = eventually(functools.partial(received, subscriber, "dead", payload))
        assert dead["id"] == original


def test_a_scoped_declarative_subscription_serves_only_its_app(broker: Broker) -> None:
    payload = marker()
    broker.publish("invoices", payload)
    eventually(
        lambda: outcomes(broker.shipping, "invoices", payload) == {"billing": ("delivered", 1)}
    )
    assert received(broker.shipping, "invoices", payload) == []


def test_a_new_app_id_gets_what_is_published_after_it_joins(broker: Broker) -> None:
    before, after = marker(), marker()
    broker.publish("orders", before)
    eventually(lambda: len(outcomes(broker.billing, "orders", before)) == 2)
    latecomer = broker.pair(SUBSCRIBER_APP, "latecomer")
    try:
        start_all(latecomer)
        broker.publish("orders", after)
        eventually(lambda: received(latecomer, "orders", after))
        # The group took `after` in, so it would have taken `before` with it: it never will.
        assert "latecomer" not in outcomes(broker.billing, "orders", before)
        assert received(latecomer, "orders", before) == []
    finally:
        latecomer.stop()


def test_a_restarted_subscriber_sidecar_gets_what_was_published_meanwhile(
    broker: Broker,
) -> None:
    broker.billing.kill_sidecar()
    payload = marker()
    broker.publish("durable", payload)
    eventually(lambda: received(broker.shipping, "durable", payload))
    assert "billing" not in outcomes(broker.shipping, "durable", payload)
    broker.billing.start_sidecar()
    broker.billing.wait_ready()
    eventually(lambda: outcomes(broker.billing, "durable", payload)["billing"] == ("delivered", 1))
    assert len(received(broker.billing, "durable", payload)) == 1


# -- the broker store itself, two app ids on one file, in process --------------------------

ORDERS = {"pubsub/orders": ("pubsub", "orders")}


def store(path: Path, app_id: str) -> PubSubStore:
    return PubSubStore(open_db(path), app_id=app_id)


def message(topic: str = "orders") -> Message:
    return Message(0, "pubsub", topic, uuid.uuid4().hex, "application/json", b"{}", raw=False)


def test_a_group_resumes_at_its_cursor_and_a_new_one_starts_at_its_sidecar(tmp_path: Path) -> None:
    db = tmp_path / "broker.db"
    publisher = store(db, "publisher")
    publisher.add(message(), publisher="publisher")  # before billing's sidecar: not billing's
    billing = store(db, "billing")
    billing.join(ORDERS)
    publisher.add(message(), publisher="publisher")
    assert billing.catch_up(ORDERS) == 1
    billing.close()
    publisher.add(message(), publisher="publisher")  # while billing is down
    restarted = store(db, "billing")
    restarted.join(ORDERS)
    assert restarted.catch_up(ORDERS) == 1
    assert restarted.catch_up(ORDERS) == 0
    for opened in (publisher, restarted):
        opened.close()


def test_leases_and_their_release_belong_to_one_app_id(tmp_path: Path) -> None:
    db = tmp_path / "broker.db"
    billing, shipping = store(db, "billing"), store(db, "shipping")
    for consumer in (billing, shipping):
        consumer.join(ORDERS)
    billing.add(message(), publisher="billing")
    for consumer in (billing, shipping):
        consumer.catch_up(ORDERS)
    (leased,) = billing.lease_due(limit=10, lease=60.0)
    shipping.release_leases()  # a restarted shipping sidecar must not steal billing's lease
    assert billing.lease_due(limit=10, lease=60.0) == []
    (other,) = shipping.lease_due(limit=10, lease=60.0)
    assert (leased.seq, leased.sub_key) == (other.seq, other.sub_key)
    for opened in (billing, shipping):
        opened.close()
