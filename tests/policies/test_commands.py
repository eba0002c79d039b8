"""Commands, permissions and amendment, on the shipped examples."""

from __future__ import annotations

from typing import Any

import pytest

from policies import (
    Forbidden,
    InvalidData,
    InvalidParams,
    ObjectNotGoverned,
    Policy,
    Rollback,
    UnknownCommand,
    UntrustedSuccessor,
    example_document,
    generate_key,
    load_policy,
    sign_policy,
)

from .conftest import NOW, SENSOR, Make, minimal

OPS = {"sub": "ops", "roles": []}


def report(policy: Policy, params: Any, caller: Any = SENSOR, **kw: Any) -> Any:
    return policy.command(
        "report",
        params,
        caller=caller,
        data=kw.pop("data", policy.initial_data),
        object_id="thermostat-1",
        now=NOW,
        **kw,
    )


def test_report_runs_rules_on_change_and_returns(thermostat: Policy) -> None:
    d = report(thermostat, {"temperature": 35})
    assert d.data == {"temperature": 35.0, "threshold": 30, "status": "alarm"}
    assert d.changes[0] == {"op": "set", "path": "temperature", "value": 35.0}
    assert d.fired == ["overheat"]
    assert d.result == "alarm"
    assert len(d.effects) == 1


def test_without_on_change_rules_wait(make: Make, thermo_doc: dict[str, Any]) -> None:
    thermo_doc["evaluation"]["on_change"] = False
    d = report(make(thermo_doc, object_id="thermostat-1"), {"temperature": 35})
    assert d.data["status"] == "ok"
    assert d.fired == []
    assert d.result == "ok"


def test_when_false_is_a_denial_with_data_unchanged(thermostat: Policy) -> None:
    d = report(thermostat, {"temperature": 35}, caller={"sub": "x", "roles": []})
    assert d.data == thermostat.initial_data
    assert not d.applied
    assert d.denied == [
        {"command": "report", "reason": "when is false for this caller", "by": "when"}
    ]


def test_when_error_is_a_denial_and_an_error(thermostat: Policy) -> None:
    d = report(thermostat, {"temperature": 35}, caller={"sub": "x"})
    assert d.denied
    assert d.errors[0]["command"] == "report"
    assert d.errors[0]["error"] == "no such key: 'roles'"
    assert d.data == thermostat.initial_data


@pytest.mark.parametrize(
    ("params", "param", "message"),
    [
        ({}, "temperature", "param 'temperature' is missing"),
        ({"temperature": "hot"}, "temperature", "must be a JSON number"),
        ({"temperature": True}, "temperature", "must be a JSON number"),
        ({"temperature": 1, "x": 2}, "x", "unknown param 'x'; declared: temperature"),
        ([1], None, "params must be an object"),
    ],
)
def test_bad_params_name_the_param(
    thermostat: Policy, params: Any, param: str | None, message: str
) -> None:
    with pytest.raises(InvalidParams, match=message) as info:
        report(thermostat, params)
    assert info.value.param == param


@pytest.mark.parametrize(
    ("kind", "good", "bad"),
    [
        ("integer", 3.0, 3.5),
        ("string", "s", 1),
        ("boolean", False, 0),
        ("object", {"a": 1}, [1]),
        ("array", [1], {"a": 1}),
    ],
)
def test_param_types(make: Make, kind: str, good: Any, bad: Any) -> None:
    doc = minimal(commands={"c": {"params": {"p": kind}, "do": [{"set": {"p": "params.p"}}]}})
    p = make(doc)
    d = p.command("c", {"p": good}, caller={}, data={}, object_id="obj-1", now=NOW)
    assert d.data == {"p": good}
    with pytest.raises(InvalidParams, match=f"must be a JSON {kind}"):
        p.command("c", {"p": bad}, caller={}, data={}, object_id="obj-1", now=NOW)


def test_unknown_command(thermostat: Policy) -> None:
    with pytest.raises(UnknownCommand, match="no command 'explode'; commands: report") as info:
        thermostat.command("explode", {}, caller=SENSOR, data={}, object_id="thermostat-1")
    assert info.value.command == "explode"


def test_command_checks_object_and_caller(thermostat: Policy) -> None:
    with pytest.raises(ObjectNotGoverned):
        thermostat.command("report", {"temperature": 1}, caller=SENSOR, data={}, object_id="x")
    with pytest.raises(InvalidData, match="caller"):
        report(thermostat, {"temperature": 1}, caller="root")


def test_command_actions_outside_capabilities_are_denied(make: Make) -> None:
    doc = minimal(capabilities={"write": ["n"]}, commands={"c": {"do": [{"set": {"m": "1"}}]}})
    d = make(doc).command("c", {}, caller={}, data={}, object_id="obj-1", now=NOW)
    assert d.denied == [
        {
            "command": "c",
            "action": "set",
            "target": "m",
            "reason": "path 'm' is not in capabilities.write",
            "by": "capability",
            "capability": "write",
        }
    ]


def test_returns_error_is_recorded(make: Make) -> None:
    doc = minimal(commands={"c": {"do": [{"set": {"n": "1"}}], "returns": "data.nope"}})
    d = make(doc).command("c", {}, caller={}, data={}, object_id="obj-1", now=NOW)
    assert d.data == {"n": 1}
    assert d.result is None
    assert d.errors == [{"command": "c", "expression": "data.nope", "error": "no such key: 'nope'"}]


class TestPurchaseApproval:
    """Spending cap and the two-person rule."""

    @pytest.fixture
    def purchase(self, make: Make) -> Policy:
        return make(example_document("purchase_approval"), object_id="purchase-1")

    def send(self, p: Policy, data: Any, name: str, who: str, **params: Any) -> Any:
        caller = {"sub": who, "roles": ["approver"] if who != "alice" else []}
        return p.command(name, params, caller=caller, data=data, object_id="purchase-1", now=NOW)

    def test_cap_is_enforced(self, purchase: Policy) -> None:
        d = self.send(purchase, purchase.initial_data, "submit", "alice", amount=5001)
        assert d.denied
        assert d.data["status"] == "draft"

    def test_two_distinct_approvers_then_order(self, purchase: Policy) -> None:
        data = self.send(purchase, purchase.initial_data, "submit", "alice", amount=1200).data
        assert data["status"] == "submitted"
        assert self.send(purchase, data, "approve", "alice").denied  # requester cannot approve
        first = self.send(purchase, data, "approve", "bob")
        assert first.result == 1
        assert first.data["status"] == "submitted"
        assert self.send(purchase, first.data, "approve", "bob").denied  # no double vote
        second = self.send(purchase, first.data, "approve", "carol")
        assert second.result == 2
        assert second.data["status"] == "ordered"
        assert second.fired == ["approved", "order"]
        assert [e["kind"] for e in second.effects] == ["publish", "invoke_service"]
        assert second.effects[0]["pubsub"] == "purchases"
        assert self.send(purchase, second.data, "approve", "dave").denied  # capped at two

    def test_read_permission_uses_data(self, purchase: Policy) -> None:
        data = {**purchase.initial_data, "requester": "alice"}
        assert purchase.allows("read", {"sub": "alice"}, object_id="purchase-1", data=data)
        assert not purchase.allows("read", {"sub": "eve", "roles": []}, object_id="p", data=data)


def test_allows(thermostat: Policy) -> None:
    oid = "thermostat-1"
    assert thermostat.allows("read", {"roles": ["viewer"]}, object_id=oid)
    assert not thermostat.allows("read", {"roles": []}, object_id=oid)
    assert not thermostat.allows("read", {}, object_id=oid)  # error denies
    assert not thermostat.allows("evaluate", OPS, object_id=oid)  # absent denies
    assert thermostat.allows("export", OPS, object_id=oid)


class TestAmendment:
    def successor(self, make: Make, doc: dict[str, Any], **changes: Any) -> Policy:
        return make(
            {**doc, **changes}, object_id="boiler-1" if "objects" in changes else "thermostat-1"
        )

    def test_admitted(self, make: Make, thermostat: Policy, thermo_doc: dict[str, Any]) -> None:
        new = self.successor(make, thermo_doc, version=4)
        thermostat.admits_successor(new, OPS, object_id="thermostat-1")

    def test_caller_needs_amend(
        self, make: Make, thermostat: Policy, thermo_doc: dict[str, Any]
    ) -> None:
        new = self.successor(make, thermo_doc, version=4)
        with pytest.raises(Forbidden, match="may not amend") as info:
            thermostat.admits_successor(new, {"sub": "mallory"})
        assert info.value.reason == "amend"

    @pytest.mark.parametrize("version", [3, 2])
    def test_no_rollback(
        self, make: Make, thermostat: Policy, thermo_doc: dict[str, Any], version: int
    ) -> None:
        new = self.successor(make, thermo_doc, version=version)
        with pytest.raises(Rollback, match=f"version {version} is not higher than current 3"):
            thermostat.admits_successor(new, OPS)

    def test_successor_issuer(self, thermostat: Policy, thermo_doc: dict[str, Any]) -> None:
        rogue = generate_key(kid="rogue", issuer="https://rogue.example")
        from policies import TrustStore

        trust = TrustStore.from_jwks({"keys": [rogue.public_jwk]})
        new = load_policy(sign_policy({**thermo_doc, "version": 9}, rogue), trust, now=NOW)
        with pytest.raises(UntrustedSuccessor, match=r"'https://rogue\.example' is not in"):
            thermostat.admits_successor(new, OPS)

    def test_successor_must_govern_the_object(
        self, make: Make, thermostat: Policy, thermo_doc: dict[str, Any]
    ) -> None:
        new = self.successor(make, thermo_doc, version=4, objects=["boiler-*"])
        with pytest.raises(ObjectNotGoverned):
            thermostat.admits_successor(new, OPS, object_id="thermostat-1")
