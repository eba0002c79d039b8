"""Crash consistency: the app SIGKILLed five times and localdapr twice under load.

50 objects take concurrent commands and evaluate every second while processes die at random
moments. Afterwards every object's lineage verifies, its data equals the replay of its lineage,
every acknowledged command is in it, and every admitted effect reached pub/sub (at least once,
under the id derived from its lineage entry).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from policies import verify_lineage
from tests.e2e.hosts import Issuer, ResidentHost
from tests.support import eventually, wait_http

OBJECTS = [f"ledger-{n:02d}" for n in range(50)]
LEDGER: dict[str, Any] = {
    "id": "ledger",
    "version": 1,
    "objects": ["ledger-*"],
    "data": {"balance": 0, "last": "", "ticks": 0, "ticked_at": 0},
    "evaluation": {"every": "1s", "on_change": False},
    "capabilities": {"write": ["balance", "last", "ticks", "ticked_at"], "publish": ["ledger"]},
    "permissions": {"read": "true", "amend": "caller.sub == 'ops'"},
    "commands": {
        "add": {
            "params": {"amount": "integer", "nonce": "string"},
            "do": [
                {"set": {"balance": "data.balance + params.amount", "last": "params.nonce"}},
                {"publish": {"topic": "ledger", "data": "{'nonce': params.nonce}"}},
            ],
        }
    },
    "rules": [
        {
            "name": "tick",
            "when": "data.balance != data.ticked_at",
            "do": [
                {"set": {"ticks": "data.ticks + 1", "ticked_at": "data.balance"}},
                {"publish": {"topic": "ledger", "data": "{'tick': data.ticks + 1}"}},
            ],
        }
    ],
}


class Load:
    """Threads sending `add` commands; remembers the nonces the host acknowledged."""

    def __init__(self, host: ResidentHost, token: str, threads: int = 4) -> None:
        self.host, self.token = host, token
        self.acknowledged: dict[str, set[str]] = {o: set() for o in OBJECTS}
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(n,)) for n in range(threads)]

    def _run(self, worker: int) -> None:
        headers = {"authorization": f"Bearer {self.token}"}
        sent = 0
        with httpx.Client(base_url=self.host.app_url, timeout=10) as client:
            while not self.stop.is_set():
                object_id, nonce = random.choice(OBJECTS), f"w{worker}-{sent}"
                sent += 1
                body = {"amount": 1, "nonce": nonce}
                try:
                    r = client.post(
                        f"/objects/{object_id}/commands/add", json=body, headers=headers
                    )
                except httpx.HTTPError:
                    self.stop.wait(0.1)
                    continue
                if r.status_code == 200 and r.json()["applied"]:
                    self.acknowledged[object_id].add(nonce)

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join()


def restart_app(host: ResidentHost) -> None:
    assert host.app_proc is not None
    host.app_proc.kill()
    host.start_app()
    wait_http(f"{host.app_url}/healthz", proc=host.app_proc, timeout=60)


def replay(entries: list[dict[str, Any]], initial: dict[str, Any]) -> dict[str, Any]:
    data = dict(initial)
    for entry in entries:
        for change in entry["changes"]:
            if change["op"] == "set":
                data[change["path"]] = change["value"]
            else:
                data.pop(change["path"], None)
    return data


@pytest.fixture
def ledger_host(tmp_path: Path, issuer: Issuer, sidecar: str) -> Iterator[ResidentHost]:
    with ResidentHost(
        tmp_path / "host", trusted=[issuer], sidecar=sidecar, observe=["ledger"]
    ) as host:
        yield host


@pytest.mark.timeout(300)
def test_objects_survive_random_kills_of_app_and_sidecar(
    ledger_host: ResidentHost, issuer: Issuer
) -> None:
    host, ops = ledger_host, issuer.token("ops", ttl=7200)
    policy = issuer.sign(LEDGER)
    for object_id in OBJECTS:
        assert host.put_policy(object_id, policy, ops).status_code == 201

    kills = ["app"] * 5 + ["sidecar"] * 2
    random.shuffle(kills)
    with Load(host, ops) as load:
        for victim in kills:
            time.sleep(random.uniform(0.5, 2.0))
            restart_app(host) if victim == "app" else host.restart_sidecar()
        time.sleep(1.0)

    def drained() -> bool:
        return all(host.show(o, ops)["outbox"] == 0 for o in OBJECTS)

    eventually(drained, timeout=60, interval=0.5)
    expected: set[str] = set()
    for object_id in OBJECTS:
        snapshot = host.show(object_id, ops)
        entries = host.entries(object_id, ops)[: snapshot["lineage"]["length"]]
        verify_lineage(entries, data=snapshot["data"])
        assert replay(entries, LEDGER["data"]) == snapshot["data"]
        applied = {c["value"] for e in entries for c in e["changes"] if c["path"] == "last"}
        assert load.acknowledged[object_id] <= applied
        expected |= {f"{e['id']}.{i}" for e in entries for i in range(len(e["effects"]))}

    def missing() -> set[str]:
        return expected - {m["id"] for m in host.published("ledger")}

    eventually(lambda: not missing(), timeout=10)
