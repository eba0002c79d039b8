"""Workflows as policy, end to end: the order saga on a real host, peer and localdapr."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from policies import verify_lineage
from tests.e2e.hosts import Issuer, ResidentHost, example
from tests.support import ROOT, Proc, eventually, free_port, python_argv, wait_http

ENDPOINTS = """\
apiVersion: dapr.io/v1alpha1
kind: HTTPEndpoint
metadata:
  name: {name}
spec:
  baseUrl: {url}
"""
PAY = {"payment_id": "pay-5521", "amount": 89.9}


@pytest.fixture(scope="module")
def peer(tmp_path_factory: pytest.TempPathFactory, sidecar: str) -> Iterator[str]:
    """Shipping and payments: one real non-Dapr service on loopback (one per sidecar, so the
    calls each run's objects make are told apart)."""
    port = free_port()
    argv = python_argv("-m", "uvicorn", "tests.e2e.peer:app", "--port", str(port))
    proc = Proc(argv, log=tmp_path_factory.mktemp("peer") / "peer.log").start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/_received", proc=proc)
        yield url
    finally:
        proc.stop()


def resources(workdir: Path, peer_url: str) -> Path:
    path = workdir / "resources"
    path.mkdir(parents=True, exist_ok=True)
    for file in (ROOT / "components").glob("*.yaml"):
        shutil.copy(file, path / file.name)
    docs = [ENDPOINTS.format(name=name, url=peer_url) for name in ("shipping", "payments")]
    (path / "peers.yaml").write_text("---\n".join(docs))
    return path


def start_host(workdir: Path, issuer: Issuer, peer_url: str, sidecar: str) -> ResidentHost:
    return ResidentHost(
        workdir,
        trusted=[issuer],
        resources_path=resources(workdir, peer_url),
        env={"RESIDENT_SUBSCRIPTIONS": "payments"},
        sidecar=sidecar,
        observe=["orders"],
    )


@pytest.fixture(scope="module")
def shop(
    tmp_path_factory: pytest.TempPathFactory, issuer: Issuer, peer: str, sidecar: str
) -> Iterator[ResidentHost]:
    with start_host(tmp_path_factory.mktemp("shop"), issuer, peer, sidecar) as running:
        assert isinstance(running, ResidentHost)
        yield running


def received(peer: str, path: str, order: str) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = httpx.get(f"{peer}/_received").json()
    return [c for c in calls if c["path"] == path and c["body"].get("order_id") == order]


def saga(pay: str = "15m", ship: str = "2h") -> dict[str, Any]:
    document = example("order")
    states = document["workflow"]["states"]
    states["awaiting_payment"]["transitions"][1]["after"] = pay
    states["paid"]["transitions"][1]["after"] = ship
    return document


def state(host: ResidentHost, order: str, token: str) -> str:
    return str(host.show(order, token)["workflow"]["state"])


def create(host: ResidentHost, issuer: Issuer, order: str, document: dict[str, Any]) -> str:
    ops = issuer.token("ops", "ops")
    created = host.put_policy(order, issuer.sign(document), ops)
    assert created.status_code == 201, created.text
    assert created.json()["object"]["workflow"]["state"] == "awaiting_payment"
    return ops


def test_happy_path_by_command_to_shipped(shop: ResidentHost, issuer: Issuer, peer: str) -> None:
    order = "order-happy"
    ops = create(shop, issuer, order, saga())
    eventually(lambda: [m for m in shop.published("orders") if order in str(m)], timeout=5)

    paid = shop.command(order, "payment_received", issuer.token("psp", "payments"), **PAY)
    assert paid.status_code == 200, paid.text
    assert paid.json()["result"]["state"] == "paid"
    (ship,) = eventually(lambda: received(peer, "/ship", order), timeout=5)
    assert ship["body"]["address"]["city"] == "Amsterdam"

    carrier = issuer.token("dhl", "shipping")
    assert shop.command(order, "shipment_confirmed", carrier, tracking="").status_code == 409
    done = shop.command(order, "shipment_confirmed", carrier, tracking="JVGL0612345")
    assert done.status_code == 200, done.text
    snapshot = shop.show(order, ops)
    assert snapshot["workflow"]["state"] == "shipped"
    assert snapshot["workflow"]["terminal"] is True
    assert snapshot["data"]["tracking"] == "JVGL0612345"
    moves = [(h["from"], h["to"]) for h in snapshot["workflow"]["history"]]
    assert moves == [(None, "awaiting_payment"), ("awaiting_payment", "paid"), ("paid", "shipped")]

    entries = shop.entries(order, ops)
    verify_lineage(entries, data=snapshot["data"])
    transitions = [e["extra"] for e in entries if e["kind"] == "transition"]
    assert transitions[1] == {
        "from": "awaiting_payment",
        "to": "paid",
        "trigger": {"event": "payment_received"},
    }
    shown = subprocess.run(
        [sys.executable, "-m", "app.cli", "show", order, "--token", ops, "--url", shop.app_url],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    assert '"state": "shipped"' in shown.stdout


def test_payment_by_pubsub_message(shop: ResidentHost, issuer: Issuer) -> None:
    order = "order-pubsub"
    ops = create(shop, issuer, order, saga())
    publish = f"{shop.dapr_url}/v1.0/publish/pubsub/payments"
    short = {"object_id": order, "amount": 5.0, "currency": "EUR", "payment_id": "pay-x"}
    full = {**short, "amount": 89.9, "payment_id": "pay-6001"}
    for message in (short, full):
        response = httpx.post(publish, json=message, headers=shop.token_headers())
        assert response.status_code == 204, response.text
    eventually(lambda: state(shop, order, ops) == "paid", timeout=10)
    snapshot = shop.show(order, ops)
    assert snapshot["data"]["payment_id"] == "pay-6001"
    paid = [e for e in shop.entries(order, ops) if e["extra"].get("to") == "paid"]
    assert paid[0]["who"]["pubsub"] == "pubsub/payments"


def test_payment_timeout_cancels(shop: ResidentHost, issuer: Issuer) -> None:
    order = "order-unpaid"
    ops = create(shop, issuer, order, saga(pay="2s"))
    eventually(lambda: state(shop, order, ops) == "cancelled", timeout=10)
    last = shop.show(order, ops)["workflow"]["history"][-1]
    assert (last["from"], last["trigger"]) == ("awaiting_payment", {"after": "2s"})


def test_a_timeout_between_periodic_fires_is_taken_on_its_own_fire(
    shop: ResidentHost, issuer: Issuer
) -> None:
    """The reminder is moved to the timeout's due time (the order's period is 30 s). daprd's
    scheduler may deliver that fire up to a second early; it still takes the timeout, rather
    than waiting for the next periodic fire."""
    order = "order-due-fire"
    ops = create(shop, issuer, order, saga(pay="3s"))
    eventually(lambda: state(shop, order, ops) == "cancelled", timeout=8)


def test_shipping_timeout_compensates_and_refunds(
    shop: ResidentHost, issuer: Issuer, peer: str
) -> None:
    order = "order-lost"
    ops = create(shop, issuer, order, saga(ship="2s"))
    paid = shop.command(order, "payment_received", issuer.token("psp", "payments"), **PAY)
    assert paid.status_code == 200, paid.text
    eventually(lambda: state(shop, order, ops) == "cancelled", timeout=10)
    (refund,) = eventually(lambda: received(peer, "/refund", order), timeout=5)
    assert refund["body"] == {"order_id": order, "payment_id": "pay-5521", "amount": 89.9}
    moves = [(h["from"], h["to"]) for h in shop.show(order, ops)["workflow"]["history"]]
    assert moves[-2:] == [("paid", "compensating"), ("compensating", "cancelled")]


def test_events_for_a_terminal_object_are_refused_and_recorded(
    shop: ResidentHost, issuer: Issuer
) -> None:
    order = "order-closed"
    ops = create(shop, issuer, order, saga(pay="1s"))
    eventually(lambda: state(shop, order, ops) == "cancelled", timeout=10)
    late = shop.command(order, "payment_received", issuer.token("psp", "payments"), **PAY)
    assert late.status_code == 409, late.text
    assert "terminal" in late.json()["detail"]
    last = shop.entries(order, ops)[-1]
    assert last["kind"] == "denied"
    assert last["extra"] == {"event": "payment_received", "state": "cancelled"}
    assert last["who"]["sub"] == "psp"
    stranger = shop.command(order, "payment_received", issuer.token("eve", "viewer"), **PAY)
    assert stranger.status_code == 403


def test_replayed_and_redelivered_messages_are_not_news(shop: ResidentHost, issuer: Issuer) -> None:
    """Redis Streams replays a stream to a new consumer group and redelivers without a cap:
    an old message, or one delivered before, changes nothing and records nothing."""
    order = "order-replay"
    ops = create(shop, issuer, order, saga())
    route = f"{shop.app_url}/dapr/events/pubsub/payments"
    headers = {"dapr-api-token": shop.app_token}
    now = datetime.now(UTC)

    def deliver(message_id: str, sent: datetime, **data: Any) -> str:
        event = {
            "specversion": "1.0", "id": message_id, "source": "psp", "type": "payment",
            "time": sent.isoformat().replace("+00:00", "Z"), "datacontenttype": "application/json",
            "data": {"object_id": order, "currency": "EUR", **data},
        }  # fmt: skip
        response = httpx.post(route, json=event, headers=headers, timeout=10)
        assert response.status_code == 200, response.text
        return str(response.json()["status"])

    length = shop.show(order, ops)["lineage"]["length"]
    stale = deliver("old-1", now - timedelta(hours=1), amount=89.9, payment_id="pay-old")
    assert stale == "SUCCESS"  # acknowledged, so never redelivered
    unchanged = shop.show(order, ops)
    assert unchanged["lineage"]["length"] == length  # neither a transition nor a denial
    assert unchanged["workflow"]["state"] == "awaiting_payment"

    assert deliver("pay-1", now, amount=89.9, payment_id="pay-7001") == "SUCCESS"
    paid = shop.show(order, ops)
    assert paid["workflow"]["state"] == "paid"
    assert deliver("pay-1", now, amount=89.9, payment_id="pay-7001") == "SUCCESS"
    assert shop.show(order, ops)["lineage"]["length"] == paid["lineage"]["length"]


def test_a_refused_event_undoes_the_command_that_shares_its_name(
    shop: ResidentHost, issuer: Issuer
) -> None:
    """A command named like a workflow event runs first, in the same turn as the event: when
    the event is refused, nothing the command changed or published goes out."""
    document = saga()
    document["commands"] = {
        "payment_received": {
            "params": {"payment_id": "string"},
            "when": "'payments' in caller.roles",
            "do": [
                {"set": {"tracking": "'noted'"}},
                {"publish": {"topic": "orders", "data": "{'id': object.id, 'step': 'noted'}"}},
            ],
        }
    }
    order = "order-one-turn"
    ops = create(shop, issuer, order, document)
    before = shop.show(order, ops)
    refused = shop.command(
        order, "payment_received", issuer.token("psp", "payments"), payment_id=""
    )
    assert refused.status_code == 409, refused.text

    after = shop.show(order, ops)
    assert after["data"] == before["data"]  # the command's `set` did not apply
    assert after["workflow"]["state"] == "awaiting_payment"
    last = shop.entries(order, ops)[-1]
    assert last["kind"] == "denied"  # only the refusal is recorded
    assert eventually(lambda: [m for m in shop.published("orders") if order in str(m)])
    assert not [m for m in shop.published("orders") if "noted" in str(m) and order in str(m)]

    psp = issuer.token("psp", "payments")
    paid = shop.command(order, "payment_received", psp, payment_id="pay-9")
    assert paid.status_code == 200, paid.text
    done = shop.show(order, ops)
    assert (done["workflow"]["state"], done["data"]["tracking"]) == ("paid", "noted")
    eventually(lambda: [m for m in shop.published("orders") if "noted" in str(m)], timeout=5)


def test_a_deliver_forged_through_the_sidecar_is_refused(
    shop: ResidentHost, issuer: Issuer
) -> None:
    """Any app that can call actors through a sidecar could call `Deliver` itself; only what
    the host's subscription route marked is taken as a pub/sub event."""
    order = "order-forged"
    ops = create(shop, issuer, order, saga())
    event = {
        "specversion": "1.0", "id": "forged-1", "source": "mallory", "type": "payment",
        "datacontenttype": "application/json",
        "data": {"object_id": order, "amount": 89.9, "currency": "EUR", "payment_id": "pay-x"},
    }  # fmt: skip
    url = f"{shop.dapr_url}/v1.0/actors/ResidentObject/{order}/method/Deliver"
    for extra in ({}, {"mark": "0" * 64}):
        body = {"pubsub": "pubsub", "topic": "payments", "event": event, **extra}
        response = httpx.post(url, json=body, headers=shop.token_headers(), timeout=10)
        assert response.status_code == 200, response.text
        assert response.json()["error"]["code"] == "forbidden"
    assert state(shop, order, ops) == "awaiting_payment"


def test_pending_timeout_fires_after_app_and_sidecar_are_killed(
    tmp_path: Path, issuer: Issuer, peer: str, sidecar: str
) -> None:
    with start_host(tmp_path / "host", issuer, peer, sidecar) as host:
        assert isinstance(host, ResidentHost)
        ops = create(host, issuer, "order-restart", saga(pay="4s"))
        assert host.app_proc is not None
        host.app_proc.kill()
        host.kill_sidecar()
        assert state_after_restart(host, ops) == "cancelled"


def state_after_restart(host: ResidentHost, ops: str) -> str:
    host.start_sidecar()
    host.start_app()
    host.wait_ready()
    eventually(lambda: state(host, "order-restart", ops) == "cancelled", timeout=15)
    return state(host, "order-restart", ops)
