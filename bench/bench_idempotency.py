"""The cost of an idempotency key: keyed commands against unkeyed ones, and a replayed retry.

Calls go straight to the sidecar's actor API (`Command`), as any Dapr app's would: through the
HTTP API every command is keyed (the caller's `Idempotency-Key`, else a fresh one), so only
there can the two be told apart. Each object's record table is first filled to its bound
(256 keys), the steady state of an object that takes keyed commands. Then unkeyed and keyed
rounds alternate (one caller per object, so no caller waits on another's turn) and the
median of each is printed: commands/s, p50 latency, and app + sidecar CPU per command
(from /proc, steadier than wall time on a shared machine). Target: keyed <= 1.05 x unkeyed.

    .venv/bin/python bench/bench_idempotency.py [--sidecar localdapr|daprd] [--objects 8]
        [--round 400] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_service import cpu_seconds, processes  # noqa: E402
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

    async def round(
        self, ids: list[str], per_object: int, *, keyed: bool, key: str = ""
    ) -> list[float]:
        async def worker(object_id: str) -> list[float]:
            return [
                await self.command(object_id, key or (uuid.uuid4().hex if keyed else None))
                for _ in range(per_object)
            ]

        return [t for ts in await asyncio.gather(*(worker(i) for i in ids)) for t in ts]


async def measure(
    caller: Caller, pids: dict[str, int], ids: list[str], n: int, **how: Any
) -> dict[str, float]:
    cpu_before, started = cpu_seconds(pids), time.perf_counter()
    latencies = await caller.round(ids, max(1, n // len(ids)), **how)
    wall = time.perf_counter() - started
    cpu_after = cpu_seconds(pids)
    per = {name: (cpu_after[name] - cpu_before[name]) / len(latencies) * 1000 for name in pids}
    return {
        "rate": len(latencies) / wall,
        "p50_ms": statistics.median(latencies) * 1000,
        "cpu_ms": sum(per.values()),
        **{f"{name}_ms": ms for name, ms in per.items()},
    }


def median_of(runs: list[dict[str, float]]) -> dict[str, float]:
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


async def run(host: ResidentHost, issuer: Issuer, args: argparse.Namespace) -> None:
    ops = issuer.token("ops", "ops", ttl=7200)
    ids = [f"counter-{n}" for n in range(args.objects)]
    jws = issuer.sign(COUNTER)
    for object_id in ids:
        response = host.put_policy(object_id, jws, ops)
        if response.status_code != 201:
            raise RuntimeError(response.text)
    pids = {k: v for k, v in processes(host).items() if k != "observer"}
    async with aiohttp.ClientSession(headers=host.token_headers()) as session:
        caller = Caller(host, session, ops)
        await caller.round(ids, 260, keyed=True)  # every table at its 256-key bound
        unkeyed, keyed = [], []
        for n in range(args.rounds):  # pairs in alternating order, so a drift favours neither
            for is_keyed in (False, True) if n % 2 == 0 else (True, False):
                figures = await measure(caller, pids, ids, args.round, keyed=is_keyed)
                (keyed if is_keyed else unkeyed).append(figures)
        retried = await measure(caller, pids, ids[:1], args.round // 4, keyed=True, key="same")
    plain, with_key = median_of(unkeyed), median_of(keyed)
    for name, figures in (("unkeyed", plain), ("keyed", with_key), ("replayed retry", retried)):
        print(
            f"{name:>15}: {figures['rate']:7.0f} commands/s, p50 {figures['p50_ms']:.2f} ms, "
            f"{figures['cpu_ms']:.2f} ms CPU per command ("
            + ", ".join(
                f"{k[:-3]} {v:.2f}"
                for k, v in figures.items()
                if k.endswith("_ms") and k not in {"p50_ms", "cpu_ms"}
            )
            + ")"
        )
    ratios = sorted(k["cpu_ms"] / u["cpu_ms"] for u, k in zip(unkeyed, keyed, strict=True))
    quartile = len(ratios) // 4
    print(
        f"keyed/unkeyed: CPU per command x{statistics.median(ratios):.3f} (median of "
        f"{len(ratios)} pairs, middle half x{ratios[quartile]:.3f}..x{ratios[-1 - quartile]:.3f}), "
        f"p50 x{with_key['p50_ms'] / plain['p50_ms']:.3f}, "
        f"rate x{plain['rate'] / with_key['rate']:.3f} (target <= 1.05; "
        f"{args.objects} objects, {args.rounds} rounds of {args.round}, median)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sidecar", choices=["localdapr", "daprd"], default="localdapr")
    parser.add_argument("--objects", type=int, default=8)
    parser.add_argument("--round", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    issuer = Issuer("https://bench.example")
    with (
        tempfile.TemporaryDirectory() as tmp,
        ResidentHost(Path(tmp) / "host", trusted=[issuer], sidecar=args.sidecar) as host,
    ):
        asyncio.run(run(host, issuer, args))


if __name__ == "__main__":
    main()
