"""Numbers no object can hold exactly are refused with a 422 naming the problem, through the
HTTP API and straight through the sidecar, never a 500 (issue: `1e400`, 10**400, 5,000 digits).
"""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.hosts import Issuer, ResidentHost, example

# Python's decoder also reads the non-finite constants, which JSON does not have.
HUGE = [b"1e400", b"-1e400", b"1" + b"0" * 400, b"9" * 5000, b"9007199254740992"]
HUGE += [b"NaN", b"Infinity", b"-Infinity"]


@pytest.fixture(scope="module")
def thermostat(host: ResidentHost, issuer: Issuer) -> str:
    ops = issuer.token("ops", "ops", "viewer")
    assert host.put_policy("thermostat-num", issuer.sign(example("thermostat")), ops).is_success
    return "thermostat-num"


@pytest.mark.parametrize("number", HUGE, ids=lambda n: n[:12].decode())
def test_out_of_range_numbers_are_a_422_through_the_api(
    host: ResidentHost, issuer: Issuer, thermostat: str, number: bytes
) -> None:
    sensor = issuer.token("sensor-1", "sensor")
    response = host.http.post(
        f"/objects/{thermostat}/commands/report",
        content=b'{"temperature": ' + number + b"}",
        headers={"authorization": f"Bearer {sensor}", "content-type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "number_out_of_range"
    assert response.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("number", HUGE, ids=lambda n: n[:12].decode())
def test_out_of_range_numbers_are_refused_straight_through_the_sidecar(
    host: ResidentHost, issuer: Issuer, thermostat: str, number: bytes
) -> None:
    sensor = issuer.token("sensor-1", "sensor").encode()
    body = b'{"name": "report", "params": {"temperature": ' + number + b'}, "token": "'
    response = httpx.post(
        f"{host.dapr_url}/v1.0/actors/ResidentObject/{thermostat}/method/Command",
        content=body + sensor + b'"}',
        headers=host.token_headers(),
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert response.json()["error"]["code"] == "number_out_of_range"
