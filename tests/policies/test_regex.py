"""Schema regexes run on RE2: hostile input cannot backtrack, and what RE2 cannot run is
refused when the policy loads."""

from __future__ import annotations

from typing import Any

import pytest

from policies import InvalidPolicy, SigningKey, sign_policy

from .conftest import NOW, Make, minimal

EVIL = "^(a+)+$"
HOSTILE = "a" * 40 + "!"  # on Python's `re`: about 2**40 steps


def command_doc(schema: dict[str, Any]) -> dict[str, Any]:
    return minimal(
        data={"name": "a"},
        schema=schema,
        commands={"rename": {"params": {"to": "string"}, "do": [{"set": {"name": "params.to"}}]}},
    )


def rename(make: Make, schema: dict[str, Any], to: str) -> list[dict[str, Any]]:
    policy = make(command_doc(schema))
    decision = policy.command(
        "rename", {"to": to}, caller={}, data={"name": "a"}, object_id="obj-1", now=NOW
    )
    return decision.denied


def test_a_catastrophic_pattern_denies_hostile_input_without_backtracking(make: Make) -> None:
    schema = {"type": "object", "properties": {"name": {"type": "string", "pattern": EVIL}}}
    denied = rename(make, schema, HOSTILE)
    assert denied == [
        {
            "command": "rename",
            "reason": f"schema: the result would be invalid: name: {HOSTILE!r} does not match "
            f"{EVIL!r}",
            "by": "schema",
            "path": "name",
        }
    ]
    assert rename(make, schema, "a" * 40) == []


def test_pattern_properties_and_additional_properties_use_re2(make: Make) -> None:
    schema = {"patternProperties": {EVIL: {}}, "additionalProperties": False}
    policy = make(minimal(data={}, schema=schema))
    check = policy._compiled.validator
    assert check is not None
    assert check.problem({HOSTILE: 1}) == (
        f"(root): {HOSTILE!r} does not match any of the regexes: {EVIL!r}"
    )
    assert check.problem({"aaaa": 1}) is None


@pytest.mark.parametrize(
    ("schema", "where"),
    [
        ({"type": "object", "properties": {"n": {"pattern": r"(a)\1"}}}, "properties.n.pattern"),
        ({"patternProperties": {"(?=a)": {}}}, "schema.patternProperties"),
    ],
)
def test_patterns_re2_cannot_run_are_refused_at_load(
    key: SigningKey, schema: dict[str, Any], where: str
) -> None:
    with pytest.raises(InvalidPolicy, match=rf"{where}: pattern .* \(RE2\)"):
        sign_policy(minimal(data={}, schema=schema), key, now=NOW)


def test_patterns_in_data_keywords_are_not_regexes(make: Make) -> None:
    schema = {"type": "object", "properties": {"n": {"const": {"pattern": r"(a)\1"}}}}
    make(minimal(data={}, schema=schema))


def test_unevaluated_properties_beside_pattern_properties_is_refused(key: SigningKey) -> None:
    schema = {"patternProperties": {"^a": {}}, "unevaluatedProperties": False}
    with pytest.raises(InvalidPolicy, match="use additionalProperties"):
        sign_policy(minimal(data={}, schema=schema), key, now=NOW)
