"""Gauges count what this replica hosts now: an object that moves away leaves them."""

from __future__ import annotations

from prometheus_client import REGISTRY

from actors._metrics import record_activation, record_outbox


def value(name: str) -> float:
    found = REGISTRY.get_sample_value(name)
    return 0.0 if found is None else found


def test_an_object_that_moves_away_leaves_the_outbox_and_hosted_gauges() -> None:
    hosted, depth = value("resident_hosted_objects"), value("resident_outbox_depth")
    record_activation("metrics-a", active=True)
    record_activation("metrics-b", active=True)
    record_outbox("metrics-a", 3)
    record_outbox("metrics-b", 2)
    record_outbox("metrics-a", 1)  # one of three delivered
    assert value("resident_outbox_depth") == depth + 3
    assert value("resident_hosted_objects") == hosted + 2

    record_activation("metrics-a", active=False)  # placement moved it to another replica
    assert value("resident_outbox_depth") == depth + 2
    assert value("resident_hosted_objects") == hosted + 1
    record_activation("metrics-b", active=False)
    assert value("resident_outbox_depth") == depth
