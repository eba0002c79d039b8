"""Rules: document order, unit admission, capabilities, host narrowing, schema, CEL errors."""

from __future__ import annotations

import json
from typing import Any

import pytest

from policies import Decision, HostLimits, InvalidData, ObjectNotGoverned, Policy

from .conftest import NOW, Make, minimal

HOT = {"temperature": 35, "threshold": 30, "status": "ok"}


def rule(name: str, when: str, *do: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "when": when, "do": list(do)}


def run(policy: Policy, data: dict[str, Any], **kw: Any) -> Decision:
    return policy.evaluate(data, object_id="obj-1", cycle=1, now=NOW, **kw)


def test_thermostat_overheats_then_recovers(thermostat: Policy) -> None:
    d = thermostat.evaluate(HOT, object_id="thermostat-1", cycle=1, now=NOW)
    assert d.data == {"temperature": 35, "threshold": 30, "status": "alarm"}
    assert d.changes == [{"op": "set", "path": "status", "value": "alarm"}]
    assert d.effects == [
        {
            "kind": "publish",
            "pubsub": "pubsub",
            "topic": "alerts",
            "data": {"object": "thermostat-1", "temperature": 35},
        }
    ]
    assert (d.denied, d.errors, d.fired, d.applied, d.changed) == ([], [], ["overheat"], True, True)
    cooled = {**d.data, "temperature": 20}
    again = thermostat.evaluate(cooled, object_id="thermostat-1", cycle=2, now=NOW)
    assert again.data["status"] == "ok"
    assert again.fired == ["recover"]
    assert again.effects == []


def test_quiet_cycle_proposes_nothing_and_input_is_untouched(thermostat: Policy) -> None:
    calm = {"temperature": 20, "threshold": 30, "status": "ok"}
    snapshot = json.dumps(calm)
    d = thermostat.evaluate(calm, object_id="thermostat-1", now=NOW)
    assert (d.changes, d.effects, d.fired, d.applied) == ([], [], [], False)
    thermostat.evaluate(HOT, object_id="thermostat-1", now=NOW)
    assert json.dumps(calm) == snapshot
    assert HOT["status"] == "ok"


def test_decision_is_plain_json(thermostat: Policy) -> None:
    d = thermostat.evaluate(HOT, object_id="thermostat-1", now=NOW)
    assert json.loads(json.dumps(d.to_dict())) == d.to_dict()


def test_later_rule_sees_earlier_changes(make: Make) -> None:
    p = make(
        minimal(
            rules=[
                rule("first", "data.n == 0", {"set": {"n": "1"}}),
                rule("second", "data.n == 1", {"set": {"n": "2"}}),
            ]
        )
    )
    d = run(p, {"n": 0})
    assert d.data == {"n": 2}
    assert d.fired == ["first", "second"]


def test_actions_of_a_rule_see_the_data_the_rule_started_with(make: Make) -> None:
    p = make(minimal(rules=[rule("r", "true", {"set": {"n": "5", "m": "data.n"}})]))
    assert run(p, {"n": 0}).data == {"n": 5, "m": 0}


def test_set_nested_and_unset(make: Make) -> None:
    p = make(
        minimal(
            rules=[
                rule("r", "true", {"set": {"a.b.c": "'deep'"}}, {"unset": ["gone", "absent"]}),
            ]
        )
    )
    d = run(p, {"a": {"x": 1}, "gone": True})
    assert d.data == {"a": {"x": 1, "b": {"c": "deep"}}}
    assert d.changes == [
        {"op": "set", "path": "a.b.c", "value": "deep"},
        {"op": "unset", "path": "gone"},
    ]


def test_each_effect_kind_is_resolved(make: Make) -> None:
    doc = minimal(
        capabilities={
            "write": [],
            "publish": ["events/done", "alerts"],
            "bindings": ["mailer"],
            "services": ["billing/charge"],
        },
        rules=[
            rule(
                "all",
                "true",
                {"publish": {"topic": "done", "pubsub": "events", "data": "data.n + 1"}},
                {"publish": {"topic": "alerts"}},
                {
                    "invoke_binding": {
                        "name": "mailer",
                        "operation": "create",
                        "data": "{'to': 'ops'}",
                        "metadata": {"subject": "hi"},
                    }
                },
                {"invoke_service": {"app_id": "billing", "method": "charge", "data": "[1, 2]"}},
            )
        ],
    )
    d = run(make(doc), {"n": 1})
    assert d.effects == [
        {"kind": "publish", "pubsub": "events", "topic": "done", "data": 2},
        {"kind": "publish", "pubsub": "pubsub", "topic": "alerts", "data": None},
        {
            "kind": "invoke_binding",
            "name": "mailer",
            "operation": "create",
            "metadata": {"subject": "hi"},
            "data": {"to": "ops"},
        },
        {"kind": "invoke_service", "app_id": "billing", "method": "charge", "data": [1, 2]},
    ]
    assert d.applied
    assert not d.changed


@pytest.mark.parametrize(
    ("action", "kind", "reason"),
    [
        ({"set": {"secret": "1"}}, "set", "path 'secret' is not in capabilities.write"),
        ({"unset": ["secret"]}, "unset", "path 'secret' is not in capabilities.write"),
        ({"publish": {"topic": "leak"}}, "publish", "topic 'pubsub/leak' is not in capab"),
        ({"publish": {"topic": "n", "pubsub": "other"}}, "publish", "topic 'other/n'"),
        (
            {"invoke_binding": {"name": "smtp", "operation": "create"}},
            "invoke_binding",
            "binding 'smtp' is not in capabilities",
        ),
        (
            {"invoke_service": {"app_id": "bank", "method": "pay"}},
            "invoke_service",
            "service 'bank/pay' is not in capabilities.services",
        ),
    ],
)
def test_every_capability_kind_is_enforced_as_a_unit(
    make: Make, action: dict[str, Any], kind: str, reason: str
) -> None:
    doc = minimal(
        capabilities={"write": ["n", "a.b"], "publish": ["n"]},
        rules=[rule("greedy", "true", {"set": {"n": "1"}}, action)],
    )
    d = run(make(doc), {"n": 0, "secret": 1})
    assert d.data == {"n": 0, "secret": 1}
    assert d.changes == []
    assert d.effects == []
    assert len(d.denied) == 1
    assert d.denied[0]["rule"] == "greedy"
    assert d.denied[0]["action"] == kind
    assert d.denied[0]["reason"].startswith(reason)


def test_write_capability_covers_descendants_only(make: Make) -> None:
    doc = minimal(
        capabilities={"write": ["a.b"]},
        rules=[
            rule("child", "true", {"set": {"a.b.c": "1"}}),
            rule("parent", "true", {"set": {"a": "{}"}}),
        ],
    )
    d = run(make(doc), {})
    assert d.fired == ["child"]
    assert d.denied[0]["rule"] == "parent"


@pytest.mark.parametrize(
    ("limits", "fired"),
    [
        (None, ["pub", "bind", "call"]),
        (HostLimits(), ["pub", "bind", "call"]),
        (HostLimits(publish=[], bindings=[], services=[]), []),
        (HostLimits(publish=["pubsub/alerts"]), ["pub", "bind", "call"]),
        (HostLimits(publish=["other/alerts"], bindings=["mailer"]), ["bind", "call"]),
        (HostLimits(services=["billing/refund"]), ["pub", "bind"]),
    ],
)
def test_host_limits_only_narrow(make: Make, limits: HostLimits | None, fired: list[str]) -> None:
    doc = minimal(
        capabilities={
            "publish": ["alerts"],
            "bindings": ["mailer"],
            "services": ["billing/charge"],
        },
        rules=[
            rule("pub", "true", {"publish": {"topic": "alerts"}}),
            rule("bind", "true", {"invoke_binding": {"name": "mailer", "operation": "create"}}),
            rule("call", "true", {"invoke_service": {"app_id": "billing", "method": "charge"}}),
        ],
    )
    d = run(make(doc), {}, limits=limits)
    assert d.fired == fired
    assert {x["rule"] for x in d.denied} == {"pub", "bind", "call"} - set(fired)
    assert all("host limits" in x["reason"] for x in d.denied)


def test_host_cannot_widen_policy(make: Make) -> None:
    doc = minimal(capabilities={}, rules=[rule("pub", "true", {"publish": {"topic": "x"}})])
    d = run(make(doc), {}, limits=HostLimits(publish=["x"]))
    assert d.effects == []
    assert "capabilities.publish" in d.denied[0]["reason"]


def test_max_actions_denies_the_rule_that_would_exceed_it(make: Make) -> None:
    doc = minimal(
        evaluation={"max_actions": 3},
        rules=[
            rule("two", "true", {"set": {"a": "1", "b": "2"}}),
            rule("two-more", "true", {"set": {"c": "3", "d": "4"}}),
            rule("one", "true", {"set": {"e": "5"}}),
        ],
    )
    d = run(make(doc), {})
    assert d.fired == ["two", "one"]
    assert d.data == {"a": 1, "b": 2, "e": 5}
    assert d.denied == [
        {
            "rule": "two-more",
            "reason": "max_actions: 2 action(s) exceed the remaining budget 1",
            "by": "max_actions",
            "needed": 2,
            "remaining": 1,
        }
    ]
    narrowed = run(make(doc), {}, limits=HostLimits(max_actions=1))
    assert narrowed.fired == ["one"]


def test_schema_violation_rolls_the_rule_back(thermo_doc: dict[str, Any], make: Make) -> None:
    thermo_doc["rules"].insert(0, rule("bogus", "true", {"set": {"status": "'melting'"}}))
    thermo_doc["rules"].insert(0, rule("also", "true", {"unset": ["threshold"]}))
    p = make(thermo_doc, object_id="thermostat-1")
    d = p.evaluate(HOT, object_id="thermostat-1", now=NOW)
    assert d.data["status"] == "alarm"
    assert d.fired == ["overheat"]
    reasons = {x["rule"]: x["reason"] for x in d.denied}
    assert reasons["bogus"].startswith("schema: the result would be invalid: status: 'melting'")
    assert (
        reasons["also"] == "schema: the result would be invalid: (root): 'threshold' is a "
        "required property"
    )


def test_schema_with_complex_keywords_is_validated_whole(make: Make) -> None:
    schema = {"allOf": [{"type": "object"}], "properties": {"n": {"maximum": 2}}}
    doc = minimal(schema=schema, rules=[rule("up", "true", {"set": {"n": "data.n + 1"}})])
    p = make(doc)
    assert run(p, {"n": 1}).data == {"n": 2}
    assert run(p, {"n": 2}).denied[0]["reason"].startswith("schema: the result would be invalid")


@pytest.mark.parametrize(
    ("when", "error"),
    [
        ("data.missing > 1", "no such key: 'missing'"),
        ("data.n + 'x' == 'y'", "No such overload"),
        ("1 / data.n == 1", "division by zero"),
        ("data.n", "when must be a bool, got int"),
    ],
)
def test_runtime_errors_mark_the_rule_and_others_go_on(make: Make, when: str, error: str) -> None:
    doc = minimal(
        rules=[rule("bad", when, {"set": {"n": "9"}}), rule("good", "true", {"set": {"ok": "1"}})]
    )
    d = run(make(doc), {"n": 0})
    assert d.fired == ["good"]
    assert d.data == {"n": 0, "ok": 1}
    assert len(d.errors) == 1
    assert d.errors[0]["rule"] == "bad"
    assert d.errors[0]["expression"] == when
    assert error in d.errors[0]["error"]


@pytest.mark.parametrize(
    ("expr", "error"),
    [
        ("9223372036854775807", "outside the JSON-safe range"),
        ("{1: 2}", "map key 1 is not a string"),
        ("1.0 / 0.0", "not a finite number"),
        ("data.n.foo", "No such overload"),
    ],
)
def test_action_value_errors_drop_the_whole_rule(make: Make, expr: str, error: str) -> None:
    doc = minimal(rules=[rule("r", "true", {"set": {"ok": "true", "n": expr}})])
    d = run(make(doc), {"n": 0})
    assert d.data == {"n": 0}
    assert d.fired == []
    assert error in d.errors[0]["error"]


def test_set_through_a_scalar_is_an_error(make: Make) -> None:
    doc = minimal(rules=[rule("r", "true", {"set": {"n.x": "1"}})])
    d = run(make(doc), {"n": 0})
    assert d.errors[0]["error"] == "cannot set n.x: n is not an object"


def test_cel_special_values_become_json(make: Make) -> None:
    doc = minimal(
        rules=[
            rule(
                "r",
                "true",
                {"set": {"at": "now", "took": "duration('90s')", "raw": "b'hi'", "u": "3u"}},
            )
        ]
    )
    d = run(make(doc), {})
    assert d.data == {"at": "2030-01-01T00:00:00.000000Z", "took": "90s", "raw": "aGk=", "u": 3}


def test_object_variable_and_ungoverned_object(make: Make) -> None:
    doc = minimal(rules=[rule("r", "true", {"set": {"who": "object.id", "c": "object.cycle"}})])
    p = make(doc)
    assert p.evaluate({}, object_id="obj-9", cycle=7, now=NOW).data == {"who": "obj-9", "c": 7}
    with pytest.raises(ObjectNotGoverned):
        p.evaluate({}, object_id="elsewhere", now=NOW)


def test_data_must_be_an_object(thermostat: Policy) -> None:
    with pytest.raises(InvalidData, match="JSON object"):
        thermostat.evaluate([1], object_id="thermostat-1")  # type: ignore[arg-type]


def test_whole_data_expressions_see_everything(make: Make) -> None:
    doc = minimal(rules=[rule("r", "size(data) == 2", {"set": {"keys": "size(data)"}})])
    assert run(make(doc), {"a": 1, "b": {"c": 2}}).data["keys"] == 2


def test_same_expression_sees_new_values_each_cycle(make: Make) -> None:
    """The per-expression context cache must never serve stale or type-confused values."""
    doc = minimal(rules=[rule("r", "true", {"set": {"out": "data.v"}})])
    p = make(doc)
    for value in [1, 1.0, True, "1", [1], {"k": 1}, 1, None, 2]:
        assert run(p, {"v": value}).data["out"] == value
        assert type(run(p, {"v": value}).data["out"]) is type(value)
