"""Issuers are not interchangeable, over the HTTP API.

The host trusts two issuers. A token from the one an object's policy does not name is valid
(it authenticates: 401 would be wrong, and would send the client to re-authenticate for
nothing), but that object does not hear it: 403 `forbidden`, even though the permission CEL,
which never mentions the issuer, would admit its claims.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from policies import sign_token
from tests.e2e.hosts import Issuer, ResidentHost

OBJECT = "counter-issuers"
SHARED = "counter-shared"
POLICY = {
    "id": "counter",
    "version": 1,
    "objects": ["counter-*"],
    "data": {"count": 0},
    "evaluation": {"every": "1h", "on_change": False},
    "capabilities": {"write": ["count"]},
    "permissions": {"read": "true", "amend": "true", "evaluate": "true", "export": "true"},
    "commands": {"increment": {"do": [{"set": {"count": "data.count + 1"}}]}},
}


@pytest.fixture(scope="module")
def partner() -> Issuer:
    """A second issuer the host trusts, for other objects."""
    return Issuer("https://partner.example")


@pytest.fixture(scope="module")
def two_issuers(
    tmp_path_factory: pytest.TempPathFactory, issuer: Issuer, partner: Issuer, sidecar: str
) -> Iterator[ResidentHost]:
    workdir: Path = tmp_path_factory.mktemp("two-issuers")
    with ResidentHost(workdir, trusted=[issuer, partner], sidecar=sidecar) as host:
        assert host.put_policy(OBJECT, issuer.sign(POLICY), issuer.token("ops")).status_code == 201
        shared = {**POLICY, "callers": [issuer.name, partner.name]}
        assert host.put_policy(SHARED, issuer.sign(shared), issuer.token("ops")).status_code == 201
        yield host


def test_a_token_from_a_trusted_issuer_the_policy_does_not_name_is_forbidden(
    two_issuers: ResidentHost, issuer: Issuer, partner: Issuer
) -> None:
    reader, stranger = issuer.token("ops"), partner.token("ops")
    before = two_issuers.show(OBJECT, reader)
    successor = issuer.sign({**POLICY, "version": 2, "data": {"count": 99}})
    calls = {
        "command": lambda: two_issuers.command(OBJECT, "increment", stranger),
        "read": lambda: two_issuers.call("GET", f"/objects/{OBJECT}", stranger),
        "lineage": lambda: two_issuers.call("GET", f"/objects/{OBJECT}/lineage", stranger),
        "evaluate": lambda: two_issuers.call("POST", f"/objects/{OBJECT}/evaluate", stranger),
        "export": lambda: two_issuers.call("POST", f"/objects/{OBJECT}/export", stranger),
        "amend": lambda: two_issuers.put_policy(OBJECT, successor, stranger),
    }
    for name, call in calls.items():
        response = call()
        assert response.status_code == 403, (name, response.text)
        assert response.json()["code"] == "forbidden", name
        assert "accepts callers only from" in response.json()["detail"], name
    assert two_issuers.show(OBJECT, reader) == before
    assert two_issuers.command(OBJECT, "increment", reader).status_code == 200


def test_a_policy_naming_both_issuers_hears_both(
    two_issuers: ResidentHost, issuer: Issuer, partner: Issuer
) -> None:
    for who in (issuer, partner):
        response = two_issuers.command(SHARED, "increment", who.token("ops"))
        assert response.status_code == 200, response.text
    assert two_issuers.show(SHARED, partner.token("ops"))["data"] == {"count": 2}
    whos = [e["who"]["iss"] for e in two_issuers.entries(SHARED, issuer.token("ops"))[-2:]]
    assert whos == [issuer.name, partner.name]


def test_a_caller_token_is_not_accepted_as_a_policy(
    two_issuers: ResidentHost, issuer: Issuer
) -> None:
    now = int(time.time())
    claims = {**POLICY, "iss": issuer.name, "iat": now, "exp": now + 600}
    as_token = sign_token(claims, issuer.key)  # a token whose claims are a valid policy
    response = two_issuers.put_policy("counter-token-as-policy", as_token, issuer.token("ops"))
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "unsigned_policy"
