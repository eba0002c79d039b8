"""Signing and loading: every way a policy can be refused raises its own PolicyError."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from policies import (
    MAX_POLICY_BYTES,
    InvalidConfig,
    InvalidPolicy,
    InvalidSignature,
    ObjectNotGoverned,
    PolicyExpired,
    PolicyNotYetValid,
    PolicyTooLarge,
    SigningKey,
    TrustStore,
    UnsignedPolicy,
    UntrustedIssuer,
    example_document,
    generate_key,
    load_policy,
    read_document,
    sign_policy,
)

from .conftest import ISSUER, NOW, Make, minimal


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forged(header: dict[str, Any], payload: dict[str, Any], signature: bytes = b"") -> str:
    return ".".join(
        [b64(json.dumps(header).encode()), b64(json.dumps(payload).encode()), b64(signature)]
    )


def signed(key: SigningKey, doc: dict[str, Any]) -> str:
    return sign_policy(doc, key, now=NOW)


def test_round_trip_exposes_claims_and_digest(key: SigningKey, trust: TrustStore) -> None:
    jws = signed(key, example_document("thermostat"))
    policy = load_policy(jws, trust, object_id="thermostat-7", now=NOW)
    assert (policy.id, policy.version, policy.issuer) == ("thermostat", 3, ISSUER)
    assert policy.jws == jws
    assert policy.digest.startswith("sha256:")
    assert len(policy.digest) == 71
    assert policy.claims == {"iat": int(NOW.timestamp()), "exp": None, "nbf": None}
    assert policy.period == timedelta(seconds=30)
    assert policy.commands == ("report",)
    assert policy.on_change is True
    assert policy.max_actions == 20


def test_initial_data_is_a_fresh_copy(thermostat: Any) -> None:
    first = thermostat.initial_data
    first["status"] = "changed"
    assert thermostat.initial_data == {"status": "ok", "temperature": 20, "threshold": 30}


def test_alg_none_is_unsigned(key: SigningKey, trust: TrustStore) -> None:
    doc = {**example_document("thermostat"), "iss": ISSUER, "iat": 1}
    with pytest.raises(UnsignedPolicy, match="algorithm 'none' is refused"):
        load_policy(forged({"alg": "none", "kid": "k1"}, doc), trust)


def test_hmac_is_unsigned(trust: TrustStore) -> None:
    doc = {**example_document("thermostat"), "iss": ISSUER, "iat": 1}
    token = jwt.encode(doc, "s" * 64, algorithm="HS256", headers={"kid": "k1"})
    with pytest.raises(UnsignedPolicy, match="'HS256' is refused"):
        load_policy(token, trust)


@pytest.mark.parametrize("junk", ["", "not a jws", "a.b", "é.é.é", 42])
def test_garbage_is_unsigned(trust: TrustStore, junk: Any) -> None:
    with pytest.raises(UnsignedPolicy):
        load_policy(junk, trust)


def test_unknown_kid_is_untrusted(trust: TrustStore) -> None:
    stranger = generate_key(kid="other", issuer=ISSUER)
    with pytest.raises(UntrustedIssuer, match="kid='other' is not in the trust store"):
        load_policy(signed(stranger, example_document("thermostat")), trust)


def test_key_issuer_must_match_iss(key: SigningKey, trust: TrustStore) -> None:
    unbound = SigningKey.from_pem(key.private_pem, kid="k1")
    jws = sign_policy({**example_document("thermostat"), "iss": "https://evil"}, unbound)
    with pytest.raises(UntrustedIssuer, match="does not match key 'k1'"):
        load_policy(jws, trust)


def test_tampered_payload_fails_signature(key: SigningKey, trust: TrustStore) -> None:
    head, _, sig = signed(key, example_document("thermostat")).split(".")
    other = b64(json.dumps({**example_document("thermostat"), "iss": ISSUER, "iat": 1}).encode())
    with pytest.raises(InvalidSignature, match="does not verify with key 'k1'"):
        load_policy(f"{head}.{other}.{sig}", trust)


def test_wrong_key_same_kid_fails_signature(trust: TrustStore) -> None:
    impostor = generate_key(kid="k1", issuer=ISSUER)
    with pytest.raises(InvalidSignature):
        load_policy(signed(impostor, example_document("thermostat")), trust)


def test_algorithm_confusion_is_refused(trust: TrustStore) -> None:
    p256 = ec.generate_private_key(ec.SECP256R1())
    es = SigningKey.from_pem(
        p256.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        kid="k1",
        issuer=ISSUER,
    )
    with pytest.raises(InvalidSignature, match="signs with EdDSA, but the JWS claims ES256"):
        load_policy(signed(es, example_document("thermostat")), trust)


@pytest.mark.parametrize("kind", ["ec", "rsa"])
def test_es256_and_rs256_keys_sign_and_verify(kind: str) -> None:
    private = (
        ec.generate_private_key(ec.SECP256R1())
        if kind == "ec"
        else rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    key = SigningKey.from_pem(pem, issuer=ISSUER)
    assert key.alg == ("ES256" if kind == "ec" else "RS256")
    trust = TrustStore.from_jwks({"keys": [key.public_jwk]})
    policy = load_policy(signed(key, example_document("thermostat")), trust, now=NOW)
    assert policy.id == "thermostat"


def test_expired_and_not_yet_valid(key: SigningKey, trust: TrustStore) -> None:
    stamp = int(NOW.timestamp())
    doc = {**example_document("thermostat"), "exp": stamp + 60, "nbf": stamp - 60}
    jws = signed(key, doc)
    assert load_policy(jws, trust, now=NOW).id == "thermostat"
    with pytest.raises(PolicyExpired, match="expired"):
        load_policy(jws, trust, now=NOW + timedelta(seconds=61))
    with pytest.raises(PolicyNotYetValid, match="retry later"):
        load_policy(jws, trust, now=NOW - timedelta(seconds=61))


def test_cache_returns_same_policy_but_rechecks_object(key: SigningKey, trust: TrustStore) -> None:
    jws = signed(key, example_document("thermostat"))
    first = load_policy(jws, trust, object_id="thermostat-1", now=NOW)
    assert load_policy(jws, trust, object_id="thermostat-2", now=NOW) is first
    with pytest.raises(ObjectNotGoverned, match="'boiler-1' is not governed") as info:
        load_policy(jws, trust, object_id="boiler-1", now=NOW)
    assert info.value.object_id == "boiler-1"


def test_cache_is_per_trust_store(key: SigningKey, trust: TrustStore) -> None:
    jws = signed(key, example_document("thermostat"))
    load_policy(jws, trust, now=NOW)
    empty = TrustStore.from_jwks({"keys": []})
    with pytest.raises(UntrustedIssuer):
        load_policy(jws, empty, now=NOW)


def test_oversize_is_refused_before_parsing(trust: TrustStore) -> None:
    with pytest.raises(PolicyTooLarge, match="limit"):
        load_policy("x" * (MAX_POLICY_BYTES + 1), trust)


def test_signing_refuses_oversize_documents(key: SigningKey) -> None:
    doc = minimal(data={"blob": "x" * MAX_POLICY_BYTES})
    with pytest.raises(PolicyTooLarge):
        sign_policy(doc, key)


def test_iss_comes_from_the_key_or_must_be_given() -> None:
    anonymous = generate_key()
    with pytest.raises(InvalidPolicy, match="no 'iss'"):
        sign_policy(minimal(), anonymous)
    assert sign_policy(minimal(iss="https://me"), anonymous).count(".") == 2


def test_document_errors_are_listed(key: SigningKey) -> None:
    doc = minimal(version="2", rules=[{"name": "r", "when": "true", "do": [{"sett": {}}]}])
    with pytest.raises(InvalidPolicy) as info:
        sign_policy(doc, key)
    assert info.value.details == [
        {"loc": "version", "msg": "Input should be a valid integer"},
        {
            "loc": "rules.0.do.0",
            "msg": "an action is an object with exactly one key: set, unset, publish, "
            "invoke_binding or invoke_service",
        },
        # pydantic drops the bad item, so the rule also reports an empty `do`
        {"loc": "rules.0.do", "msg": "Tuple should have at least 1 item after validation, not 0"},
    ]


def test_unknown_field_is_invalid(key: SigningKey) -> None:
    with pytest.raises(InvalidPolicy, match="colour: Extra inputs are not permitted"):
        sign_policy(minimal(colour="red"), key)


def test_duplicate_rule_names_are_invalid(key: SigningKey) -> None:
    rule = {"name": "r", "when": "true", "do": [{"set": {"n": "1"}}]}
    with pytest.raises(InvalidPolicy, match="repeated: r"):
        sign_policy(minimal(rules=[rule, rule]), key)


def test_cel_compile_error_names_rule_expression_and_column(key: SigningKey) -> None:
    rule = {"name": "broken", "when": "data.n > ", "do": [{"set": {"n": "1"}}]}
    with pytest.raises(InvalidPolicy, match=r"rule 'broken' when: 'data.n > ' col 10: Syntax"):
        sign_policy(minimal(rules=[rule]), key)


def test_cel_compile_error_in_command_action(key: SigningKey) -> None:
    cmd = {"do": [{"set": {"n": "1 +"}}]}
    with pytest.raises(InvalidPolicy, match=r"command 'bump' action 0 set 'n': '1 \+' col 4"):
        sign_policy(minimal(commands={"bump": cmd}), key)


@pytest.mark.parametrize("every", ["30x", "P1M", "-5s", "0s"])
def test_bad_durations_are_invalid(key: SigningKey, every: str) -> None:
    with pytest.raises(InvalidPolicy, match=r"evaluation\.every"):
        sign_policy(minimal(evaluation={"every": every}), key)


@pytest.mark.parametrize(("every", "seconds"), [("1h30m", 5400), ("500ms", 0.5), ("PT45S", 45)])
def test_durations_go_and_iso(make: Make, every: str, seconds: float) -> None:
    assert make(minimal(evaluation={"every": every})).period == timedelta(seconds=seconds)


def test_schema_must_be_valid_and_hold_for_initial_data(key: SigningKey) -> None:
    with pytest.raises(InvalidPolicy, match="not a valid JSON Schema"):
        sign_policy(minimal(schema={"type": "no-such-type"}), key)
    schema = {"type": "object", "properties": {"n": {"type": "string"}}}
    with pytest.raises(InvalidPolicy, match="initial data violates the schema: n: 0 is not"):
        sign_policy(minimal(schema=schema), key)


def test_read_document_refuses_bad_yaml() -> None:
    with pytest.raises(InvalidPolicy, match="not valid YAML"):
        read_document("id: [unclosed")
    with pytest.raises(InvalidPolicy, match="mapping"):
        read_document("- a list")


def test_payload_that_is_not_an_object_is_invalid(key: SigningKey, trust: TrustStore) -> None:
    token = jwt.PyJWS().encode(
        b"[1, 2]", key.private_key(), algorithm="EdDSA", headers={"kid": "k1"}
    )
    with pytest.raises(InvalidPolicy, match="JSON object"):
        load_policy(token, trust)


def test_trust_store_refuses_symmetric_and_private_keys(key: SigningKey) -> None:
    with pytest.raises(InvalidConfig, match="symmetric"):
        TrustStore.from_jwks({"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "h"}]})
    private = {**key.public_jwk, "d": "AAAA"}
    with pytest.raises(InvalidConfig, match="private key material"):
        TrustStore.from_jwks({"keys": [private]})
    with pytest.raises(InvalidConfig, match="repeated"):
        TrustStore.from_jwks({"keys": [key.public_jwk, key.public_jwk]})
    with pytest.raises(InvalidConfig, match='"keys" list'):
        TrustStore.from_jwks({"nope": []})


def test_trust_store_round_trips_and_names_issuers(key: SigningKey, trust: TrustStore) -> None:
    again = TrustStore.from_jwks(trust.to_jwks())
    assert again.fingerprint == trust.fingerprint
    assert again.issuer_for("k1") == ISSUER
    assert again.issuer_for("missing") is None
    assert key.public_jwk == {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": key.public_jwk["x"],
        "kid": "k1",
        "alg": "EdDSA",
        "use": "sig",
        "iss": ISSUER,
    }


def test_generated_kid_is_the_thumbprint() -> None:
    key = generate_key()
    assert len(key.kid) == 43
    assert key.issuer is None
    assert "iss" not in key.public_jwk
    assert SigningKey.from_pem(key.private_pem).kid == key.kid


def test_from_pem_refuses_garbage() -> None:
    with pytest.raises(InvalidConfig, match="PEM"):
        SigningKey.from_pem("-----BEGIN NOTHING-----")
