"""Resident through its HTTP API and by reminder, against a plain Dapr actor baseline.

Prints: commands/s and p50/p99 latency through `POST /objects/{id}/commands/report` at 50
concurrent callers; cycles/s with N objects on a 1 s reminder period, for ResidentObject and
for a hand-written thermostat actor (bench/plainactor.py, on the same app fast path and state
serializer); their ratio (the cost of carrying policy); and the CPU seconds each process
(app, sidecar, and on daprd Redis, scheduler, placement) spent in each phase. Real processes
on loopback, as in the e2e tests: uvicorn app + localdapr (default), or + the real daprd with
its own Redis, placement and scheduler (`--sidecar daprd`, built by `make dapr`).

The offered rate is objects / 1 s; when an actor type keeps up, its cycles/s is the offered
rate, not its capacity, so offer more objects than either can run to compare capacities.

    .venv/bin/python bench/bench_service.py [--sidecar localdapr|daprd] [--objects 1000]
        [--window 10] [--commands 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.contract.pair import SidecarPair  # noqa: E402
from tests.e2e.hosts import Issuer, ResidentHost, example  # noqa: E402

TICK = 100  # clock ticks per second in /proc/<pid>/stat (USER_HZ on Linux)


def processes(pair: SidecarPair) -> dict[str, int]:
    """{name: pid} of every process behind `pair`: app, sidecar and any control plane."""
    procs = {"app": pair.app_proc, pair.sidecar.name: pair.sidecar_proc}
    if pair.control is not None:
        control = pair.control
        procs |= {"redis": control.redis, "scheduler": control.scheduler}
        procs["placement"] = control.placement
    return {n: p.popen.pid for n, p in procs.items() if p is not None and p.popen is not None}


def cpu_seconds(pids: dict[str, int]) -> dict[str, float]:
    """User + system CPU seconds each process has used so far (its threads included)."""
    used = {}
    for name, pid in pids.items():
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        used[name] = (int(fields[11]) + int(fields[12])) / TICK  # utime, stime
    return used


def cpu_report(before: dict[str, float], after: dict[str, float], wall: float) -> str:
    parts = [
        f"{n} {after[n] - before[n]:.1f} s ({(after[n] - before[n]) / wall:.0%})" for n in after
    ]
    return f"CPU over {wall:.1f} s: " + ", ".join(parts)


async def _bounded(jobs: list, concurrency: int) -> list:  # type: ignore[type-arg]
    gate = asyncio.Semaphore(concurrency)

    async def run(job):  # type: ignore[no-untyped-def]
        async with gate:
            return await job

    return await asyncio.gather(*(run(j) for j in jobs))


async def install(host: ResidentHost, issuer: Issuer, ids: list[str], every: str) -> None:
    ops = issuer.token("ops", "ops", "viewer")
    jws = issuer.sign(example("thermostat", evaluation={"every": every, "on_change": False}))
    headers = {"authorization": f"Bearer {ops}", "content-type": "application/jose"}
    async with aiohttp.ClientSession(base_url=host.app_url) as session:

        async def put(object_id: str) -> int:
            async with session.put(f"/objects/{object_id}/policy", data=jws, headers=headers) as r:
                return r.status

        statuses = await _bounded([put(i) for i in ids], 32)
    assert all(s == 201 for s in statuses), set(statuses)


async def commands(
    host: ResidentHost, issuer: Issuer, ids: list[str], n: int
) -> tuple[list[float], float]:
    headers = {"authorization": f"Bearer {issuer.token('s', 'sensor', ttl=7200)}"}
    latencies: list[float] = []
    async with aiohttp.ClientSession(base_url=host.app_url) as session:

        async def one(k: int) -> None:
            start = time.perf_counter()
            body = {"temperature": 20 + k % 5}
            path = f"/objects/{ids[k % len(ids)]}/commands/report"
            async with session.post(path, json=body, headers=headers) as r:
                await r.read()
                if r.status != 200:
                    raise RuntimeError(f"{r.status}")
            latencies.append(time.perf_counter() - start)

        started = time.perf_counter()
        await _bounded([one(k) for k in range(n)], 50)
    return latencies, time.perf_counter() - started


async def total_cycles(pair: SidecarPair, actor_type: str, ids: list[str]) -> int:
    """Sum of `meta.cycles`, read from actor state through the sidecar (no actor turn)."""
    async with aiohttp.ClientSession(base_url=pair.dapr_url, headers=pair.token_headers()) as s:

        async def read(object_id: str) -> int:
            async with s.get(f"/v1.0/actors/{actor_type}/{object_id}/state/meta") as r:
                body = await r.read()
                if not body:
                    return 0
                meta = json.loads(body)  # StateJSONSerializer: a JSON string of the JSON
                return int((json.loads(meta) if isinstance(meta, str) else meta)["cycles"])

        return sum(await _bounded([read(i) for i in ids], 64))


async def cycles_per_second(
    pair: SidecarPair, actor_type: str, ids: list[str], window: float
) -> tuple[float, str]:
    """Cycles/s over `window`, and the CPU each process used meanwhile."""
    await asyncio.sleep(3)  # let first fires settle
    pids = processes(pair)
    before, start = await total_cycles(pair, actor_type, ids), time.perf_counter()
    cpu_before = cpu_seconds(pids)
    await asyncio.sleep(window)
    cpu_after, end = cpu_seconds(pids), time.perf_counter()
    after = await total_cycles(pair, actor_type, ids)
    return (after - before) / (end - start), cpu_report(cpu_before, cpu_after, end - start)


async def resident(args: argparse.Namespace, workdir: Path) -> tuple[list[float], float, float]:
    issuer = Issuer("https://bench.example")
    with ResidentHost(workdir / "resident", trusted=[issuer], sidecar=args.sidecar) as host:
        few = [f"thermostat-c{n}" for n in range(100)]
        await install(host, issuer, few, "1h")
        await commands(host, issuer, few, 300)  # warm-up
        pids = processes(host)
        cpu_before = cpu_seconds(pids)
        latencies, wall = await commands(host, issuer, few, args.commands)
        print("commands:", cpu_report(cpu_before, cpu_seconds(pids), wall), flush=True)
        many = [f"thermostat-r{n}" for n in range(args.objects)]
        started = time.perf_counter()
        await install(host, issuer, many, "1s")
        print(f"installed {len(many)} objects in {time.perf_counter() - started:.0f} s", flush=True)
        rate, cpu = await cycles_per_second(host, "ResidentObject", many, args.window)
        print("Resident cycles:", cpu, flush=True)
    return latencies, wall, rate


async def plain(args: argparse.Namespace, workdir: Path) -> float:
    with SidecarPair(
        "bench.plainactor:app",
        workdir / "plain",
        app_id="plain",
        resources_path=ROOT / "components",
        sidecar=args.sidecar,
    ) as pair:
        ids = [f"plain-{n}" for n in range(args.objects)]
        async with aiohttp.ClientSession(base_url=pair.dapr_url) as s:

            async def start(object_id: str) -> None:
                path = f"/v1.0/actors/PlainThermostat/{object_id}/method/Start"
                async with s.post(path, json={"every": 1}) as r:
                    assert r.status == 200, await r.text()

            started = time.perf_counter()
            await _bounded([start(i) for i in ids], 32)
            print(f"started {len(ids)} actors in {time.perf_counter() - started:.0f} s", flush=True)
        rate, cpu = await cycles_per_second(pair, "PlainThermostat", ids, args.window)
        print("plain cycles:", cpu, flush=True)
        return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sidecar", choices=["localdapr", "daprd"], default="localdapr")
    parser.add_argument("--objects", type=int, default=1000)
    parser.add_argument("--window", type=float, default=10.0)
    parser.add_argument("--commands", type=int, default=3000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-service-") as tmp:
        latencies, wall, resident_rate = asyncio.run(resident(args, Path(tmp)))
        plain_rate = asyncio.run(plain(args, Path(tmp)))
    quantiles = statistics.quantiles(latencies, n=100)
    print(
        f"commands via HTTP API: {len(latencies) / wall:8.0f} /s at 50 callers "
        f"(p50 {quantiles[49] * 1000:.1f} ms, p99 {quantiles[98] * 1000:.1f} ms)"
    )
    print(
        f"sidecar: {args.sidecar}; cycles offered: {args.objects} /s ({args.objects} objects @1s)"
    )
    print(f"cycles, {args.objects} ResidentObjects @1s : {resident_rate:8.0f} /s")
    print(f"cycles, {args.objects} plain actors    @1s : {plain_rate:8.0f} /s")
    print(f"cost of carrying policy (plain/resident cycles/s): {plain_rate / resident_rate:.2f}")


if __name__ == "__main__":
    main()
