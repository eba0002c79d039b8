"""A host whose app is killed mid-load comes back whole: objects, lineage, reminders."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from policies import verify_lineage
from tests.e2e.hosts import Issuer, ResidentHost, example
from tests.support import eventually, wait_http

OBJECTS = [f"thermostat-k{n}" for n in range(5)]

# Strings the Dapr SDK's default JSON decoder would turn into datetime / timedelta.
LOOKALIKES: dict[str, Any] = {
    "id": "diary",
    "version": 1,
    "objects": ["diary-*"],
    "data": {"since": "2026-01-01T00:00:00Z", "window": "1h", "day": "2026-02-03"},
    "evaluation": {"every": "1h", "on_change": False},
    "capabilities": {"write": ["note"]},
    "permissions": {"read": "true", "amend": "caller.sub == 'ops'"},
    "commands": {
        "note": {"params": {"text": "string"}, "do": [{"set": {"note": "params.text"}}]},
    },
}


@pytest.fixture
def own_host(tmp_path: Path, issuer: Issuer, sidecar: str) -> Iterator[ResidentHost]:
    with ResidentHost(tmp_path / "host", trusted=[issuer], sidecar=sidecar) as running:
        yield running


def _load(host: ResidentHost, token: str, stop: threading.Event) -> None:
    with httpx.Client(base_url=host.app_url, timeout=5) as client:
        while not stop.is_set():
            object_id = random.choice(OBJECTS)
            body = {"temperature": random.choice([10, 20, 35, 40])}
            try:
                client.post(
                    f"/objects/{object_id}/commands/report",
                    json=body,
                    headers={"authorization": f"Bearer {token}"},
                )
            except httpx.HTTPError:
                stop.wait(0.05)


def test_killed_app_restarts_with_objects_lineage_and_reminders(
    own_host: ResidentHost, issuer: Issuer
) -> None:
    host = own_host
    ops = issuer.token("ops", "ops", "viewer")
    sensor = issuer.token("sensor-1", "sensor")
    policy = issuer.sign(example("thermostat", evaluation={"every": "1s", "on_change": False}))
    for object_id in OBJECTS:
        assert host.put_policy(object_id, policy, ops).status_code == 201

    stop = threading.Event()
    loaders = [threading.Thread(target=_load, args=(host, sensor, stop)) for _ in range(4)]
    for thread in loaders:
        thread.start()
    try:
        eventually(lambda: all(host.show(o, ops)["cycles"] >= 1 for o in OBJECTS), timeout=10)
        assert host.app_proc is not None
        host.app_proc.kill()
        host.start_app()
        wait_http(f"{host.app_url}/healthz", proc=host.app_proc)
        host.wait_ready()
    finally:
        stop.set()
        for thread in loaders:
            thread.join()

    after_restart = {o: host.show(o, ops)["cycles"] for o in OBJECTS}
    eventually(
        lambda: all(host.show(o, ops)["cycles"] >= after_restart[o] + 2 for o in OBJECTS),
        timeout=15,
    )
    for object_id in OBJECTS:
        snapshot = host.show(object_id, ops)
        entries = host.entries(object_id, ops)[: snapshot["lineage"]["length"]]
        verify_lineage(entries, data=snapshot["data"])


def test_date_and_duration_lookalike_strings_survive_a_reload(
    own_host: ResidentHost, issuer: Issuer
) -> None:
    host = own_host
    ops = issuer.token("ops", "ops")
    assert host.put_policy("diary-1", issuer.sign(LOOKALIKES), ops).status_code == 201
    assert host.command("diary-1", "note", ops, text="30s").status_code == 200
    expected = {**LOOKALIKES["data"], "note": "30s"}
    assert host.show("diary-1", ops)["data"] == expected

    assert host.app_proc is not None
    host.app_proc.kill()  # the next read comes from the store, not the SDK's cache
    host.start_app()
    wait_http(f"{host.app_url}/healthz", proc=host.app_proc)

    snapshot = host.show("diary-1", ops)
    assert snapshot["data"] == expected
    verify_lineage(host.entries("diary-1", ops), data=snapshot["data"])


# Numbers that a store re-encoding floats (daprd + Redis: ~6 decimals, every number a float64)
# would change: digits lost, 1e-7 -> 0, 35.0 -> 35 (then `whole + 0.5` has no CEL overload),
# 2**53 - 1 rounded.
EXACT_NUMBERS: dict[str, Any] = {
    "price": 38.50000000000001,
    "tiny": 1e-7,
    "whole": 35.5,
    "big": 2**53 - 1,  # the largest integer canonical JSON (RFC 8785) holds
    "negative": -0.1,
}
NUMBERS: dict[str, Any] = {
    "id": "numbers",
    "version": 1,
    "objects": ["numbers-*"],
    "data": EXACT_NUMBERS,
    "evaluation": {"every": "1h", "on_change": False},
    "capabilities": {"write": ["price", "whole", "sum"]},
    "permissions": {"read": "true", "amend": "caller.sub == 'ops'"},
    "commands": {
        "reprice": {
            "params": {"price": "number", "whole": "number"},
            "do": [{"set": {"price": "params.price"}}, {"set": {"whole": "params.whole"}}],
        },
        "add": {"do": [{"set": {"sum": "data.whole + 0.5"}}]},
    },
}


def test_numbers_round_trip_bit_for_bit_through_the_state_store(
    own_host: ResidentHost, issuer: Issuer
) -> None:
    host = own_host
    ops = issuer.token("ops", "ops")
    assert host.put_policy("numbers-1", issuer.sign(NUMBERS), ops).status_code == 201
    # 35.0 arrives as a JSON float in the command (a signed policy is canonical JSON: 35)
    repriced = host.command("numbers-1", "reprice", ops, price=0.30000000000000004, whole=35.0)
    assert repriced.status_code == 200, repriced.text

    assert host.app_proc is not None
    host.app_proc.kill()  # the next read comes from the store, not the SDK's cache
    host.start_app()
    wait_http(f"{host.app_url}/healthz", proc=host.app_proc)

    response = host.call("GET", "/objects/numbers-1", ops)
    data = response.json()["data"]
    assert data == {**EXACT_NUMBERS, "price": 0.30000000000000004, "whole": 35.0}
    assert '"whole":35.0' in response.text.replace(" ", "")
    assert type(data["whole"]) is float
    assert type(data["big"]) is int
    added = host.command("numbers-1", "add", ops)
    assert added.status_code == 200, added.text
    assert added.json()["applied"] is True, added.text
    snapshot = host.show("numbers-1", ops)
    assert snapshot["data"]["sum"] == 35.5
    verify_lineage(host.entries("numbers-1", ops), data=snapshot["data"])
