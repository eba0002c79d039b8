"""Workflows as policy: load-time checks and the pure transition functions."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest
import yaml

from policies import (
    Forbidden,
    HostLimits,
    InvalidPolicy,
    Policy,
    WorkflowStatus,
    example_document,
)
from tests.policies.conftest import NOW, Make, minimal

ORDER = "order-1001"
PAYMENTS = {"sub": "psp", "roles": ["payments"]}


@pytest.fixture
def order(make: Make) -> Policy:
    return make(example_document("order"), object_id=ORDER)


def flow(**states: Any) -> dict[str, Any]:
    return minimal(workflow={"initial": "a", "states": states})


def started(policy: Policy) -> tuple[WorkflowStatus, dict[str, Any]]:
    outcome = policy.workflow_start(policy.initial_data, object_id=ORDER, now=NOW)
    assert outcome.refused is None
    return outcome.status, outcome.data


def event(
    policy: Policy, status: WorkflowStatus, data: dict[str, Any], name: str, **params: Any
) -> Any:
    return policy.workflow_event(
        name, params, status=status, caller=PAYMENTS, data=data, object_id=ORDER, now=NOW
    )


def test_start_enters_initial_and_publishes(order: Policy) -> None:
    outcome = order.workflow_start(order.initial_data, object_id=ORDER, now=NOW)
    assert outcome.status == WorkflowStatus("awaiting_payment", NOW)
    (step,) = outcome.steps
    assert step.record() == {
        "from": None,
        "to": "awaiting_payment",
        "trigger": {"start": "awaiting_payment"},
    }
    assert step.decision.effects[0]["topic"] == "orders"
    assert order.workflow_due(outcome.status) == NOW + timedelta(minutes=15)


def test_happy_path_to_shipped(order: Policy) -> None:
    status, data = started(order)
    paid = event(order, status, data, "payment_received", payment_id="pay-77")
    assert paid.refused is None
    assert paid.status.state == "paid"
    assert paid.data["payment_id"] == "pay-77"
    assert paid.steps[0].decision.effects[0]["app_id"] == "shipping"
    shipped = event(order, paid.status, paid.data, "shipment_confirmed", tracking="1Z999")
    assert shipped.status.state == "shipped"
    assert shipped.data["tracking"] == "1Z999"
    view = order.workflow_view(shipped.status)
    assert view["terminal"] is True
    assert view["due_at"] is None
    assert view["events"] == []


def test_terminal_state_refuses_events(order: Policy) -> None:
    status = WorkflowStatus("cancelled", NOW)
    outcome = event(order, status, order.initial_data, "payment_received", payment_id="p")
    assert outcome.steps == ()
    assert outcome.status == status
    assert outcome.refused == "state 'cancelled' is terminal; event 'payment_received' refused"


def test_wrong_state_and_false_guard_are_refused(order: Policy) -> None:
    status, data = started(order)
    wrong = event(order, status, data, "shipment_confirmed", tracking="x")
    assert wrong.refused is not None
    assert "it takes: payment_received" in wrong.refused
    guarded = event(order, status, data, "payment_received", payment_id="")
    assert guarded.refused is not None
    assert "when is false" in guarded.refused
    assert guarded.status == status


def test_payment_timeout_cancels(order: Policy) -> None:
    status, data = started(order)
    early = order.workflow_timeouts(data, status=status, object_id=ORDER, now=NOW)
    assert early.steps == ()
    assert early.status == status
    later = NOW + timedelta(minutes=15)
    fired = order.workflow_timeouts(data, status=status, object_id=ORDER, now=later)
    assert fired.status == WorkflowStatus("cancelled", later)
    assert fired.steps[0].record()["trigger"] == {"after": "15m"}


def test_shipping_timeout_compensates_then_cancels_in_one_turn(order: Policy) -> None:
    status, data = started(order)
    paid = event(order, status, data, "payment_received", payment_id="pay-77")
    later = NOW + timedelta(hours=2)
    outcome = order.workflow_timeouts(paid.data, status=paid.status, object_id=ORDER, now=later)
    assert [(s.source, s.target) for s in outcome.steps] == [
        ("paid", "compensating"),
        ("compensating", "cancelled"),
    ]
    refund = outcome.steps[0].decision.effects[0]
    assert (refund["app_id"], refund["method"]) == ("payments", "refund")
    assert refund["data"] == {"order_id": ORDER, "payment_id": "pay-77", "amount": 89.9}
    assert outcome.steps[1].record()["trigger"] == {"when": "true"}


def test_denied_on_enter_blocks_the_transition(order: Policy) -> None:
    status, data = started(order)
    limits = HostLimits.from_mapping({"services": []})
    outcome = order.workflow_event(
        "payment_received",
        {"payment_id": "pay-1"},
        status=status,
        caller=PAYMENTS,
        data=data,
        object_id=ORDER,
        now=NOW,
        limits=limits,
    )
    (step,) = outcome.steps
    assert step.blocked
    assert step.record()["blocked"] is True
    assert outcome.status == status
    assert outcome.data == data
    assert "host limits" in step.decision.denied[0]["reason"]
    assert outcome.refused is not None
    assert "on_enter of 'paid' was refused" in outcome.refused


def test_subscription_names_object_and_admits_by_when(order: Policy) -> None:
    message = {"data": {"object_id": ORDER, "amount": 89.9, "currency": "EUR"}}
    args: dict[str, Any] = {"object_id": ORDER, "data": order.initial_data, "now": NOW}
    assert (
        order.subscribed_event(pubsub="pubsub", topic="payments", message=message, **args)
        == "payment_received"
    )
    short = {"data": {**message["data"], "amount": 10}}
    other = {"data": {**message["data"], "object_id": "order-2"}}
    for bad, topic in ((short, "payments"), (other, "payments"), (message, "refunds")):
        with pytest.raises(Forbidden):
            order.subscribed_event(pubsub="pubsub", topic=topic, message=bad, **args)


def test_yaml_on_key_is_read_as_on(make: Make) -> None:
    text = "{to: b, on: go}"
    transition = yaml.safe_load(text)
    assert True in transition
    policy = make(flow(a={"transitions": [transition]}, b={"terminal": True}))
    assert policy.workflow_events == frozenset({"go"})


@pytest.mark.parametrize(
    ("states", "initial", "message"),
    [
        (
            {"a": {"transitions": [{"to": "nowhere", "on": "go"}]}},
            "a",
            "to 'nowhere' is not a state",
        ),
        (
            {"a": {"terminal": True}, "b": {"terminal": True}},
            "a",
            "unreachable from initial 'a': b",
        ),
        ({"a": {"transitions": [{"to": "b", "on": "go"}]}, "b": {}}, "a", "no way out"),
        (
            {"a": {"terminal": True}, "b": {"initial": True, "terminal": True}},
            "a",
            "more than one initial",
        ),
        ({"a": {"terminal": True}}, None, "no initial state"),
        ({"a": {"transitions": [{"to": "a", "on": "x", "after": "1m"}]}}, "a", "not both"),
        ({"a": {"transitions": [{"to": "a", "after": "soon"}]}}, "a", "is not a duration"),
        ({"a": {"terminal": True, "transitions": [{"to": "a", "on": "x"}]}}, "a", "terminal state"),
    ],
)
def test_load_rejects_broken_workflows(
    make: Make, states: dict[str, Any], initial: str | None, message: str
) -> None:
    with pytest.raises(InvalidPolicy, match=message):
        make(minimal(workflow={"initial": initial, "states": states}))


def test_subscription_to_an_unknown_event_is_rejected(make: Make) -> None:
    doc = copy.deepcopy(example_document("order"))
    doc["subscribe"][0]["event"] = "payment_recieved"
    with pytest.raises(InvalidPolicy, match="'payment_recieved' is not an `on` event"):
        make(doc, object_id=ORDER)
    without = minimal(subscribe=[{"topic": "t", "event": "e"}])
    with pytest.raises(InvalidPolicy, match="add a workflow"):
        make(without)


def test_eventless_cycles_do_not_spin(make: Make) -> None:
    loop = flow(
        a={"transitions": [{"to": "b", "when": "true"}]},
        b={"transitions": [{"to": "a", "when": "true"}]},
    )
    policy = make(loop)
    outcome = policy.workflow_start({"n": 0}, object_id="obj-1", now=NOW)
    assert [s.target for s in outcome.steps] == ["a", "b"]
    assert outcome.status.state == "b"
