"""Scale-out on real Dapr: cycles/s with 1, 2 and 3 replicas, and fire lag through a rebalance.

Each run starts one control plane (Redis, placement, scheduler) and N replicas (Resident app +
its daprd, app id `resident`, one shared host key), installs the objects through every
replica's API, waits `--warmup` seconds, then counts cycles over `--window` seconds from every
replica's `resident_cycles_total`; p99 fire lag comes from their merged
`resident_reminder_lag_seconds` histograms. All of it on this one machine: replicas share its
cores, so the figure shows what placement adds or costs, not what more machines would give.

With `--rebalance`, the largest run then SIGKILLs the last replica's daprd (placement moves its
objects to the others) and measures p99 fire lag in three windows: before the kill, the window
right after it, and after the restarted daprd has rejoined.

    .venv/bin/python bench/bench_replicas.py [--replicas 1,2,3] [--objects 1000] [--period 1s]
        [--warmup 20] [--window 20] [--rebalance]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.soak import lag_buckets, metric_samples, p99_upper_bound  # noqa: E402
from tests.e2e.hosts import Issuer, ResidentHost, example, replica_set  # noqa: E402


async def install(replicas: list[ResidentHost], issuer: Issuer, count: int, period: str) -> None:
    """PUT the thermostat policy on `count` objects, spread over every replica's API."""
    ops = issuer.token("ops", "ops", "viewer", ttl=86400)
    jws = issuer.sign(example("thermostat", evaluation={"every": period, "on_change": False}))
    headers = {"authorization": f"Bearer {ops}", "content-type": "application/jose"}
    gate = asyncio.Semaphore(32)
    async with aiohttp.ClientSession() as session:

        async def put(n: int) -> None:
            url = f"{replicas[n % len(replicas)].app_url}/objects/thermostat-r{n}/policy"
            for attempt in range(5):  # a busy sidecar may time out; the PUT is idempotent
                async with gate, session.put(url, data=jws, headers=headers) as r:
                    if r.status == 201 or (attempt and r.status in (200, 409)):
                        return
                    if r.status != 503:
                        raise RuntimeError(f"install {n}: {r.status} {await r.text()}")
                await asyncio.sleep(1 + attempt)
            raise RuntimeError(f"install {n}: still unavailable after 5 attempts")

        await asyncio.gather(*(put(n) for n in range(count)))


def scrape(replicas: list[ResidentHost]) -> list[str]:
    return [httpx.get(f"{r.app_url}/metrics", timeout=30).text for r in replicas]


def cycles_run(texts: list[str]) -> float:
    return sum(metric_samples(t, "resident_cycles_total").get('{outcome="run"}', 0) for t in texts)


def merged_lag(texts: list[str]) -> dict[float, float]:
    merged: dict[float, float] = {}
    for text in texts:
        for bound, count in lag_buckets(text).items():
            merged[bound] = merged.get(bound, 0) + count
    return merged


def window(replicas: list[ResidentHost], seconds: float) -> tuple[float, float]:
    """(cycles/s, p99 fire lag upper bound) over the next `seconds`."""
    before, t0 = scrape(replicas), time.perf_counter()
    time.sleep(seconds)
    after, t1 = scrape(replicas), time.perf_counter()
    rate = (cycles_run(after) - cycles_run(before)) / (t1 - t0)
    return rate, p99_upper_bound(merged_lag(before), merged_lag(after))


def run(args: argparse.Namespace, count: int, workdir: Path, rebalance: bool) -> dict[str, object]:
    issuer = Issuer("https://bench.example")
    with replica_set(workdir, issuer, count) as (_control, replicas):
        started = time.perf_counter()
        asyncio.run(install(replicas, issuer, args.objects, args.period))
        installed = time.perf_counter() - started
        time.sleep(args.warmup)
        rate, lag = window(replicas, args.window)
        result: dict[str, object] = {
            "replicas": count,
            "objects": args.objects,
            "period": args.period,
            "installed_in_s": round(installed, 1),
            "cycles_per_s": round(rate, 1),
            "p99_fire_lag_s_at_most": lag,
        }
        if rebalance and count > 1:
            victim, others = replicas[-1], replicas[:-1]
            assert victim.sidecar_proc is not None
            victim.sidecar_proc.kill()
            during = window(others, args.window)
            victim.start_sidecar()
            victim.wait_ready()
            time.sleep(args.warmup)
            after = window(replicas, args.window)
            result["rebalance"] = {
                "killed": "last replica's daprd (SIGKILL), restarted after one window",
                "p99_fire_lag_s": {"before": lag, "during": during[1], "after": after[1]},
                "cycles_per_s": {"before": round(rate, 1), "during": round(during[0], 1)}
                | {"after": round(after[0], 1)},
            }
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--replicas", default="1,2,3")
    parser.add_argument("--objects", type=int, default=1000)
    parser.add_argument("--period", default="1s")
    parser.add_argument("--warmup", type=float, default=20)
    parser.add_argument("--window", type=float, default=20)
    parser.add_argument("--rebalance", action="store_true")
    args = parser.parse_args()
    counts = [int(n) for n in args.replicas.split(",")]
    for count in counts:
        with tempfile.TemporaryDirectory(prefix="bench-replicas-") as tmp:
            rebalance = args.rebalance and count == max(counts)
            print(json.dumps(run(args, count, Path(tmp), rebalance)), flush=True)


if __name__ == "__main__":
    main()
