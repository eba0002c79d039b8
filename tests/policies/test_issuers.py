"""Issuers are not interchangeable: every trusted key speaks for exactly one issuer, a JWS is
either a policy or a token, and an object hears only the callers its policy names."""

from __future__ import annotations

import json
import re
from typing import Any

import jwt
import pytest

from policies import (
    Forbidden,
    InvalidPolicy,
    SigningKey,
    TokenError,
    TrustStore,
    UnboundKey,
    UnsignedPolicy,
    UntrustedIssuer,
    example_document,
    generate_key,
    load_policy,
    sign_policy,
    sign_token,
    verify_token,
)
from policies._signing import POLICY_TYP, sign_compact

from .conftest import ISSUER, NOW, Make, minimal

OTHER = "https://other.example"
EXP = int(NOW.timestamp()) + 300


def caller(iss: Any, **claims: Any) -> dict[str, Any]:
    return {"iss": iss, "sub": "ops", "roles": ["viewer"], **claims}


# --- every trusted key is bound to exactly one issuer ----------------------------------------


@pytest.mark.parametrize("iss", [None, "", 7, ["a", "b"]])
def test_a_trust_file_key_without_one_issuer_is_refused(iss: Any) -> None:
    jwk = {k: v for k, v in generate_key(kid="anon").public_jwk.items() if k != "iss"}
    if iss is not None:
        jwk["iss"] = iss
    with pytest.raises(UnboundKey, match="'anon'") as info:
        TrustStore.from_jwks({"keys": [generate_key(kid="ok", issuer=ISSUER).public_jwk, jwk]})
    assert (info.value.code, info.value.kid) == ("invalid_config", "anon")


def test_host_keys_need_no_issuer_but_cannot_sign_policies_or_tokens() -> None:
    host = generate_key(kid="host")
    hosts = TrustStore.from_jwks({"keys": [host.public_jwk]}, require_issuer=False)
    assert "host" in hosts
    assert hosts.issuer_for("host") is None
    with pytest.raises(UntrustedIssuer, match="bound to no issuer"):
        load_policy(sign_policy(minimal(iss=ISSUER), host, now=NOW), hosts, now=NOW)
    with pytest.raises(TokenError, match="bound to no issuer"):
        verify_token(sign_token({"iss": ISSUER, "exp": EXP}, host), hosts, now=NOW)


def test_a_key_cannot_sign_a_policy_for_another_issuer(key: SigningKey, trust: TrustStore) -> None:
    unbound = SigningKey.from_pem(key.private_pem, kid="k1")
    jws = sign_policy(minimal(iss=OTHER), unbound, now=NOW)
    with pytest.raises(UntrustedIssuer, match="does not match key 'k1'"):
        load_policy(jws, trust, now=NOW)


def test_a_key_cannot_sign_a_token_for_another_issuer(key: SigningKey, trust: TrustStore) -> None:
    with pytest.raises(TokenError, match="does not match key 'k1'"):
        verify_token(sign_token({"iss": OTHER, "exp": EXP}, key), trust, now=NOW)
    raw = jwt.encode({"exp": EXP}, key.private_key(), algorithm="EdDSA", headers={"kid": "k1"})
    with pytest.raises(TokenError, match="iss None does not match"):
        verify_token(raw, trust, now=NOW)


# --- a JWS is a policy or a token, never both ------------------------------------------------


def document() -> dict[str, Any]:
    return {**example_document("thermostat"), "iss": ISSUER, "iat": int(NOW.timestamp())}


@pytest.mark.parametrize("typ", ["JWT", None, "resident-policy", "RESIDENT-POLICY+JWT"])
def test_only_the_policy_typ_is_loaded_as_a_policy(
    key: SigningKey, trust: TrustStore, typ: str | None
) -> None:
    payload = json.dumps(document()).encode()
    headers = {"kid": key.kid, "typ": typ} if typ else {"kid": key.kid}
    token = jwt.PyJWS().encode(payload, key.private_key(), algorithm="EdDSA", headers=headers)
    if typ is None:  # PyJWS adds typ JWT unless told otherwise
        token = jwt.PyJWS().encode(
            payload, key.private_key(), algorithm="EdDSA", headers={**headers, "typ": None}
        )
        assert "typ" not in jwt.get_unverified_header(token)
    with pytest.raises(UnsignedPolicy, match=re.escape(f"is not {POLICY_TYP!r}")):
        load_policy(token, trust, now=NOW)


def test_a_caller_token_is_not_a_policy(key: SigningKey, trust: TrustStore) -> None:
    token = sign_token({**document(), "exp": EXP}, key)
    assert verify_token(token, trust, now=NOW)["id"] == "thermostat"
    with pytest.raises(UnsignedPolicy, match="not a signed policy"):
        load_policy(token, trust, now=NOW)


def test_a_signed_policy_is_not_a_caller_token(key: SigningKey, trust: TrustStore) -> None:
    jws = sign_compact(json.dumps({**document(), "exp": EXP}).encode(), key, typ=POLICY_TYP)
    assert load_policy(jws, trust, now=NOW).id == "thermostat"
    with pytest.raises(TokenError, match="a signed policy is not a caller token"):
        verify_token(jws, trust, now=NOW)


# --- an object hears only the callers its policy names ---------------------------------------


def test_callers_default_to_the_policys_own_issuer(make: Make) -> None:
    policy = make(minimal())
    assert policy.callers == (ISSUER,)
    assert policy.accepts_caller(caller(ISSUER))
    for stranger in (caller(OTHER), caller(None), {"sub": "ops"}, caller([ISSUER]), "x"):
        assert not policy.accepts_caller(stranger)


def test_callers_name_the_accepted_issuers(make: Make) -> None:
    policy = make(minimal(callers=[OTHER, "https://third.example"]))
    assert policy.callers == (OTHER, "https://third.example")
    assert policy.accepts_caller(caller(OTHER))
    assert not policy.accepts_caller(caller(ISSUER))  # naming callers replaces the default


def test_a_caller_from_another_issuer_is_forbidden(make: Make) -> None:
    policy = make(minimal(permissions={"read": "true"}))
    assert policy.allows("read", caller(OTHER), object_id="obj-1")  # the CEL alone admits it
    policy.check_caller(caller(ISSUER))
    with pytest.raises(Forbidden, match=r"only from 'https://ops.example'.*'https://other") as info:
        policy.check_caller(caller(OTHER))
    assert (info.value.code, info.value.reason) == ("forbidden", "callers")


def test_caller_iss_is_visible_to_cel(make: Make) -> None:
    policy = make(
        minimal(callers=[ISSUER, OTHER], permissions={"read": f"caller.iss == {OTHER!r}"})
    )
    assert policy.allows("read", caller(OTHER), object_id="obj-1")
    assert not policy.allows("read", caller(ISSUER), object_id="obj-1")


EMPTY = {"loc": "callers", "msg": "Tuple should have at least 1 item after validation, not 0"}


@pytest.mark.parametrize(
    ("callers", "details"),
    [
        ([], [EMPTY]),
        ([""], [{"loc": "callers.0", "msg": "String should have at least 1 character"}, EMPTY]),
        ([3], [{"loc": "callers.0", "msg": "Input should be a valid string"}, EMPTY]),
        (ISSUER, [{"loc": "callers", "msg": "Input should be a valid tuple"}]),
    ],
)
def test_callers_must_be_a_non_empty_list_of_issuers(
    key: SigningKey, callers: Any, details: list[dict[str, str]]
) -> None:
    with pytest.raises(InvalidPolicy) as info:
        sign_policy(minimal(callers=callers), key, now=NOW)
    assert info.value.details == details
