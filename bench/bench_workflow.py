"""Workflow transitions per second with 1,000 concurrent workflow objects.

Real processes on loopback (uvicorn app + localdapr, as in the e2e tests). Installs N objects
whose policy is a three-state workflow (each install enters the initial state: one
transition), then drives every object through two events by command
(`POST /objects/{id}/commands/{event}`) at bounded concurrency, interleaved across objects.
Prints transitions/s and p50/p99 latency per event; each transition is one admitted
`on_enter`, one lineage entry and one state transaction.

    .venv/bin/python bench/bench_workflow.py [--objects 1000] [--concurrency 64]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.e2e.hosts import Issuer, ResidentHost  # noqa: E402

POLICY: dict[str, Any] = {
    "id": "bench-order",
    "version": 1,
    "objects": ["bench-*"],
    "data": {"payment_id": "", "tracking": ""},
    "evaluation": {"every": "1h"},
    "capabilities": {"write": ["payment_id", "tracking"], "publish": ["orders"]},
    "permissions": {"read": "true", "amend": "'ops' in caller.roles", "event": "true"},
    "workflow": {
        "initial": "awaiting_payment",
        "states": {
            "awaiting_payment": {
                "transitions": [{"to": "paid", "on": "pay"}, {"to": "cancelled", "after": "1h"}]
            },
            "paid": {
                "on_enter": [{"set": {"payment_id": "params.payment_id"}}],
                "transitions": [{"to": "shipped", "on": "ship"}],
            },
            "shipped": {
                "on_enter": [
                    {"set": {"tracking": "params.tracking"}},
                    {"publish": {"topic": "orders", "data": "{'id': object.id}"}},
                ],
                "terminal": True,
            },
            "cancelled": {"terminal": True},
        },
    },
}


async def _bounded(jobs: list[Any], concurrency: int) -> list[Any]:
    gate = asyncio.Semaphore(concurrency)

    async def run(job: Any) -> Any:
        async with gate:
            return await job

    return await asyncio.gather(*(run(j) for j in jobs))


async def install(host: ResidentHost, issuer: Issuer, ids: list[str], concurrency: int) -> float:
    jws = issuer.sign(POLICY)
    headers = {"authorization": f"Bearer {issuer.token('ops', 'ops')}"}
    headers["content-type"] = "application/jose"
    async with aiohttp.ClientSession(base_url=host.app_url) as session:

        async def put(object_id: str) -> int:
            async with session.put(f"/objects/{object_id}/policy", data=jws, headers=headers) as r:
                return r.status

        started = time.perf_counter()
        statuses = await _bounded([put(i) for i in ids], concurrency)
        elapsed = time.perf_counter() - started
    if any(s != 201 for s in statuses):
        raise SystemExit(f"install failed: {sorted(set(statuses))}")
    return elapsed


async def drive(
    host: ResidentHost, issuer: Issuer, ids: list[str], concurrency: int
) -> tuple[float, list[float]]:
    """Every object: pay, then ship. One caller per object keeps clear of per-caller rate
    limits, as many payment and shipping callers would in production."""
    tokens = {i: issuer.token(f"psp-{i}", "payments", ttl=7200) for i in ids}
    latencies: list[float] = []
    async with aiohttp.ClientSession(base_url=host.app_url) as session:

        async def event(object_id: str, name: str, params: dict[str, str]) -> None:
            headers = {"authorization": f"Bearer {tokens[object_id]}"}
            began = time.perf_counter()
            async with session.post(
                f"/objects/{object_id}/commands/{name}", json=params, headers=headers
            ) as r:
                body = await r.text()
                if r.status != 200:
                    raise SystemExit(f"{object_id} {name}: {r.status} {body}")
            latencies.append(time.perf_counter() - began)

        started = time.perf_counter()
        await _bounded([event(i, "pay", {"payment_id": f"p-{i}"}) for i in ids], concurrency)
        await _bounded([event(i, "ship", {"tracking": f"t-{i}"}) for i in ids], concurrency)
        elapsed = time.perf_counter() - started
    return elapsed, latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    issuer = Issuer("https://bench.example")
    ids = [f"bench-{n:05d}" for n in range(args.objects)]
    with tempfile.TemporaryDirectory() as tmp:
        host = ResidentHost(Path(tmp) / "host", trusted=[issuer], limits={})
        with host:
            installed = asyncio.run(install(host, issuer, ids, args.concurrency))
            elapsed, latencies = asyncio.run(drive(host, issuer, ids, args.concurrency))
    moved = 2 * len(ids)
    cuts = statistics.quantiles(latencies, n=100)
    print(f"objects: {len(ids)} workflow objects, concurrency {args.concurrency}")
    print(f"install + start (1 transition each): {len(ids) / installed:,.0f} objects/s")
    print(
        f"transitions by command: {moved / elapsed:,.0f} transitions/s "
        f"({moved} in {elapsed:.1f} s; p50 {cuts[49] * 1000:.1f} ms, p99 {cuts[98] * 1000:.1f} ms)"
    )


if __name__ == "__main__":
    main()
