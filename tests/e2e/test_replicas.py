"""Several replicas of the app on real Dapr placement: one app id, one host identity.

Three (app + daprd) pairs share one control plane (Redis, placement, scheduler) and the app id
`resident`, as a Deployment's replicas do; placement spreads the objects over them. Any
replica's API reaches any object, every object's reminder fires wherever it lives, the
listing sees all of them, and all replicas are the same host to the outside (one host key).
"""

from __future__ import annotations

import json
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from app.hostkey import ensure_host_key
from tests.e2e.hosts import Issuer, ResidentHost, example
from tests.realdapr import ControlPlane, Daprd
from tests.support import eventually

REPLICAS = 3


@pytest.mark.daprd
@pytest.mark.timeout(240)
def test_replicas_serve_every_object_as_one_host(tmp_path: Path, issuer: Issuer) -> None:
    control = ControlPlane(tmp_path / "control").start()
    key = tmp_path / "host-key.pem"
    ensure_host_key(key, generate=True)
    env = {"RESIDENT_HOST_KEY": str(key), "RESIDENT_GENERATE_HOST_KEY": "false"}
    replicas = [
        ResidentHost(
            tmp_path / f"replica-{n}",
            trusted=[issuer],
            host_id="resident",
            env=env,
            sidecar=Daprd(control),
        )
        for n in range(REPLICAS)
    ]
    try:
        with ThreadPoolExecutor(REPLICAS) as pool:
            list(pool.map(lambda r: r.start(), replicas))
        ops, sensor = issuer.token("ops", "ops", "viewer"), issuer.token("s", "sensor")
        policy = issuer.sign(example("thermostat", evaluation={"every": "1s", "on_change": False}))
        ids = [f"thermostat-rep{n:02d}" for n in range(24)]
        for n, object_id in enumerate(ids):
            assert replicas[n % REPLICAS].put_policy(object_id, policy, ops).status_code == 201

        def all_cycling() -> bool:
            return all(
                replicas[(n + 1) % REPLICAS].show(i, ops)["cycles"] >= 2 for n, i in enumerate(ids)
            )

        eventually(all_cycling, timeout=30, interval=0.5)
        for n, object_id in enumerate(ids):
            done = replicas[(n + 2) % REPLICAS].command(object_id, "report", sensor, temperature=40)
            assert done.status_code == 200, done.text
        listed = replicas[-1].call("GET", "/objects?prefix=thermostat-rep&limit=100", ops).json()
        assert [o["id"] for o in listed["objects"]] == ids
        identities = {
            httpx.get(f"{r.app_url}/.well-known/jwks.json", timeout=5).text for r in replicas
        }
        assert len(identities) == 1
    finally:
        for replica in replicas:
            replica.stop()
        control.stop()


@pytest.mark.daprd
def test_a_restarted_sidecar_never_lets_the_app_act_on_stale_state(
    tmp_path: Path, issuer: Issuer
) -> None:
    """daprd dies under a living app: the SDK's cached activation would survive it, while
    another replica may advance the object meanwhile (simulated by writing the store
    directly). After the sidecar restarts, the object answers from the store, not the cache."""
    with ResidentHost(tmp_path / "host", trusted=[issuer], sidecar="daprd") as host:
        assert host.control is not None
        ops = issuer.token("ops", "ops", "viewer")
        assert host.put_policy(
            "thermostat-stale", issuer.sign(example("thermostat")), ops
        ).is_success
        assert host.show("thermostat-stale", ops)["data"]["temperature"] == 20  # now cached

        key = "resident||ResidentObject||thermostat-stale||data"
        advanced = json.dumps(json.dumps({"status": "ok", "temperature": 25, "threshold": 30}))
        redis = ["redis-cli", "-p", str(host.control.redis_port)]
        subprocess.run([*redis, "HSET", key, "data", advanced], check=True, capture_output=True)

        host.restart_sidecar()  # the app keeps running, with its activation
        eventually(lambda: host.show("thermostat-stale", ops)["data"]["temperature"] == 25)
