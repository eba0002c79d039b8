"""Every refusal is the documented 4xx with a problem body, and changes nothing."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.e2e.hosts import Issuer, ResidentHost, example

OBJECT = "thermostat-refusals"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _alg_none(token: str) -> str:
    _, payload, _ = token.split(".")
    return f"{_b64(json.dumps({'alg': 'none', 'typ': 'JWT'}).encode())}.{payload}."


def _tampered(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["roles"] = ["sensor", "ops"]
    return f"{header}.{_b64(json.dumps(claims).encode())}.{signature}"


@pytest.fixture(scope="module")
def installed(host: ResidentHost, issuer: Issuer) -> str:
    ops = issuer.token("ops", "ops", "viewer")
    policy = issuer.sign(example("thermostat", version=3))
    assert host.put_policy(OBJECT, policy, ops).status_code == 201
    return ops


def _state(host: ResidentHost, token: str) -> tuple[dict[str, Any], int]:
    snapshot = host.show(OBJECT, token)
    return snapshot["data"], snapshot["lineage"]["length"]


Attempt = Callable[[ResidentHost, Issuer, Issuer], httpx.Response]

CASES: dict[str, tuple[Attempt, int, str]] = {
    "caller without the sensor role": (
        lambda h, i, m: h.command(OBJECT, "report", i.token("v", "viewer"), temperature=40),
        403,
        "forbidden",
    ),
    "expired token": (
        lambda h, i, m: h.command(
            OBJECT, "report", i.token("s", "sensor", ttl=-60), temperature=40
        ),
        401,
        "unauthenticated",
    ),
    "token from an untrusted issuer": (
        lambda h, i, m: h.command(OBJECT, "report", m.token("s", "sensor"), temperature=40),
        401,
        "unauthenticated",
    ),
    "token with tampered claims": (
        lambda h, i, m: h.command(OBJECT, "report", _tampered(i.token("v")), temperature=40),
        401,
        "unauthenticated",
    ),
    "alg none token": (
        lambda h, i, m: h.command(
            OBJECT, "report", _alg_none(i.token("s", "sensor")), temperature=4
        ),
        401,
        "unauthenticated",
    ),
    "no token": (
        lambda h, i, m: h.call("POST", f"/objects/{OBJECT}/commands/report", None, json={}),
        401,
        "unauthenticated",
    ),
    "bad params": (
        lambda h, i, m: h.command(OBJECT, "report", i.token("s", "sensor"), temperature="hot"),
        422,
        "invalid_params",
    ),
    "unsigned policy": (
        lambda h, i, m: h.put_policy(
            OBJECT, json.dumps(example("thermostat", version=9)), i.token("ops", "ops")
        ),
        422,
        "unsigned_policy",
    ),
    "policy from a foreign issuer": (
        lambda h, i, m: h.put_policy(
            OBJECT, m.sign(example("thermostat", version=9)), i.token("ops", "ops")
        ),
        403,
        "untrusted_issuer",
    ),
    "rollback to a lower version": (
        lambda h, i, m: h.put_policy(
            OBJECT, i.sign(example("thermostat", version=2)), i.token("ops", "ops")
        ),
        409,
        "rollback",
    ),
    "amend by a caller the policy does not allow": (
        lambda h, i, m: h.put_policy(
            OBJECT, i.sign(example("thermostat", version=9)), i.token("intruder", "ops")
        ),
        403,
        "forbidden",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_refusal_is_documented_and_changes_nothing(
    case: str, host: ResidentHost, issuer: Issuer, mallory: Issuer, installed: str
) -> None:
    attempt, status, code = CASES[case]
    before = _state(host, installed)

    response = attempt(host, issuer, mallory)

    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code
    assert _state(host, installed) == before
