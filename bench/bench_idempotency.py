"""The cost of an idempotency key: keyed commands against unkeyed ones, and a replayed retry.

Calls go straight to the sidecar's actor API (`Command`), as any Dapr app's would: through the
HTTP API every command is keyed (the caller's `Idempotency-Key`, else a fresh one), so only
there can the two be told apart. Keyed and unkeyed commands go to two sets of objects, each
first brought to its steady state by 260 commands of its kind: a keyed object's record table
full at its bound (256 keys), an unkeyed object's lineage as long and no records at all. (On
one set of objects, the unkeyed commands would pay for the index of records the keyed ones
left in `meta`, and hide part of what keys cost.) Then short unkeyed and keyed rounds
alternate, many times (one caller per object, so no caller waits on another's turn), and the
CPU the app and its sidecar (and Redis, placement and scheduler on daprd) spent
in each is summed: per thread, in nanoseconds, from /proc/<pid>/task/*/schedstat. This
machine's speed drifts by tens of percent from minute to minute, and from one round of 80
commands to the next by about 16%; short alternations see the same drift on both sides,
where long rounds timed in clock ticks did not. 480 rounds each way: with 240, runs of one
build differed by up to 3 points. Printed: the ratio of the sums (keyed CPU per command over
unkeyed) with its 95% interval (a bootstrap over the pairs of rounds: how far the drift may
have moved it), the ratios of ten blocks of rounds (the spread), and commands/s and p50
latency of each. Target: keyed <= 1.05 x unkeyed. First, the object's turn alone (no HTTP,
no sidecar process) in CPU time: its ratio is larger, as nothing of the command's path but
the turn is in its denominator.

    .venv/bin/python bench/bench_idempotency.py [--sidecar localdapr|daprd] [--objects 8]
        [--round 80] [--rounds 480]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import random
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from actors import HostConfig  # noqa: E402
from actors._serializer import StateJSONSerializer  # noqa: E402
from bench.bench_service import processes  # noqa: E402
from policies import TrustStore, generate_key, sign_policy, sign_token  # noqa: E402
from tests.actors.fakes import InMemorySidecar, object_on  # noqa: E402
from tests.e2e.hosts import Issuer, ResidentHost  # noqa: E402

COUNTER: dict[str, Any] = {
    "id": "counter",
    "version": 1,
    "objects": ["counter-*"],
    "data": {"count": 0},
    "evaluation": {"every": "1h", "on_change": False},
    "capabilities": {"write": ["count"]},
    "permissions": {"read": "true", "amend": "caller.sub == 'ops'"},
    "commands": {
        "add": {"params": {"by": "integer"}, "do": [{"set": {"count": "data.count + params.by"}}]}
    },
}


ISSUER = "https://bench.example"
KEY = generate_key(issuer=ISSUER)


class Caller:
    """Sends `Command` through the sidecar's actor API, one object per worker."""

    def __init__(self, host: ResidentHost, session: aiohttp.ClientSession, token: str) -> None:
        self.host, self.session, self.token = host, session, token

    async def command(self, object_id: str, key: str | None) -> float:
        body: dict[str, Any] = {"name": "add", "params": {"by": 1}, "token": self.token}
        if key is not None:
            body["idempotency_key"] = key
        path = f"{self.host.dapr_url}/v1.0/actors/ResidentObject/{object_id}/method/Command"
        started = time.perf_counter()
        async with self.session.post(path, json=body) as response:
            result = await response.json(content_type=None)
        if response.status != 200 or "error" in result:
            raise RuntimeError(f"{response.status} {result}")
        return time.perf_counter() - started

    async def round(self, keys: dict[str, list[str | None]]) -> list[float]:
        """Send each object its commands in order (`keys`: one idempotency key, or None, per
        command), the objects concurrently; the latency of each command."""

        async def worker(object_id: str, its_keys: list[str | None]) -> list[float]:
            return [await self.command(object_id, key) for key in its_keys]

        rounds = await asyncio.gather(*(worker(i, ks) for i, ks in keys.items()))
        return [t for ts in rounds for t in ts]


def round_keys(
    ids: list[str], per_object: int, *, keyed: bool, key: str = ""
) -> dict[str, list[str | None]]:
    """The keys of one round, made before it is measured: the client's own work (a fresh
    random key per command) runs on the same CPUs as the app and its sidecar."""
    return {
        i: [key or (uuid.uuid4().hex if keyed else None) for _ in range(per_object)] for i in ids
    }


def cpu_ns(pids: dict[str, int]) -> dict[tuple[str, str], int]:
    """{(process, thread id): nanoseconds on a CPU so far} of every live thread of `pids`."""
    used = {}
    for name, pid in pids.items():
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):  # a thread that ended between listing and reading
                used[(name, task.name)] = int((task / "schedstat").read_text().split()[0])
    return used


@dataclass
class Tally:
    """CPU and latencies of one kind of command, summed over its rounds."""

    commands: int = 0
    wall: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)  # seconds, per process
    latencies: list[float] = field(default_factory=list)
    rounds: list[tuple[int, float]] = field(default_factory=list)  # (commands, CPU seconds)

    def add(self, latencies: list[float], wall: float, cpu: dict[str, float]) -> None:
        self.commands += len(latencies)
        self.wall += wall
        self.latencies += latencies
        for name, seconds in cpu.items():
            self.cpu[name] = self.cpu.get(name, 0.0) + seconds
        self.rounds.append((len(latencies), sum(cpu.values())))

    def cpu_ms(self) -> float:
        return sum(self.cpu.values()) / self.commands * 1000

    def summary(self, label: str) -> str:
        per = ", ".join(f"{n} {s / self.commands * 1000:.3f}" for n, s in self.cpu.items())
        return (
            f"{label:>15}: {self.commands / self.wall:7.0f} commands/s, p50 "
            f"{statistics.median(self.latencies) * 1000:.2f} ms, {self.cpu_ms():.3f} ms CPU per "
            f"command ({per})"
        )


async def measure(
    caller: Caller, pids: dict[str, int], ids: list[str], n: int, tally: Tally, **how: Any
) -> None:
    keys = round_keys(ids, max(1, n // len(ids)), **how)
    before, started = cpu_ns(pids), time.perf_counter()
    latencies = await caller.round(keys)
    wall, after = time.perf_counter() - started, cpu_ns(pids)
    cpu: dict[str, float] = {}
    for thread, ns in after.items():
        if thread in before:  # threads started during the round count from the next one
            cpu[thread[0]] = cpu.get(thread[0], 0.0) + (ns - before[thread]) / 1e9
    tally.add(latencies, wall, cpu)


def interval(plain: Tally, keyed: Tally, draws: int = 2000) -> tuple[float, float]:
    """A 95% interval of the keyed/unkeyed ratio of CPU sums: the pairs of rounds run one
    after the other (one of each kind) resampled with replacement (a bootstrap), so what the
    machine's drift moves between runs shows as the interval's width."""
    pairs = list(zip(plain.rounds, keyed.rounds, strict=True))
    draw = random.Random(0).choices
    ratios = []
    for _ in range(draws):
        sample = draw(pairs, k=len(pairs))
        per_u = sum(c for (_, c), _ in sample) / sum(n for (n, _), _ in sample)
        per_k = sum(c for _, (_, c) in sample) / sum(n for _, (n, _) in sample)
        ratios.append(per_k / per_u)
    ratios.sort()
    return ratios[int(draws * 0.025)], ratios[int(draws * 0.975) - 1]


def block_ratios(plain: Tally, keyed: Tally, blocks: int = 10) -> list[float]:
    """Keyed over unkeyed CPU per command in `blocks` consecutive runs of rounds, sorted."""
    size = max(1, len(plain.rounds) // blocks)
    ratios = []
    for start in range(0, size * blocks, size):
        u, k = plain.rounds[start : start + size], keyed.rounds[start : start + size]
        if u and k:
            per_u = sum(c for _, c in u) / sum(n for n, _ in u)
            per_k = sum(c for _, c in k) / sum(n for n, _ in k)
            ratios.append(per_k / per_u)
    return sorted(ratios)


async def run(host: ResidentHost, issuer: Issuer, args: argparse.Namespace) -> None:
    ops = issuer.token("ops", "ops", ttl=7200)
    sets = {kind: [f"counter-{kind}-{n}" for n in range(args.objects)] for kind in ("k", "u")}
    jws = issuer.sign(COUNTER)
    for object_id in sets["k"] + sets["u"]:
        response = host.put_policy(object_id, jws, ops)
        if response.status_code != 201:
            raise RuntimeError(response.text)
    pids = {k: v for k, v in processes(host).items() if k != "observer"}
    async with aiohttp.ClientSession(headers=host.token_headers()) as session:
        caller = Caller(host, session, ops)
        await caller.round(round_keys(sets["k"], 260, keyed=True))  # tables at their bound
        await caller.round(round_keys(sets["u"], 260, keyed=False))  # lineage as long
        plain, keyed = Tally(), Tally()
        for n in range(args.rounds):  # pairs in alternating order, so a drift favours neither
            for is_keyed in (False, True) if n % 2 == 0 else (True, False):
                tally, ids = (keyed, sets["k"]) if is_keyed else (plain, sets["u"])
                await measure(caller, pids, ids, args.round, tally, keyed=is_keyed)
        retried = Tally()
        for _ in range(5):
            await measure(caller, pids, sets["k"][:1], args.round, retried, keyed=True, key="same")
    print(plain.summary("unkeyed"))
    print(keyed.summary("keyed"))
    print(retried.summary("replayed retry"))
    blocks, (low, high) = block_ratios(plain, keyed), interval(plain, keyed)
    print(
        f"keyed/unkeyed: CPU per command x{keyed.cpu_ms() / plain.cpu_ms():.3f} "
        f"(95% interval x{low:.3f} to x{high:.3f}; ten blocks of rounds: x{blocks[0]:.3f} to "
        f"x{blocks[-1]:.3f}, median x{statistics.median(blocks):.3f}); target <= 1.05; "
        f"{args.objects} objects, {args.rounds} rounds of {args.round} commands each way"
    )


async def turn_cost(objects: int, rounds: int, per_round: int = 200) -> None:
    """The object's own share, without HTTP or a sidecar process: `Command` turns of
    `ResidentObject` (state encoded as the app encodes it) over the in-memory sidecar of the
    actor tests, keyed and unkeyed rounds alternating on two sets of objects as above, CPU
    time of this process summed (gc frozen after set-up, as the app does)."""
    now = int(time.time())
    token = sign_token({"iss": ISSUER, "sub": "ops", "iat": now, "exp": now + 3600}, KEY)
    host = HostConfig(trust=TrustStore.from_jwks({"keys": [KEY.public_jwk]}))
    sidecar = InMemorySidecar()
    sets = {
        keyed: [
            object_on(sidecar, host, f"counter-{keyed}-{n}", state_serializer=StateJSONSerializer())
            for n in range(objects)
        ]
        for keyed in (False, True)
    }
    for actor in sets[False] + sets[True]:
        await actor.install_policy({"policy": sign_policy(COUNTER, KEY), "token": token})
        await actor._on_post_actor_method_internal(None)  # type: ignore[arg-type]

    async def turns(keys: list[str] | None, count: int) -> None:
        actors = sets[keys is not None]
        for n in range(count):
            actor = actors[n % objects]
            body = {"name": "add", "params": {"by": 1}, "token": token}
            if keys is not None:
                body["idempotency_key"] = keys[n]
            result = await actor.command(body)
            if "error" in result:
                raise RuntimeError(str(result))
            await actor._on_post_actor_method_internal(None)  # type: ignore[arg-type]

    async def timed_turns(keyed: bool, count: int) -> float:
        keys = [uuid.uuid4().hex for _ in range(count)] if keyed else None
        started = time.process_time()
        await turns(keys, count)
        return time.process_time() - started

    await turns([uuid.uuid4().hex for _ in range(260 * objects)], 260 * objects)  # tables full
    await turns(None, 260 * objects)  # lineage as long
    gc.freeze()
    spent = {False: 0.0, True: 0.0}
    for n in range(rounds):
        for keyed in (False, True) if n % 2 == 0 else (True, False):
            spent[keyed] += await timed_turns(keyed, per_round)
    per = {k: v / (rounds * per_round) * 1e6 for k, v in spent.items()}
    print(
        f"the object's turn alone, in-process (not the target's measure): unkeyed "
        f"{per[False]:.0f} µs, keyed {per[True]:.0f} µs CPU, "
        f"x{per[True] / per[False]:.3f} (+{per[True] - per[False]:.0f} µs; {objects} objects "
        f"each way, {rounds} rounds of {per_round} each way; keys made ahead, untimed)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sidecar", choices=["localdapr", "daprd"], default="localdapr")
    parser.add_argument("--objects", type=int, default=8)
    parser.add_argument("--round", type=int, default=80)
    parser.add_argument("--rounds", type=int, default=480)
    args = parser.parse_args()
    asyncio.run(turn_cost(args.objects, rounds=40))
    issuer = Issuer("https://bench.example")
    with (
        tempfile.TemporaryDirectory() as tmp,
        ResidentHost(Path(tmp) / "host", trusted=[issuer], sidecar=args.sidecar) as host,
    ):
        asyncio.run(run(host, issuer, args))


if __name__ == "__main__":
    main()
