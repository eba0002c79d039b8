"""The real object writes histories that replay, verifies them live, and dry-runs candidates
without writing anything.

Histories here come from `ResidentObject` itself (over the in-memory sidecar): commands,
reminder cycles, amendments and workflow events and timeouts, on a clock the test moves.
"""

from __future__ import annotations

import asyncio
import copy
import json
import time
from datetime import timedelta
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actors import HostConfig, ResidentObject
from policies import (
    TrustStore,
    build_bundle,
    example_document,
    generate_key,
    sign_policy,
    sign_token,
    verify_bundle,
)
from tests.actors.fakes import InMemorySidecar, object_on
from tests.actors.test_reminder_fires import FakeClock, fire
from tests.policies.history import rechain
from tests.support import ROOT

ISSUER = "https://ops.example"
KEY = generate_key(kid="ops-key", issuer=ISSUER)
TRUST = TrustStore.from_jwks({"keys": [KEY.public_jwk]})
Step = tuple[str, Any]


def token(sub: str = "ops", *roles: str) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "sub": sub, "roles": list(roles), "iat": now, "exp": now + 86400}
    return sign_token(claims, KEY)


class Host:
    """One Resident host: its sidecar, clock and key; `actor(id)` is a fresh activation."""

    def __init__(self, name: str, clock: FakeClock) -> None:
        self.sidecar, self.clock = InMemorySidecar(), clock
        self.config = HostConfig(trust=TRUST, clock=clock, host_id=name, host_key=generate_key())

    def actor(self, object_id: str) -> ResidentObject:
        return object_on(self.sidecar, self.config, object_id)

    async def call(self, object_id: str, method: str, request: dict[str, Any]) -> dict[str, Any]:
        actor = self.actor(object_id)
        result: dict[str, Any] = await getattr(actor, method)(request)
        await actor._on_post_actor_method_internal(None)  # type: ignore[arg-type]  # SDK's save
        return result


def thermostat(version: int = 3, threshold: int = 30) -> str:
    document = example_document("thermostat")
    document["permissions"]["read"] = "true"
    document.update(version=version)
    document["data"]["threshold"] = threshold
    return sign_policy(document, KEY)


async def run_thermostat(host: Host, plan: list[Step]) -> None:
    await host.call("thermostat-1", "install_policy", {"policy": thermostat(), "token": token()})
    version = 3
    for kind, value in plan:
        host.clock.moment += timedelta(seconds=31)
        if kind == "report":
            params = {"temperature": value}
            request = {"name": "report", "params": params, "token": token("s1", "sensor")}
            await host.call("thermostat-1", "command", request)
        elif kind == "cycle":
            actor = host.actor("thermostat-1")
            await fire(actor)
        else:
            version += 1
            request = {"policy": thermostat(version, value), "token": token()}
            assert "error" not in await host.call("thermostat-1", "install_policy", request)


steps = st.lists(
    st.one_of(
        st.tuples(st.just("report"), st.integers(-99, 199) | st.floats(-99, 199)),
        st.tuples(st.just("cycle"), st.none()),
        st.tuples(st.just("amend"), st.integers(10, 60)),
    ),
    max_size=10,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=steps)
def test_any_history_the_real_object_writes_replays_live_and_offline(plan: list[Step]) -> None:
    async def scenario() -> None:
        host = Host("host-a", FakeClock())
        await run_thermostat(host, plan)
        report = await host.call("thermostat-1", "verify_lineage", {"token": token()})
        assert report["ok"], report
        assert report["replay"]["replayed"] == report["chain"]["length"]
        assert report["signatures"]["unknown_signers"] == []
        bundle = await host.call("thermostat-1", "export", {"token": token()})
        offline = verify_bundle(bundle, TRUST, now=host.clock.now())
        assert offline.replay.replayed == len(bundle["lineage"])

    asyncio.run(scenario())


def order(**changes: Any) -> str:
    document = yaml.safe_load((ROOT / "policies" / "examples" / "order.yaml").read_text())
    document["workflow"]["states"]["paid"]["transitions"][1]["after"] = "1m"
    document = {**document, "iss": ISSUER, **changes}
    document["permissions"] = {**document["permissions"], "read": "true", "export": "true"}
    return sign_policy(document, KEY)


async def test_a_workflow_moved_a_to_b_to_c_replays_on_c_and_offline() -> None:
    clock = FakeClock()
    a, b, c = Host("host-a", clock), Host("host-b", clock), Host("host-c", clock)
    ops = token("ops", "ops")
    await a.call("order-1", "install_policy", {"policy": order(), "token": ops})
    clock.moment += timedelta(seconds=5)
    paid = {"name": "payment_received", "params": {"payment_id": "p-1"}, "token": ops}
    assert "error" not in await a.call("order-1", "command", paid)

    bundle = await a.call("order-1", "export", {"token": ops, "move": True})
    assert (await b.call("order-1", "import_object", {"bundle": bundle, "token": ops}))["created"]
    clock.moment += timedelta(minutes=2)  # the `after: 1m` of `paid` falls due on B
    await fire(b.actor("order-1"))
    snapshot = await b.call("order-1", "snapshot", {"token": ops})
    assert snapshot["workflow"]["state"] == "cancelled"  # compensating -> cancelled, on B

    bundle = await b.call("order-1", "export", {"token": ops, "move": True})
    imported = await c.call("order-1", "import_object", {"bundle": bundle, "token": ops})
    assert imported["created"], imported
    report = await c.call("order-1", "verify_lineage", {"token": ops})
    assert report["ok"], report
    kinds = [e["kind"] for e in (await c.call("order-1", "lineage", {"token": ops}))["entries"]]
    assert kinds.count("transition") >= 4
    assert len(report["signatures"]["signers"]) == 3  # a, b and c each signed their steps
    offline = verify_bundle(bundle, TRUST, now=clock.now())
    assert offline.replay.ok
    assert len(offline.signatures.unknown_signers) == 2


async def test_a_forged_workflow_state_in_an_export_is_refused() -> None:
    clock = FakeClock()
    a, b = Host("host-a", clock), Host("host-b", clock)
    ops = token("ops", "ops")
    await a.call("order-1", "install_policy", {"policy": order(), "token": ops})
    bundle = await a.call("order-1", "export", {"token": ops})
    forged = copy.deepcopy(bundle)
    forged["lineage"][-1]["extra"]["workflow"]["state"] = "shipped"
    signer = a.config.entry_signer
    forged["lineage"] = rechain(forged["lineage"], start=len(forged["lineage"]) - 1, signer=signer)
    forged["head"] = forged["lineage"][-1]["hash"]
    assert a.config.host_key is not None
    resigned = build_bundle(
        object_id="order-1", policy_jws=forged["policy"], data=forged["data"],
        lineage=forged["lineage"], from_host="host-a", key=a.config.host_key,
        policies=forged["policies"], hosts=forged["hosts"],
    )  # fmt: skip
    refused = await b.call("order-1", "import_object", {"bundle": resigned, "token": ops})
    assert refused["error"]["code"] == "replay_mismatch"
    assert "workflow state" in refused["error"]["message"]
    assert b.sidecar.state == {}


async def test_verify_names_the_first_tampered_entry() -> None:
    host = Host("host-a", FakeClock())
    await run_thermostat(host, [("report", 40), ("report", 20)])
    key = "ResidentObject||thermostat-1||lineage-0000000003"
    entry = json.loads(host.sidecar.state[key])
    entry["changes"][0]["value"] = 41
    host.sidecar.state[key] = json.dumps(entry).encode()
    report = await host.call("thermostat-1", "verify_lineage", {"token": token()})
    assert not report["ok"]
    assert (report["chain"]["ok"], report["chain"]["first_bad"]) == (False, 3)
    assert report["replay"]["ok"] is False


async def test_a_dry_run_writes_nothing_and_says_what_would_happen() -> None:
    host = Host("host-a", FakeClock())
    await run_thermostat(host, [("report", 25)])
    before = copy.deepcopy(host.sidecar.state)
    candidate = example_document("thermostat")
    candidate["version"] = 4
    # The candidate raises the alarm above 20 (the object is at 25) ...
    candidate["rules"][0]["when"] = "data.temperature > 20.0 && data.status != 'alarm'"
    candidate["capabilities"]["publish"] = []  # ... but may not publish it
    report = await host.call(
        "thermostat-1", "dry_run", {"token": token(), "policy": yaml.safe_dump(candidate)}
    )
    assert host.sidecar.state == before
    assert host.sidecar.published == []
    assert report["ran"] == "cycle"
    assert report["changes"] == []  # the rule is refused as a unit
    (denial,) = report["denied"]
    assert (denial["rule"], denial["by"], denial["capability"]) == (
        "overheat",
        "capability",
        "publish",
    )
    assert report["successor"]["admitted"] is True

    with_command = await host.call(
        "thermostat-1",
        "dry_run",
        {
            "token": token(),
            "policy": candidate,
            "command": {"name": "report", "params": {"temperature": 10}},
        },
    )
    assert with_command["ran"] == "command"
    assert host.sidecar.state == before

    viewer = await host.call(
        "thermostat-1", "dry_run", {"token": token("someone"), "policy": candidate}
    )
    assert viewer["error"]["code"] == "forbidden"
    bad = await host.call("thermostat-1", "dry_run", {"token": token(), "policy": 7})
    assert bad["error"]["code"] == "invalid_request"
    assert host.sidecar.state == before
