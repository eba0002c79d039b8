"""Bundle verification: every check, in the documented order, with its own code."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from typing import Any

import pytest

from policies import (
    BUNDLE_FORMAT,
    HostLimits,
    Policy,
    PolicyError,
    SigningKey,
    TrustStore,
    build_bundle,
    check_extends,
    example_document,
    generate_key,
    host_narrowing,
    load_policy,
    sign_policy,
    verify_bundle,
)
from tests.policies.conftest import ISSUER, NOW
from tests.policies.history import History

OBJECT = "thermostat-1"
HOST_KEY = generate_key()
WHO = {"iss": ISSUER, "sub": "ops"}


OPS = {"iss": ISSUER, "sub": "ops", "roles": []}
SENSOR = {"iss": ISSUER, "sub": "s1", "roles": ["sensor"]}


def _history(policy: Policy) -> History:
    """A real history: created, installed, one command (temperature 35 -> alarm), exported."""
    history = History(OBJECT, host_key=HOST_KEY, start=NOW - timedelta(minutes=5))
    history.create(policy, OPS)
    history.tick()
    history.command("report", {"temperature": 35}, SENSOR)
    history.tick()
    history.export(OPS)
    return history


@pytest.fixture
def bundle(key: SigningKey, trust: TrustStore) -> dict[str, Any]:
    jws = sign_policy(example_document("thermostat"), key, now=NOW)
    policy = load_policy(jws, trust, now=NOW)
    history = _history(policy)
    assert history.data["temperature"] == 35
    signer = history.signer
    assert signer is not None
    return build_bundle(
        object_id=OBJECT,
        policy_jws=jws,
        data=history.data,
        lineage=history.entries,
        from_host="host-a",
        key=HOST_KEY,
        now=NOW,
        hosts={signer.kid: signer.jwk},
    )


def _code(bundle: Any, trust: TrustStore, **kwargs: Any) -> str:
    with pytest.raises(PolicyError) as caught:
        verify_bundle(bundle, trust, now=NOW, **kwargs)
    return caught.value.code


def _flip(text: str, at: int) -> str:
    """One changed character (a base64url one stays base64url)."""
    return text[:at] + ("A" if text[at] != "A" else "B") + text[at + 1 :]


def test_a_fresh_bundle_verifies_and_reports_its_signer(
    bundle: dict[str, Any], trust: TrustStore
) -> None:
    hosts = TrustStore.from_jwks({"keys": [HOST_KEY.public_jwk]}, require_issuer=False)
    verified = verify_bundle(json.dumps(bundle), trust, now=NOW, trusted_hosts=hosts)
    assert bundle["format"] == BUNDLE_FORMAT
    assert (verified.object_id, verified.from_host, verified.host_trusted) == (
        OBJECT,
        "host-a",
        True,
    )
    assert verified.head == verified.last["hash"]
    assert len(verified.lineage) == 4
    assert verify_bundle(bundle, trust, now=NOW).host_trusted is False


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        (lambda b: b.update(format="resident.bundle/0"), "invalid_bundle"),
        (lambda b: b.pop("head"), "invalid_bundle"),
        (lambda b: b.update(extra=1), "invalid_bundle"),
        (lambda b: b.update(lineage=[]), "invalid_bundle"),
        (lambda b: b.update(data=[1]), "invalid_bundle"),
        (lambda b: b.update(policy=_flip(b["policy"], len(b["policy"]) // 2)), "invalid_signature"),
        (lambda b: b.update(policy="not-a-jws"), "unsigned_policy"),
        (lambda b: b["lineage"][1].update(time="2031-01-01T00:00:00.000000Z"), "lineage_broken"),
        (lambda b: b.update(lineage=b["lineage"][:-1]), "lineage_broken"),
        (lambda b: b.update(lineage=b["lineage"][1:]), "lineage_broken"),
        (lambda b: b["lineage"].reverse(), "lineage_broken"),
        (lambda b: b["data"].update(temperature=36), "data_mismatch"),
        (lambda b: b.update(from_host="host-z"), "invalid_host_signature"),
        (
            lambda b: b.update(signature=_flip(b["signature"], len(b["signature"]) - 5)),
            "invalid_host_signature",
        ),
        (lambda b: b.update(signature="x.y.z"), "invalid_host_signature"),
    ],
)
def test_each_tampering_is_refused_with_its_code(
    bundle: dict[str, Any], trust: TrustStore, mutate: Any, code: str
) -> None:
    tampered = copy.deepcopy(bundle)
    mutate(tampered)
    assert _code(tampered, trust) == code


def test_every_single_lineage_entry_is_covered(bundle: dict[str, Any], trust: TrustStore) -> None:
    for index in range(len(bundle["lineage"])):
        tampered = copy.deepcopy(bundle)
        tampered["lineage"][index]["who"]["sub"] = "opz"
        with pytest.raises(PolicyError) as caught:
            verify_bundle(tampered, trust, now=NOW)
        assert (caught.value.code, getattr(caught.value, "seq", None)) == (
            "lineage_broken",
            index + 1,
        )


def test_size_is_checked_first(bundle: dict[str, Any], trust: TrustStore) -> None:
    assert _code(json.dumps(bundle), trust, max_bytes=100) == "bundle_too_large"
    assert _code(b"{not json", trust) == "invalid_bundle"


def test_the_receivers_trust_decides_the_issuer(bundle: dict[str, Any]) -> None:
    other = TrustStore.from_jwks({"keys": [generate_key(kid="y", issuer="y").public_jwk]})
    assert _code(bundle, other) == "untrusted_issuer"


def test_policy_validity_and_object_are_checked(
    bundle: dict[str, Any], trust: TrustStore, key: SigningKey
) -> None:
    assert _code(bundle, trust, object_id="thermostat-2") == "invalid_bundle"
    later = int((NOW + timedelta(days=1)).timestamp())
    early = sign_policy({**example_document("thermostat"), "nbf": later}, key, now=NOW)
    assert _code({**bundle, "policy": early}, trust) == "policy_not_yet_valid"
    expiring = sign_policy({**example_document("thermostat"), "exp": 1}, key, now=NOW)
    assert _code({**bundle, "policy": expiring}, trust) == "policy_expired"
    foreign = sign_policy({**example_document("thermostat"), "objects": ["x-*"]}, key, now=NOW)
    assert _code({**bundle, "policy": foreign}, trust) == "object_not_governed"


def test_a_substituted_policy_is_refused(
    bundle: dict[str, Any], trust: TrustStore, key: SigningKey
) -> None:
    other = sign_policy({**example_document("thermostat"), "version": 9}, key, now=NOW)
    assert _code({**bundle, "policy": other}, trust) == "policy_mismatch"


def test_untrusted_host_is_refused_only_when_required(
    bundle: dict[str, Any], trust: TrustStore
) -> None:
    others = TrustStore.from_jwks(
        {"keys": [generate_key(kid="h2").public_jwk]}, require_issuer=False
    )
    assert verify_bundle(bundle, trust, now=NOW, trusted_hosts=others).host_trusted is False
    assert _code(bundle, trust, trusted_hosts=others, require_trusted_host=True) == (
        "untrusted_host"
    )
    assert _code(bundle, trust, require_trusted_host=True) == "untrusted_host"


def test_only_a_strict_extension_replaces_a_local_object(bundle: dict[str, Any]) -> None:
    lineage = bundle["lineage"]
    check_extends(lineage, seq=0, head=None)
    check_extends(lineage, seq=2, head=lineage[1]["hash"])
    for seq, head in [(4, lineage[3]["hash"]), (5, "sha256:x"), (2, lineage[0]["hash"])]:
        with pytest.raises(PolicyError) as caught:
            check_extends(lineage, seq=seq, head=head)
        assert caught.value.code == "conflict"


def test_host_narrowing_names_what_the_host_forbids(
    bundle: dict[str, Any], trust: TrustStore
) -> None:
    policy = verify_bundle(bundle, trust, now=NOW).policy
    assert host_narrowing(policy, None)["publish"] == []
    limits = HostLimits(publish=["audit"])
    assert host_narrowing(policy, limits) == {"publish": ["alerts"], "bindings": [], "services": []}
