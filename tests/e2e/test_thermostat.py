"""The product loop: a signed policy, a command, and rules that act by reminder alone."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.hosts import Issuer, ResidentHost, example
from tests.e2e.subscriber import Subscriber
from tests.support import ROOT, eventually

OBJECT = "thermostat-e2e"


@pytest.fixture
def subscriber(host: ResidentHost, tmp_path: Path) -> Iterator[Subscriber]:
    """A separate Dapr app subscribed to `alerts`, its own localdapr sharing the host's broker."""
    with Subscriber(tmp_path / "subscriber", join=host, topics=["alerts"]) as running:
        yield running


def test_thermostat_alarms_by_reminder_then_recovers(
    host: ResidentHost, issuer: Issuer, subscriber: Subscriber
) -> None:
    ops = issuer.token("ops", "ops", "viewer")
    sensor = issuer.token("sensor-1", "sensor")
    policy = example("thermostat", evaluation={"every": "1s", "on_change": False})

    created = host.put_policy(OBJECT, issuer.sign(policy), ops)
    assert created.status_code == 201, created.text
    assert created.json()["object"]["data"]["status"] == "ok"

    reported = host.command(OBJECT, "report", sensor, temperature=35)
    assert reported.status_code == 200, reported.text
    assert reported.json()["applied"] is True
    assert host.show(OBJECT, ops)["data"]["status"] == "ok"  # on_change is off: no rule ran yet

    eventually(lambda: host.show(OBJECT, ops)["data"]["status"] == "alarm", timeout=5)
    alerts = eventually(
        lambda: [m for m in host.published("alerts") if OBJECT in str(m)], timeout=5
    )
    assert "35" in str(alerts[0])
    event = eventually(subscriber.received, timeout=5)[0]  # at-least-once: ids de-duplicate
    assert event["data"]["object"] == OBJECT
    entry_id, _, index = event["id"].rpartition(".")  # the outbox id: <lineage entry id>.<index>
    assert entry_id in {e["id"] for e in host.entries(OBJECT, ops)}
    assert index.isdigit()

    kinds = {e["kind"] for e in host.entries(OBJECT, ops)}
    assert {"created", "policy", "command", "cycle"} <= kinds

    host.command(OBJECT, "report", sensor, temperature=10)
    eventually(lambda: host.show(OBJECT, ops)["data"]["status"] == "ok", timeout=5)

    url = ("--url", host.app_url)
    verify = subprocess.run(
        [sys.executable, "-m", "app.cli", "lineage", OBJECT, "--verify", "--token", ops, *url],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert '"ok": true' in verify.stdout


def test_unknown_object_is_404(host: ResidentHost, issuer: Issuer) -> None:
    response = host.call("GET", "/objects/thermostat-nobody", issuer.token("ops", "viewer"))
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "not_found"


def test_actor_routes_refuse_callers_other_than_the_sidecar(host: ResidentHost) -> None:
    response = host.http.put("/actors/ResidentObject/x/method/Snapshot", json={})
    assert response.status_code == 401
