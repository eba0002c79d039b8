"""Input limits: every size, depth and count a host bounds, at and just past each boundary."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from policies import (
    MAX_POLICY_BYTES,
    DataTooLarge,
    Decision,
    InputLimits,
    InvalidConfig,
    InvalidPolicy,
    NumberOutOfRange,
    PolicyTooLarge,
    SigningKey,
    TokenError,
    TooDeep,
    TrustStore,
    UnsignedPolicy,
    data_digest,
    load_policy,
    next_entry,
    read_document,
    sign_policy,
    verify_token,
)
from policies._bundle import parse_bundle
from policies._inputs import ENVELOPE_DEPTH, json_depth
from policies._signing import POLICY_TYP, sign_compact

from .conftest import ISSUER, NOW, minimal

ROOMY = InputLimits(max_rules=10_000, max_commands=10_000, max_expression_chars=60_000)


def nested(levels: int, leaf: Any = 1) -> Any:
    """`levels` nested lists around `leaf`, built without recursion."""
    value = leaf
    for _ in range(levels):
        value = [value]
    return value


def signed(key: SigningKey, doc: dict[str, Any]) -> str:
    return sign_policy(doc, key, now=NOW, inputs=ROOMY)


def raw_jws(key: SigningKey, payload: bytes) -> str:
    """A validly signed JWS whose payload sign_policy would never produce."""
    return sign_compact(payload, key, typ=POLICY_TYP)


# --- the model ----------------------------------------------------------------------------


def test_defaults_are_the_documented_ones() -> None:
    limits = InputLimits()
    assert limits.model_dump() == {
        "max_policy_bytes": MAX_POLICY_BYTES,
        "max_data_bytes": 256 * 1024,
        "max_json_depth": 32,
        "max_rules": 256,
        "max_commands": 128,
        "max_expression_chars": 4096,
        "max_comprehension_depth": 2,
    }


@pytest.mark.parametrize("field", ["max_json_depth", "max_data_bytes", "max_policy_bytes"])
def test_nonsense_limits_are_a_config_error(field: str) -> None:
    with pytest.raises(InvalidConfig, match=field):
        InputLimits(**{field: 0})


def test_limits_are_frozen_and_hashable() -> None:
    assert hash(InputLimits()) == hash(InputLimits())
    with pytest.raises(ValueError, match="frozen"):
        InputLimits().max_rules = 1  # type: ignore[misc]


# --- depth --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "depth"),
    [(1, 0), ("x", 0), ([], 1), ({}, 1), ({"a": [1]}, 2), ([[], [[{}]]], 4), (nested(50), 50)],
)
def test_json_depth_counts_containers(value: Any, depth: int) -> None:
    assert json_depth(value) == depth


def test_json_depth_walks_far_past_the_recursion_limit() -> None:
    assert json_depth(nested(100_000)) == 100_000
    assert json_depth(nested(100_000), stop=10) == 11


def test_depth_boundary() -> None:
    limits = InputLimits(max_json_depth=5)
    limits.check_depth(nested(5), what="params")
    with pytest.raises(TooDeep, match="params nests more than 5") as caught:
        limits.check_depth(nested(6), what="params")
    assert caught.value.code == "too_deep"
    limits.check_depth(nested(5 + ENVELOPE_DEPTH), what="bundle", envelope=True)
    with pytest.raises(TooDeep):
        limits.check_depth(nested(6 + ENVELOPE_DEPTH), what="bundle", envelope=True)


@pytest.mark.parametrize("kind", [str, bytes])
def test_loads_refuses_deep_text_without_recursion_error(kind: type) -> None:
    limits = InputLimits(max_json_depth=32)
    deep = "[" * 32 + "]" * 32
    assert json_depth(limits.loads(kind(deep, "ascii") if kind is bytes else deep, what="x")) == 32
    for levels in (33, 5_000, 200_000):
        text = "[" * levels + "]" * levels
        with pytest.raises(TooDeep):
            limits.loads(text.encode() if kind is bytes else text, what="x")


def test_loads_leaves_bad_json_to_the_caller() -> None:
    with pytest.raises(ValueError, match="Expecting property name"):
        InputLimits().loads(b"{nope", what="x")


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_loads_refuses_the_non_finite_constants_pythons_decoder_accepts(constant: str) -> None:
    with pytest.raises(NumberOutOfRange, match=f"'{constant}' is out of range"):
        InputLimits().loads(f'{{"by": {constant}}}', what="x")


# --- policy documents ----------------------------------------------------------------------


def rules(count: int) -> list[dict[str, Any]]:
    return [{"name": f"r{i}", "when": "true", "do": [{"set": {"n": "1"}}]} for i in range(count)]


def commands(count: int) -> dict[str, Any]:
    return {f"c{i}": {"do": [{"set": {"n": "1"}}]} for i in range(count)}


def test_rule_count_boundary(key: SigningKey, trust: TrustStore) -> None:
    limits = InputLimits(max_rules=3)
    load_policy(signed(key, minimal(rules=rules(3))), trust, now=NOW, inputs=limits)
    with pytest.raises(InvalidPolicy, match=r"has 4 rules; this host allows at most 3") as exc:
        load_policy(signed(key, minimal(rules=rules(4))), trust, now=NOW, inputs=limits)
    assert exc.value.code == "invalid_policy"


def test_command_count_boundary(key: SigningKey, trust: TrustStore) -> None:
    limits = InputLimits(max_commands=2)
    load_policy(signed(key, minimal(commands=commands(2))), trust, now=NOW, inputs=limits)
    with pytest.raises(InvalidPolicy, match=r"has 3 commands; this host allows at most 2"):
        load_policy(signed(key, minimal(commands=commands(3))), trust, now=NOW, inputs=limits)


@pytest.mark.parametrize(
    ("where", "doc"),
    [
        ("rule 'r' when", {"rules": [{"name": "r", "when": "EXPR", "do": [{"unset": ["n"]}]}]}),
        (
            "rule 'r' action 0 set 'n'",
            {"rules": [{"name": "r", "when": "true", "do": [{"set": {"n": "EXPR"}}]}]},
        ),
        ("command 'go' when", {"commands": {"go": {"when": "EXPR"}}}),
        ("command 'go' returns", {"commands": {"go": {"returns": "EXPR"}}}),
        ("permission 'read'", {"permissions": {"read": "EXPR"}}),
    ],
)
def test_expression_length_boundary_names_where(
    key: SigningKey, trust: TrustStore, where: str, doc: dict[str, Any]
) -> None:
    limits = InputLimits(max_expression_chars=40)
    fits = "true" + " " * 36
    as_json = json.dumps(doc)
    ok = signed(key, minimal(**json.loads(as_json.replace("EXPR", fits))))
    load_policy(ok, trust, now=NOW, inputs=limits)
    jws = signed(key, minimal(**json.loads(as_json.replace("EXPR", fits + " "))))
    with pytest.raises(InvalidPolicy, match=rf"{where}: expression is 41 characters.*allows 40"):
        load_policy(jws, trust, now=NOW, inputs=limits)


def test_signing_applies_the_default_limits(key: SigningKey) -> None:
    with pytest.raises(InvalidPolicy, match="has 257 rules"):
        sign_policy(minimal(rules=rules(257)), key, now=NOW)
    with pytest.raises(InvalidPolicy, match="4097 characters"):
        sign_policy(minimal(permissions={"read": "true" + " " * 4093}), key, now=NOW)


def test_the_cache_is_keyed_by_the_limits_asked_for(key: SigningKey, trust: TrustStore) -> None:
    jws = signed(key, minimal(rules=rules(5)))
    load_policy(jws, trust, now=NOW)
    with pytest.raises(InvalidPolicy):
        load_policy(jws, trust, now=NOW, inputs=InputLimits(max_rules=4))
    load_policy(jws, trust, now=NOW)


def test_policy_size_is_configurable(key: SigningKey, trust: TrustStore) -> None:
    jws = signed(key, minimal())
    load_policy(jws, trust, now=NOW, inputs=InputLimits(max_policy_bytes=len(jws)))
    with pytest.raises(PolicyTooLarge, match="RESIDENT_MAX_POLICY_BYTES"):
        load_policy(jws, trust, now=NOW, inputs=InputLimits(max_policy_bytes=len(jws) - 1))


def test_initial_data_over_the_limit_is_refused(key: SigningKey, trust: TrustStore) -> None:
    jws = signed(key, minimal(data={"s": "x" * 92}))  # canonical: {"s":"xx…"} = 100 bytes
    load_policy(jws, trust, now=NOW, inputs=InputLimits(max_data_bytes=100))
    with pytest.raises(DataTooLarge, match="initial data would be 100 bytes") as exc:
        load_policy(jws, trust, now=NOW, inputs=InputLimits(max_data_bytes=99))
    assert exc.value.code == "data_too_large"


def test_deep_policy_documents_are_refused(key: SigningKey, trust: TrustStore) -> None:
    data_too_deep = {**minimal(data={"deep": nested(35)}), "iss": ISSUER, "iat": 1}
    with pytest.raises(TooDeep, match="initial data"):
        sign_policy(data_too_deep, key, now=NOW)
    with pytest.raises(TooDeep, match="initial data"):
        load_policy(raw_jws(key, json.dumps(data_too_deep).encode()), trust, now=NOW)
    document_too_deep = {**minimal(schema={"x": nested(45)}), "iss": ISSUER, "iat": 1}
    with pytest.raises(TooDeep, match="policy document nests more than 40"):
        load_policy(raw_jws(key, json.dumps(document_too_deep).encode()), trust, now=NOW)
    too_deep_for_json = b'{"data": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    with pytest.raises(TooDeep):
        load_policy(raw_jws(key, too_deep_for_json), trust, now=NOW)


def test_deep_headers_are_not_a_crash(key: SigningKey, trust: TrustStore) -> None:
    header = base64.urlsafe_b64encode(b'{"x": ' + b"[" * 5000 + b"]" * 5000 + b"}").rstrip(b"=")
    token = f"{header.decode()}.e30.c2ln"
    with pytest.raises(UnsignedPolicy):
        load_policy(token, trust, now=NOW)
    with pytest.raises(TokenError):
        verify_token(token, trust, now=NOW, max_bytes=1_000_000)


def test_deep_yaml_is_too_deep() -> None:
    with pytest.raises(TooDeep):
        read_document("a: " + "[" * 5000 + "]" * 5000)


def test_deep_bundles_are_refused_before_anything_recurses() -> None:
    with pytest.raises(TooDeep):
        parse_bundle({"format": nested(100_000)})
    with pytest.raises(TooDeep):
        parse_bundle(b'{"format": ' + b"[" * 5000 + b"]" * 5000 + b"}")


# --- object data after a Decision ---------------------------------------------------------


def decision(data: dict[str, Any], **fields: Any) -> Decision:
    changes = [{"op": "set", "path": path, "value": data[path]} for path in data]
    return Decision(data=data, changes=changes, applied=True, **fields)


def test_unchanged_data_is_not_measured() -> None:
    assert InputLimits(max_data_bytes=1).measure(Decision(data={"big": "x" * 10})) is None


def test_data_size_boundary_and_digest() -> None:
    limits = InputLimits(max_data_bytes=100)
    fits = {"s": "x" * 92}
    assert limits.measure(decision(fits)) == data_digest(fits)
    with pytest.raises(DataTooLarge, match=r"101 bytes.*limit is 100 \(RESIDENT_MAX_DATA_BYTES"):
        limits.measure(decision({"s": "x" * 93}))


def test_data_depth_counts_the_path() -> None:
    limits = InputLimits(max_json_depth=4)
    ok = Decision(
        data={}, changes=[{"op": "set", "path": "a.b", "value": [[1]]}], applied=True
    )  # data, a, b's list, inner list: 4
    limits.measure(ok)
    deep = Decision(data={}, changes=[{"op": "set", "path": "a.b.c", "value": [[1]]}])
    with pytest.raises(TooDeep, match=r"'a\.b\.c' would nest data 5 levels deep"):
        limits.measure(deep)


def test_a_cycle_over_the_limit_applies_nothing_and_denies_its_rules() -> None:
    before = {"n": 1}
    grown = decision(
        {"s": "x" * 200},
        effects=[{"kind": "publish", "topic": "t", "pubsub": "p", "data": None}],
        denied=[{"rule": "other", "reason": "schema"}],
        fired=["grow", "tell"],
    )
    bounded, digest = InputLimits(max_data_bytes=100).bound_cycle(grown, data=before)
    assert digest is None
    assert bounded.data is before
    assert (bounded.changes, bounded.effects, bounded.applied) == ([], [], False)
    assert [d["rule"] for d in bounded.denied] == ["other", "grow", "tell"]
    assert bounded.denied[1]["reason"].startswith("data_too_large: ")


def test_a_cycle_within_the_limit_passes_unchanged() -> None:
    grown = decision({"s": "x"}, fired=["grow"])
    bounded, digest = InputLimits().bound_cycle(grown, data={})
    assert bounded is grown
    assert digest == data_digest({"s": "x"})


def test_lineage_reuses_a_measured_digest() -> None:
    data = {"s": "x"}
    digest = InputLimits().measure(decision(data))
    entry = next_entry(
        previous=None, kind="cycle", time=NOW, who={}, policy_digest="p", data=data, digest=digest
    )
    assert entry["data_digest"] == data_digest(data)
