"""Idempotent commands end to end: a retried keyed command is applied once, on both sidecars.

50 concurrent duplicates, a retry after the app is SIGKILLed between commit and response, a
retry after the object moved to another host, a different body under a used key (422), and
keys that expire after the host's window (set short here: `RESIDENT_IDEMPOTENCY_WINDOW`).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.hosts import Issuer, ResidentHost
from tests.e2e.test_crash_consistency import restart_app
from tests.support import ROOT, eventually

WINDOW_S = 10
LEDGER: dict[str, Any] = {
    "id": "ledger",
    "version": 1,
    "objects": ["ledger-*"],
    "data": {"paid": 0, "payments": 0},
    "evaluation": {"every": "1h", "on_change": False},
    "capabilities": {"write": ["paid", "payments"]},
    "permissions": {
        "read": "true",
        "amend": "caller.sub == 'ops'",
        "export": "caller.sub == 'ops'",
        "evaluate": "caller.sub == 'ops'",
    },
    "commands": {
        "pay": {
            "params": {"amount": "integer"},
            "when": "params.amount > 0",
            "do": [{"set": {"paid": "data.paid + params.amount", "payments": "data.payments + 1"}}],
        }
    },
}


def pay(host: ResidentHost, object_id: str, token: str, key: str, amount: int) -> httpx.Response:
    headers = {"idempotency-key": key}
    path = f"/objects/{object_id}/commands/pay"
    return host.call("POST", path, token, json={"amount": amount}, headers=headers)


def replayed(response: httpx.Response) -> bool:
    return response.headers.get("idempotency-replayed") == "true"


def commands_in_lineage(host: ResidentHost, object_id: str, token: str) -> int:
    return sum(1 for e in host.entries(object_id, token) if e["kind"] == "command")


def install(host: ResidentHost, issuer: Issuer, object_id: str, document: dict[str, Any]) -> str:
    ops = issuer.token("ops", ttl=7200)
    response = host.put_policy(object_id, issuer.sign(document), ops)
    assert response.status_code == 201, response.text
    return ops


@pytest.fixture(scope="module")
def short_window(
    tmp_path_factory: pytest.TempPathFactory, issuer: Issuer, sidecar: str
) -> Iterator[ResidentHost]:
    """A second host, whose idempotency window is short enough to watch keys expire."""
    with ResidentHost(
        tmp_path_factory.mktemp("host-b"),
        trusted=[issuer],
        host_id="host-b",
        sidecar=sidecar,
        env={"RESIDENT_IDEMPOTENCY_WINDOW": f"{WINDOW_S}s"},
    ) as running:
        yield running


async def _duplicates(host: ResidentHost, token: str, n: int) -> list[httpx.Response]:
    headers = {"authorization": f"Bearer {token}", "idempotency-key": "order-42-payment"}
    limits = httpx.Limits(max_connections=n)
    async with httpx.AsyncClient(base_url=host.app_url, timeout=60, limits=limits) as client:
        calls = [
            client.post("/objects/ledger-1/commands/pay", json={"amount": 7}, headers=headers)
            for _ in range(n)
        ]
        return list(await asyncio.gather(*calls))


def test_fifty_concurrent_duplicates_apply_once(host: ResidentHost, issuer: Issuer) -> None:
    ops = install(host, issuer, "ledger-1", LEDGER)

    responses = asyncio.run(_duplicates(host, ops, 50))

    assert [r.status_code for r in responses] == [200] * 50
    assert len({r.content for r in responses}) == 1  # the same body, byte for byte
    assert len({r.json()["seq"] for r in responses}) == 1
    assert sum(not replayed(r) for r in responses) == 1
    assert host.show("ledger-1", ops)["data"] == {"paid": 7, "payments": 1}
    assert commands_in_lineage(host, "ledger-1", ops) == 1


def test_a_used_key_with_a_different_body_is_refused(host: ResidentHost, issuer: Issuer) -> None:
    ops = install(host, issuer, "ledger-2", LEDGER)
    first = pay(host, "ledger-2", ops, "k-1", 5)
    assert first.status_code == 200
    assert not replayed(first)

    other = pay(host, "ledger-2", ops, "k-1", 6)

    assert other.status_code == 422
    assert other.headers["content-type"] == "application/problem+json"
    assert other.json()["code"] == "idempotency_key_reused"
    again = pay(host, "ledger-2", ops, "k-1", 5)
    assert (again.status_code, again.content) == (200, first.content)
    assert replayed(again)
    assert host.show("ledger-2", ops)["data"] == {"paid": 5, "payments": 1}


def test_a_refused_command_keeps_its_key_free(host: ResidentHost, issuer: Issuer) -> None:
    ops = install(host, issuer, "ledger-3", LEDGER)
    assert pay(host, "ledger-3", ops, "k-1", 0).status_code == 403
    fixed = pay(host, "ledger-3", ops, "k-1", 3)
    assert fixed.status_code == 200
    assert not replayed(fixed)
    assert host.show("ledger-3", ops)["data"] == {"paid": 3, "payments": 1}


@pytest.mark.parametrize("key", ["", "has space", "x" * 129, "a,b", 'a"b'])
def test_a_malformed_key_is_a_clear_400(host: ResidentHost, issuer: Issuer, key: str) -> None:
    ops = issuer.token("ops")
    response = pay(host, "ledger-1", ops, key, 1)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request"
    assert "Idempotency-Key" in response.json()["detail"]


def test_a_structured_field_key_and_a_bare_one_are_the_same(
    host: ResidentHost, issuer: Issuer
) -> None:
    ops = install(host, issuer, "ledger-4", LEDGER)
    first = pay(host, "ledger-4", ops, '"5f1b-a2"', 2)
    again = pay(host, "ledger-4", ops, "5f1b-a2", 2)
    assert (first.status_code, again.status_code) == (200, 200)
    assert replayed(again)
    assert again.json() == first.json()


def test_a_keyed_evaluate_runs_one_cycle(host: ResidentHost, issuer: Issuer) -> None:
    ops = install(host, issuer, "ledger-5", LEDGER)
    headers = {"idempotency-key": "tick-1"}
    first = host.call("POST", "/objects/ledger-5/evaluate", ops, headers=headers)
    again = host.call("POST", "/objects/ledger-5/evaluate", ops, headers=headers)
    assert (first.status_code, again.status_code) == (200, 200)
    assert (replayed(first), replayed(again)) == (False, True)
    assert again.content == first.content
    assert host.show("ledger-5", ops)["cycles"] == 1


def test_a_retry_after_a_move_to_another_host_applies_once(
    host: ResidentHost, short_window: ResidentHost, issuer: Issuer
) -> None:
    ops = install(host, issuer, "ledger-6", LEDGER)
    first = pay(host, "ledger-6", ops, "move-1", 9)
    assert first.status_code == 200
    bundle = host.call("POST", "/objects/ledger-6/export", ops, params={"move": "true"})
    assert bundle.status_code == 200, bundle.text
    imported = short_window.call("POST", "/objects/ledger-6/import", ops, json=bundle.json())
    assert imported.status_code == 201, imported.text

    again = pay(short_window, "ledger-6", ops, "move-1", 9)

    assert again.status_code == 200
    assert replayed(again)
    assert again.json() == first.json()
    assert short_window.show("ledger-6", ops)["data"] == {"paid": 9, "payments": 1}
    assert pay(short_window, "ledger-6", ops, "move-1", 10).status_code == 422


def test_keys_expire_after_the_hosts_window(short_window: ResidentHost, issuer: Issuer) -> None:
    ops = install(short_window, issuer, "ledger-7", LEDGER)
    first = pay(short_window, "ledger-7", ops, "late-1", 4)
    assert replayed(pay(short_window, "ledger-7", ops, "late-1", 4))

    # Each retry is either answered from the record or, once the key expired, applied (once:
    # that turn records the key again, so the next retry is a replay).
    eventually(
        lambda: not replayed(pay(short_window, "ledger-7", ops, "late-1", 4)),
        timeout=WINDOW_S * 4,
        interval=0.5,
    )

    assert short_window.show("ledger-7", ops)["data"] == {"paid": 8, "payments": 2}
    assert pay(short_window, "ledger-7", ops, "late-1", 4).json()["seq"] == first.json()["seq"] + 1


# --- a retry after the app is SIGKILLed between commit and response ---------------------------

ENDPOINT = """\
apiVersion: dapr.io/v1alpha1
kind: HTTPEndpoint
metadata:
  name: bank
spec:
  baseUrl: {url}
"""
CHARGED = {
    **LEDGER,
    "capabilities": {"write": ["paid", "payments"], "services": ["bank/charge"]},
    "commands": {
        "pay": {
            **LEDGER["commands"]["pay"],
            "do": [
                *LEDGER["commands"]["pay"]["do"],
                {"invoke_service": {"app_id": "bank", "method": "charge", "data": "params"}},
            ],
        }
    },
}


@pytest.fixture
def silent_bank() -> Iterator[str]:
    """A service that accepts connections and never answers: an object's turn that calls it
    after committing stays open (its effect is being delivered) until the app dies."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


@pytest.fixture
def bank_host(
    tmp_path: Path, issuer: Issuer, sidecar: str, silent_bank: str
) -> Iterator[ResidentHost]:
    resources = tmp_path / "resources"
    resources.mkdir()
    for file in (ROOT / "components").glob("*.yaml"):
        shutil.copy(file, resources / file.name)
    (resources / "bank.yaml").write_text(ENDPOINT.format(url=silent_bank))
    with ResidentHost(
        tmp_path / "host", trusted=[issuer], sidecar=sidecar, resources_path=resources
    ) as running:
        yield running


def stored(host: ResidentHost, object_id: str, key: str) -> Any:
    """A state value read through the sidecar, without taking the object's turn."""
    path = f"{host.dapr_url}/v1.0/actors/ResidentObject/{object_id}/state/{key}"
    response = httpx.get(path, headers=host.token_headers(), timeout=5)
    if response.status_code != 200 or not response.content:
        return None
    value = response.json()
    return json.loads(value) if isinstance(value, str) else value


@pytest.mark.timeout(240)
def test_a_retry_after_the_app_died_between_commit_and_response_applies_once(
    bank_host: ResidentHost, issuer: Issuer
) -> None:
    host = bank_host
    ops = install(host, issuer, "ledger-8", CHARGED)
    seq_before = host.show("ledger-8", ops)["lineage"]["length"]
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(pay, host, "ledger-8", ops, "crash-1", 11)
        committed = eventually(lambda: (stored(host, "ledger-8", "meta") or {}).get("seq"))
        assert committed == seq_before + 1
        assert not pending.done()  # the turn is still delivering its effect: no response yet
        restart_app(host)
        with pytest.raises(httpx.HTTPError):
            pending.result(timeout=60)

    def answered() -> httpx.Response:
        response = pay(host, "ledger-8", ops, "crash-1", 11)
        assert response.status_code < 500, response.text  # the sidecar may still reconnect
        return response

    retry = eventually(answered, timeout=60, interval=0.5)

    assert retry.status_code == 200, retry.text
    assert replayed(retry)
    assert retry.json()["seq"] == committed
    assert host.show("ledger-8", ops)["data"] == {"paid": 11, "payments": 1}
    assert commands_in_lineage(host, "ledger-8", ops) == 1
