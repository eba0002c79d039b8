"""CEL cost is bounded: deep comprehension nesting is refused at load, and an expression that
could cost too much over its inputs is not run (a recorded error, never a stall)."""

from __future__ import annotations

from typing import Any

import pytest

from policies import InputLimits, InvalidPolicy, SigningKey, TrustStore, load_policy, sign_policy
from policies._celcost import MAX_CEL_COST, shape

from .conftest import NOW, Make, minimal

QUADRATIC = "params.p.all(x, params.p.exists(y, y == x))"


def nested_maps(levels: int) -> str:
    """`[1,2].map(a0, [1,2].map(a1, ...))`: 2**levels results."""
    return "[1,2]" + "".join(f".map(a{i},[1,2]" for i in range(levels)) + ")" * levels


def guarded(when: str) -> dict[str, Any]:
    return minimal(commands={"go": {"params": {"p": "array"}, "when": when, "do": []}})


def test_sixteen_nested_maps_are_refused_at_load_naming_the_rule(key: SigningKey) -> None:
    source = nested_maps(16)
    assert len(source) < 260
    doc = minimal(rules=[{"name": "bomb", "when": f"size({source}) > 0", "do": [{"unset": ["n"]}]}])
    with pytest.raises(InvalidPolicy, match=r"rule 'bomb' when: comprehensions .* nest 16 deep"):
        sign_policy(doc, key, now=NOW)


def test_the_depth_limit_is_the_hosts(key: SigningKey, trust: TrustStore) -> None:
    jws = sign_policy(guarded(QUADRATIC), key, now=NOW)
    load_policy(jws, trust, now=NOW)
    with pytest.raises(InvalidPolicy, match=r"command 'go' when: .*allows 1 \(RESIDENT_MAX_COMP"):
        load_policy(jws, trust, now=NOW, inputs=InputLimits(max_comprehension_depth=1))


def test_a_quadratic_guard_over_a_big_param_is_denied_without_running(make: Make) -> None:
    policy = make(guarded(QUADRATIC))
    decision = policy.command(
        "go", {"p": list(range(2000))}, caller={}, data={"n": 0}, object_id="obj-1", now=NOW
    )
    assert decision.denied == [
        {"command": "go", "reason": "when is false for this caller", "by": "when"}
    ]
    [error] = decision.errors
    assert error["command"] == "go"
    assert error["error"].startswith("too costly: up to 8000000 steps over inputs this large")
    small = policy.command(
        "go", {"p": list(range(20))}, caller={}, data={"n": 0}, object_id="obj-1", now=NOW
    )
    assert (small.denied, small.errors) == ([], [])


def test_a_rule_that_copies_a_big_string_per_step_is_an_error(make: Make) -> None:
    rule = {"name": "copy", "when": "data.l.map(x, data.s + data.s).size() > 0"}
    policy = make(minimal(rules=[{**rule, "do": [{"set": {"n": "1"}}]}]))
    data = {"n": 0, "l": list(range(100)), "s": "a" * 200_000}
    decision = policy.evaluate(data, object_id="obj-1", now=NOW)
    assert decision.data == data
    assert decision.errors[0]["error"].startswith("too costly")
    assert policy.evaluate({**data, "s": "a"}, object_id="obj-1", now=NOW).data["n"] == 1


@pytest.mark.parametrize(
    ("source", "depth", "exponent", "literal"),
    [
        ("data.x > 1", 0, 0, 0),
        ("[1, 2, 3].all(x, x > 0)", 1, 1, 3),
        ("p.map(x, x).all(y, y > 0)", 1, 2, 0),
        ("p.filter(x, p.exists(y, y == x)).size() > 0", 2, 3, 0),
        ("'.map(' + \".all(\" == r'\\'", 0, 0, 0),
        ("{'a': 1, 'b': 2}.exists(k, k == 'a')", 1, 1, 2),
        ("p.map(x, (x", 1, 2, 0),  # does not compile; measured all the same
    ],
)
def test_shape(source: str, depth: int, exponent: int, literal: int) -> None:
    measured = shape(source)
    assert (measured.depth, measured.exponent, measured.literal) == (depth, exponent, literal)


def test_the_budget_admits_linear_work_over_big_lists() -> None:
    assert shape("p.all(x, x > 0)").cost([list(range(100_000))]) <= MAX_CEL_COST
    assert shape("p.all(x, x + 1 > 0)").cost([list(range(1000)), "ok"]) <= MAX_CEL_COST
