"""Verifiable history figures: replay speed, and what host-signing entries costs a cycle.

Prints numbers only; targets (issue 13): replay >= 20,000 thermostat entries/s, and signing
adds <= 10% to a cycle. Run with `make bench` (or `.venv/bin/python bench/bench_history.py`).

- Replay: a real history (written by the engine as a host writes it, `tests.policies.history`)
  re-executed by `policies.replay_lineage`, thermostat and the 50-rule policy of bench_policy.
- Signing: the same object turn (`ResidentObject` over the in-memory sidecar of the actor
  tests: the turn's own CPU, no network) run as reminder cycles that each write an entry, on a
  host with an Ed25519 host key (entries signed) and on one without (entries unsigned).
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from actors import HostConfig
from bench.bench_policy import fifty_rule_document
from policies import (
    EntrySigner,
    Policy,
    TrustStore,
    example_document,
    generate_key,
    load_policy,
    replay_lineage,
    sign_policy,
    sign_token,
)
from tests.actors.fakes import InMemorySidecar, object_on
from tests.actors.test_reminder_fires import FakeClock
from tests.policies.history import History

NOW = datetime(2030, 1, 1, tzinfo=UTC)
ISSUER = "https://bench.example"
KEY = generate_key(issuer=ISSUER)
TRUST = TrustStore.from_jwks({"keys": [KEY.public_jwk]})
SENSOR = {"iss": ISSUER, "sub": "s1", "roles": ["sensor"]}
OPS = {"iss": ISSUER, "sub": "ops", "roles": []}


def thermostat_history(entries: int, *, flapping: bool) -> tuple[History, Policy]:
    """Sensor reports, one entry each: `flapping` alternates 35/25 around the threshold of 30,
    so every report also fires `overheat` or `recover` (and publishes); otherwise the
    temperature moves below the threshold and only the report's own change applies."""
    policy = load_policy(sign_policy(example_document("thermostat"), KEY, now=NOW), TRUST, now=NOW)
    history = History("thermostat-1", host_key=generate_key(), start=NOW)
    history.create(policy, OPS)
    step = 0
    while len(history.entries) < entries:
        history.tick()
        step += 1
        temperature = (35 if step % 2 else 25) if flapping else 20 + step % 9
        history.command("report", {"temperature": temperature}, SENSOR)
    return history, policy


def fifty_history(entries: int) -> tuple[History, Policy]:
    document, _ = fifty_rule_document()
    document["permissions"] = {"amend": "caller.sub == 'ops'"}
    policy = load_policy(sign_policy(document, KEY, now=NOW), TRUST, now=NOW)
    history = History("bench-1", host_key=generate_key(), start=NOW)
    history.create(policy, OPS)
    while len(history.entries) < entries:
        history.tick(10)
        history.cycle()  # the `tick` rule fires every cycle: one entry each
    return history, policy


def replay_rate(label: str, history: History, policy: Policy) -> None:
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        report = replay_lineage(
            history.entries,
            object_id=history.object_id,
            policies={policy.digest: policy},
            data=history.data,
        )
        best = min(best, time.perf_counter() - start)
        assert report.ok, report.reason
    count = len(history.entries)
    print(f"replay {label:<12} {count / best:9.0f} entries/s  ({count} entries, best of 3)")


async def cycle_cost(signed: bool, cycles: int) -> float:
    """Seconds per reminder cycle that writes one lineage entry."""
    clock = FakeClock()
    host = HostConfig(
        trust=TRUST, clock=clock, host_key=generate_key() if signed else None, host_id="bench"
    )
    sidecar = InMemorySidecar()
    actor = object_on(sidecar, host, "counter-1")
    document = {
        "id": "counter",
        "version": 1,
        "objects": ["counter-*"],
        "data": {"count": 0},
        "evaluation": {"every": "10s"},
        "capabilities": {"write": ["count"]},
        "permissions": {"amend": "true"},
        "rules": [{"name": "tick", "when": "true", "do": [{"set": {"count": "data.count + 1"}}]}],
    }
    now = int(time.time())
    token = sign_token({"iss": ISSUER, "sub": "ops", "iat": now, "exp": now + 3600}, KEY)
    await actor.install_policy({"policy": sign_policy(document, KEY), "token": token})
    await actor._on_post_actor_method_internal(None)  # type: ignore[arg-type]

    async def one() -> None:
        clock.moment += timedelta(seconds=10)
        await actor.receive_reminder("evaluate", b"", timedelta(0), timedelta(0))
        await actor._on_post_actor_method_internal(None)  # type: ignore[arg-type]

    for _ in range(200):
        await one()
    start = time.perf_counter()
    for _ in range(cycles):
        await one()
    return (time.perf_counter() - start) / cycles


def main() -> None:
    replay_rate("thermostat", *thermostat_history(10_000, flapping=False))
    replay_rate("thermo flap", *thermostat_history(10_000, flapping=True))
    replay_rate("50 rules", *fifty_history(2_000))
    ratios, unsigned_runs, signed_runs = [], [], []
    for _ in range(5):  # interleaved: the machine's noise hits both alike; the median is printed
        unsigned = asyncio.run(cycle_cost(False, 2_000))
        signed = asyncio.run(cycle_cost(True, 2_000))
        unsigned_runs.append(unsigned)
        signed_runs.append(signed)
        ratios.append(signed / unsigned)
    signer = EntrySigner(generate_key())
    start = time.perf_counter()
    for _ in range(5_000):
        signer.sign("sha256:" + "0" * 64)
    sign = (time.perf_counter() - start) / 5_000
    print(
        f"cycle turn (in-process) unsigned {statistics.median(unsigned_runs) * 1e6:7.1f} µs   "
        f"signed {statistics.median(signed_runs) * 1e6:7.1f} µs   "
        f"ratio {statistics.median(ratios):5.3f} (median of 5; one Ed25519 entry signature "
        f"{sign * 1e6:.1f} µs)"
    )


if __name__ == "__main__":
    main()
