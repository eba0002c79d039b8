"""Host limits and durations, and the property that authority is always policy ∩ host."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policies import (
    HostLimits,
    InvalidConfig,
    InvalidPolicy,
    SigningKey,
    TrustStore,
    load_policy,
    parse_duration,
    sign_policy,
)

from .conftest import NOW, Make, minimal


@pytest.mark.parametrize("value", ["5s", "PT5S", timedelta(seconds=5)])
def test_min_period_forms(value: Any) -> None:
    assert HostLimits(min_period=value).min_period == timedelta(seconds=5)


def test_from_mapping_and_typed_errors() -> None:
    limits = HostLimits.from_mapping({"publish": ["alerts"], "max_actions": 3})
    assert limits.publish == ("alerts",)
    assert limits.services is None
    assert limits.allows_topic("pubsub/alerts")
    assert not limits.allows_topic("other/alerts")
    with pytest.raises(InvalidConfig, match="min_period"):
        HostLimits.from_mapping({"min_period": "soon"})
    with pytest.raises(InvalidConfig, match="colour"):
        HostLimits.from_mapping({"colour": 1})
    with pytest.raises(InvalidConfig, match="max_actions"):
        HostLimits(max_actions=-1)
    with pytest.raises(InvalidConfig, match="mapping"):
        HostLimits.from_mapping(["x"])  # type: ignore[arg-type]


def test_effective_period(thermostat: Any) -> None:
    assert thermostat.effective_period(None) == timedelta(seconds=30)
    assert thermostat.effective_period(HostLimits(min_period="1m")) == timedelta(minutes=1)
    assert thermostat.effective_period(HostLimits(min_period="5s")) == timedelta(seconds=30)


def test_parse_duration_units() -> None:
    assert parse_duration("1h30m") == timedelta(minutes=90)
    assert parse_duration("250us") == timedelta(microseconds=250)
    with pytest.raises(InvalidPolicy, match="years or months"):
        parse_duration("P1Y")


TOPICS = ["alerts", "events/done", "other/alerts"]
BINDINGS = ["mailer", "sms"]
SERVICES = ["billing/charge", "bank/pay"]
PATHS = ["a", "b", "a.x", "c"]

action = st.one_of(
    st.builds(lambda p: {"set": {p: "1"}}, st.sampled_from(PATHS)),
    st.builds(lambda p: {"unset": [p]}, st.sampled_from(PATHS)),
    st.builds(lambda t: {"publish": {"topic": t}}, st.sampled_from(TOPICS)),
    st.builds(
        lambda n: {"invoke_binding": {"name": n, "operation": "create"}}, st.sampled_from(BINDINGS)
    ),
    st.builds(
        lambda s: {"invoke_service": dict(zip(("app_id", "method"), s.split("/"), strict=True))},
        st.sampled_from(SERVICES),
    ),
)
subset = st.lists


def optional(xs: list[str]) -> st.SearchStrategy[list[str] | None]:
    """None (no host restriction) or any subset, [] included."""
    return st.none() | subset(st.sampled_from(xs), unique=True)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rules=st.lists(st.lists(action, min_size=1, max_size=3), min_size=1, max_size=4),
    write=subset(st.sampled_from([*PATHS, "*"]), unique=True),
    publish=subset(st.sampled_from(TOPICS), unique=True),
    bindings=subset(st.sampled_from(BINDINGS), unique=True),
    services=subset(st.sampled_from(SERVICES), unique=True),
    policy_max=st.integers(0, 6),
    host=st.builds(
        HostLimits,
        publish=optional(["pubsub/alerts", "events/done", "other/alerts"]),
        bindings=optional(BINDINGS),
        services=optional(SERVICES),
        max_actions=st.none() | st.integers(0, 6),
    ),
)
def test_no_decision_exceeds_policy_and_host(
    key: SigningKey,
    trust: TrustStore,
    rules: list[list[dict[str, Any]]],
    write: list[str],
    publish: list[str],
    bindings: list[str],
    services: list[str],
    policy_max: int,
    host: HostLimits,
) -> None:
    doc = minimal(
        data={"a": {"x": 0}, "b": 1},
        evaluation={"max_actions": policy_max},
        capabilities={
            "write": write,
            "publish": publish,
            "bindings": bindings,
            "services": services,
        },
        rules=[{"name": f"r{i}", "when": "true", "do": do} for i, do in enumerate(rules)],
    )
    policy = load_policy(sign_policy(doc, key, now=NOW), trust, now=NOW)
    d = policy.evaluate({"a": {"x": 0}, "b": 1}, object_id="obj-1", now=NOW, limits=host)
    cap_topics = {t if "/" in t else f"pubsub/{t}" for t in publish}
    for change in d.changes:
        assert any(
            w == "*" or change["path"] == w or change["path"].startswith(w + ".") for w in write
        )
    for effect in d.effects:
        if effect["kind"] == "publish":
            key_ = f"{effect['pubsub']}/{effect['topic']}"
            assert key_ in cap_topics
            assert host.publish is None or key_ in {
                t if "/" in t else f"pubsub/{t}" for t in host.publish
            }
        elif effect["kind"] == "invoke_binding":
            assert effect["name"] in bindings
            assert host.bindings is None or effect["name"] in host.bindings
        else:
            svc = f"{effect['app_id']}/{effect['method']}"
            assert svc in services
            assert host.services is None or svc in host.services
    budget = policy_max if host.max_actions is None else min(policy_max, host.max_actions)
    assert len(d.changes) + len(d.effects) <= budget


def test_examples_use_policy_and_host_together(make: Make) -> None:
    doc = minimal(
        capabilities={"publish": ["alerts"]},
        rules=[{"name": "p", "when": "true", "do": [{"publish": {"topic": "alerts"}}]}],
    )
    p = make(doc)
    assert p.evaluate({}, object_id="obj-1", now=NOW, limits=HostLimits(publish=["alerts"])).effects


@pytest.mark.parametrize("key", ["publish", "bindings", "services"])
def test_an_empty_allow_list_means_nothing_never_anything(key: str) -> None:
    with pytest.raises(InvalidConfig, match=f"`{key}` is empty"):
        HostLimits.from_mapping(yaml.safe_load(f"{key}:\n"))  # YAML null: refused, not "any"
    nothing = HostLimits.from_mapping(yaml.safe_load(f"{key}: []\n"))
    allowed = {
        "publish": nothing.allows_topic("pubsub/alerts"),
        "bindings": nothing.allows_binding("mailer"),
        "services": nothing.allows_service("billing/refund"),
    }
    assert allowed == {k: k != key for k in allowed}
