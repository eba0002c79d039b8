"""Caller tokens: every failed check is one TokenError that never echoes the token."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import jwt
import pytest

from policies import (
    SigningKey,
    TokenError,
    TrustStore,
    UnboundKey,
    example_document,
    generate_key,
    sign_policy,
    sign_token,
    verify_token,
)

from .conftest import ISSUER, NOW

EXP = int(NOW.timestamp()) + 300


def claims(**extra: Any) -> dict[str, Any]:
    return {"sub": "s1", "roles": ["sensor"], "exp": EXP, **extra}


def test_round_trip_fills_iss(key: SigningKey, trust: TrustStore) -> None:
    token = sign_token(claims(), key)
    assert verify_token(token, trust, now=NOW) == {**claims(), "iss": ISSUER}


def rejected(token: str, trust: TrustStore, match: str, **kw: Any) -> None:
    with pytest.raises(TokenError, match=match) as info:
        verify_token(token, trust, **{"now": NOW, **kw})
    assert info.value.code == "unauthenticated"
    assert token not in str(info.value)


def test_exp_is_required_when_signing_and_verifying(key: SigningKey, trust: TrustStore) -> None:
    with pytest.raises(TokenError, match="'exp'"):
        sign_token({"sub": "s1"}, key)
    raw = jwt.encode(
        {"sub": "s1", "iss": ISSUER}, key.private_key(), algorithm="EdDSA", headers={"kid": "k1"}
    )
    rejected(raw, trust, "no 'exp' claim")


def test_time_checks(key: SigningKey, trust: TrustStore) -> None:
    token = sign_token(claims(nbf=int(NOW.timestamp()) - 10), key)
    rejected(token, trust, "expired", now=NOW + timedelta(seconds=301))
    rejected(token, trust, "not yet valid", now=NOW - timedelta(seconds=11))


def test_audience_is_checked_only_when_given(key: SigningKey, trust: TrustStore) -> None:
    token = sign_token(claims(aud=["resident", "other"]), key)
    assert verify_token(token, trust, now=NOW)["aud"] == ["resident", "other"]
    assert verify_token(token, trust, now=NOW, audience="resident")
    rejected(token, trust, "audience does not include 'billing'", audience="billing")
    rejected(sign_token(claims(), key), trust, "audience", audience="resident")


def test_iss_must_be_the_keys_issuer(key: SigningKey, trust: TrustStore) -> None:
    rejected(sign_token(claims(iss="https://evil"), key), trust, "does not match key 'k1'")


def test_a_key_without_issuer_is_not_trusted_to_speak_for_any() -> None:
    plain = generate_key(kid="p")
    with pytest.raises(UnboundKey, match="'p' names no issuer"):
        TrustStore.from_jwks({"keys": [plain.public_jwk]})
    hosts = TrustStore.from_jwks({"keys": [plain.public_jwk]}, require_issuer=False)
    rejected(sign_token(claims(iss="x"), plain), hosts, "bound to no issuer")


def test_refused_algorithms_and_keys(key: SigningKey, trust: TrustStore) -> None:
    hs = jwt.encode(claims(), "k" * 64, algorithm="HS256", headers={"kid": "k1"})
    rejected(hs, trust, "'HS256' is refused")
    parts = [json.dumps({"alg": "none"}).encode(), json.dumps(claims()).encode()]
    none = ".".join(base64.urlsafe_b64encode(p).rstrip(b"=").decode() for p in parts) + "."
    rejected(none, trust, "'none' is refused")
    stranger = generate_key(kid="zz")
    rejected(sign_token(claims(), stranger), trust, "not in the trust store")
    rejected("garbage", trust, "not a compact JWS")


def test_bad_signature(key: SigningKey, trust: TrustStore) -> None:
    head, _body, sig = sign_token(claims(), key).split(".")
    other = sign_token(claims(sub="admin"), key).split(".")[1]
    rejected(f"{head}.{other}.{sig}", trust, "does not verify")


def test_oversize_rejected_before_parsing(trust: TrustStore) -> None:
    rejected("a" * 9000, trust, "larger than 8192 bytes")
    rejected("a" * 200, trust, "larger than 100 bytes", max_bytes=100)


def test_a_signed_policy_is_not_a_token(key: SigningKey, trust: TrustStore) -> None:
    doc = {**example_document("thermostat"), "exp": EXP}
    rejected(sign_policy(doc, key, now=NOW), trust, "a signed policy is not a caller token")


def test_bad_claim_types(key: SigningKey, trust: TrustStore) -> None:
    rejected(sign_token(claims(nbf="soon"), key), trust, "'nbf' must be a number")
