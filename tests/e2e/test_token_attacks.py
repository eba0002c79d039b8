"""Every classic JWT attack on the service is refused with 401 and changes nothing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.hosts import Issuer, ResidentHost

AUDIENCE = "resident-tests"
OBJECT = "counter-tokens"
POLICY = {
    "id": "counter",
    "version": 1,
    "objects": ["counter-*"],
    "data": {"count": 0},
    "evaluation": {"every": "1h", "on_change": False},
    "capabilities": {"write": ["count"]},
    "permissions": {"read": "true", "amend": "caller.sub == 'ops'"},
    "commands": {"increment": {"do": [{"set": {"count": "data.count + 1"}}]}},
}


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _claims(issuer: Issuer, **overrides: object) -> dict[str, object]:
    now = int(time.time())
    base = {"iss": issuer.name, "sub": "ops", "aud": AUDIENCE, "iat": now, "exp": now + 600}
    return {**base, **overrides}


def _unsigned(header: dict[str, object], claims: dict[str, object]) -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}."


def hs256_with_public_key(i: Issuer) -> str:
    """Key confusion: an HMAC 'signed' with the issuer's published public key bytes."""
    x = str(i.key.public_jwk["x"])
    public_bytes = base64.urlsafe_b64decode(x + "=" * (-len(x) % 4))
    header = {"alg": "HS256", "typ": "JWT", "kid": i.key.kid}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(_claims(i)).encode())}"
    mac = hmac.new(public_bytes, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(mac)}"


def tampered(i: Issuer) -> str:
    header, _, signature = i.token("viewer", aud=AUDIENCE).split(".")
    return f"{header}.{_b64(json.dumps(_claims(i)).encode())}.{signature}"


def wrong_kid(i: Issuer) -> str:
    header, payload, signature = i.token("ops", aud=AUDIENCE).split(".")
    decoded = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    decoded["kid"] = "no-such-key"
    return f"{_b64(json.dumps(decoded).encode())}.{payload}.{signature}"


ATTACKS: dict[str, Callable[[Issuer, Issuer], str]] = {
    "alg none": lambda i, m: _unsigned({"alg": "none", "kid": i.key.kid}, _claims(i)),
    "HS256 signed with the public key": lambda i, m: hs256_with_public_key(i),
    "wrong kid": lambda i, m: wrong_kid(i),
    "expired": lambda i, m: i.token("ops", aud=AUDIENCE, ttl=-30),
    "not yet valid": lambda i, m: i.token("ops", aud=AUDIENCE, nbf=int(time.time()) + 600),
    "lives longer than the host allows": lambda i, m: i.token("ops", aud=AUDIENCE, ttl=49 * 3600),
    "issued in the future": lambda i, m: i.token("ops", aud=AUDIENCE, iat=int(time.time()) + 600),
    "wrong audience": lambda i, m: i.token("ops", aud="someone-else"),
    "no audience": lambda i, m: i.token("ops"),
    "another issuer": lambda i, m: m.token("ops", aud=AUDIENCE),
    "tampered claims": lambda i, m: tampered(i),
    "oversized": lambda i, m: i.token("ops", aud=AUDIENCE, padding="x" * 20_000),
    "garbage": lambda i, m: "not.a.jwt",
}


@pytest.fixture(scope="module")
def strict_host(
    tmp_path_factory: pytest.TempPathFactory, issuer: Issuer, sidecar: str
) -> Iterator[ResidentHost]:
    workdir: Path = tmp_path_factory.mktemp("audience-host")
    env = {"RESIDENT_AUDIENCE": AUDIENCE}
    with ResidentHost(workdir, trusted=[issuer], env=env, sidecar=sidecar) as host:
        token = issuer.token("ops", aud=AUDIENCE)
        assert host.put_policy(OBJECT, issuer.sign(POLICY), token).status_code == 201
        yield host


def test_a_good_token_with_the_audience_is_accepted(
    strict_host: ResidentHost, issuer: Issuer
) -> None:
    response = strict_host.command(OBJECT, "increment", issuer.token("ops", aud=AUDIENCE))
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_token_attack_is_refused(
    attack: str, strict_host: ResidentHost, issuer: Issuer, mallory: Issuer
) -> None:
    reader = issuer.token("ops", aud=AUDIENCE)
    before = strict_host.show(OBJECT, reader)

    response = strict_host.command(OBJECT, "increment", ATTACKS[attack](issuer, mallory))

    assert response.status_code == 401, response.text
    assert response.json()["code"] == "unauthenticated"
    assert strict_host.show(OBJECT, reader) == before
