"""Several replicas of the app on real Dapr placement: one app id, one host identity.

Three (app + daprd) pairs share one control plane (Redis, placement, scheduler) and the app id
`resident`, as a Deployment's replicas do; placement spreads the objects over them. Any
replica's API reaches any object, every object's reminder fires wherever it lives, the
listing sees all of them, and all replicas are the same host to the outside (one host key).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.e2e.hosts import Issuer, ResidentHost, example, replica_set
from tests.support import eventually, wait_http

REPLICAS = 3


@pytest.mark.daprd
@pytest.mark.timeout(240)
def test_replicas_serve_every_object_as_one_host(tmp_path: Path, issuer: Issuer) -> None:
    with replica_set(tmp_path, issuer, REPLICAS) as (_control, replicas):
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

        # Placement moves replica 2's objects away and back when its daprd restarts; each
        # replica's gauge counts only what it hosts now, so together they count each once.
        replicas[2].restart_sidecar()
        eventually(lambda: sum(hosted(r) for r in replicas) == len(ids), timeout=60, interval=1)
        assert len({replica_label(r) for r in replicas}) == REPLICAS


def metric(replica: ResidentHost, name: str) -> list[str]:
    text = httpx.get(f"{replica.app_url}/metrics", timeout=10).text
    return [line for line in text.splitlines() if line.startswith(name)]


def hosted(replica: ResidentHost) -> float:
    (line,) = metric(replica, "resident_hosted_objects ")
    return float(line.rsplit(" ", 1)[1])


def replica_label(replica: ResidentHost) -> str:
    (line,) = metric(replica, "resident_replica_info{")
    return line.split('replica="', 1)[1].split('"', 1)[0]


@pytest.mark.daprd
def test_rate_limits_are_per_replica(tmp_path: Path, issuer: Issuer) -> None:
    """A caller's budget is kept by each replica: spent on one, the next still serves it."""
    env = {"RESIDENT_COMMAND_RATE": "0.5", "RESIDENT_COMMAND_BURST": "3"}
    with replica_set(tmp_path, issuer, 2, env=env) as (_control, replicas):
        caller = issuer.token("ops", "ops", "viewer")
        first = [replicas[0].call("GET", "/objects/thermostat-rl", caller) for _ in range(4)]
        assert [r.status_code for r in first] == [404, 404, 404, 429]
        assert first[-1].json()["code"] == "rate_limited"
        assert replicas[1].call("GET", "/objects/thermostat-rl", caller).status_code == 404


@pytest.mark.daprd
@pytest.mark.parametrize("app_restarted_before", [False, True], ids=["app-fresh", "app-restarted"])
def test_a_restarted_sidecar_never_lets_the_app_act_on_stale_state(
    tmp_path: Path, issuer: Issuer, app_restarted_before: bool
) -> None:
    """daprd dies under a living app: the SDK's cached activation would survive it, while
    another replica may advance the object meanwhile (simulated by writing the store
    directly). After the sidecar restarts, the object answers from the store, not the cache.

    `app-restarted`: the app was itself restarted under the living daprd first, so the daprd
    that started before it never read its `/dapr/config`; the chaos test found lineages forked
    that way (the app took the restarted daprd's read for the first start, not a restart)."""
    with ResidentHost(tmp_path / "host", trusted=[issuer], sidecar="daprd") as host:
        assert host.control is not None
        if app_restarted_before:
            assert host.app_proc is not None
            host.app_proc.kill()
            host.start_app()
            wait_http(f"{host.app_url}/healthz", proc=host.app_proc, timeout=60)
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
