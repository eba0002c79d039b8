"""Benchmark localdapr with a real no-op Dapr actor app: invocations/s, latency, reminder fires/s.

    .venv/bin/python bench/bench_localdapr.py [--seconds 10] [--callers 50] [--reminders 1000]

Starts the app (uvicorn, Dapr SDK) and `python -m localdapr` as real processes on free
loopback ports, drives actor invocations with aiohttp from `--callers` concurrent callers (one
actor id each), then registers `--reminders` reminders on a 1 s period and counts how many
firings the app receives per second. Prints measured figures; asserts nothing.
Targets (issue 3): 1,500 invocations/s and p99 < 20 ms at 50 callers on 2 cores.
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

from tests.support import Proc, free_port, python_argv, wait_http  # noqa: E402

FIRES = {"count": 0}


def create_app() -> Any:
    """The no-op actor app (run by uvicorn in its own process with --factory)."""
    import contextlib
    from datetime import timedelta

    from dapr.actor import Actor, ActorInterface, Remindable, actormethod
    from dapr.ext.fastapi import DaprActor
    from fastapi import FastAPI

    class BenchInterface(ActorInterface):
        @actormethod(name="Noop")  # type: ignore[untyped-decorator]  # the SDK decorator is untyped
        async def noop(self) -> None: ...

    class Bench(Actor, BenchInterface, Remindable):
        async def noop(self) -> None:
            return None

        async def receive_reminder(
            self, name: str, state: bytes, due: timedelta, period: timedelta, ttl: Any = None
        ) -> None:
            FIRES["count"] += 1

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> Any:
        await actor.register_actor(Bench)
        yield

    app = FastAPI(lifespan=lifespan)
    actor = DaprActor(app)

    @app.get("/bench/fires")
    async def fires() -> dict[str, int]:
        return FIRES

    return app


async def invocations(base: str, *, callers: int, seconds: float) -> list[float]:
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    conn = aiohttp.TCPConnector(limit=callers)
    async with aiohttp.ClientSession(connector=conn) as session:

        async def caller(i: int) -> None:
            url = f"{base}/v1.0/actors/Bench/caller-{i}/method/Noop"
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                async with session.post(url, data=b"") as resp:
                    await resp.read()
                    if resp.status != 200:
                        raise RuntimeError(f"invocation answered {resp.status}")
                latencies.append(time.perf_counter() - t0)

        await asyncio.gather(*(caller(i) for i in range(callers)))
    return latencies


async def open_loop(base: str, *, rate: float, callers: int, seconds: float) -> list[float]:
    """Offer `rate` invocations/s whatever the answers, at most `callers` in flight.

    A closed loop of N callers can never show latency under N / throughput (Little's law), so
    this is how a latency target at a given rate is measured. Latency counts from each call's
    scheduled time, so time spent queued behind a slow answer is not hidden.
    """
    latencies: list[float] = []
    gate = asyncio.Semaphore(callers)
    conn = aiohttp.TCPConnector(limit=callers)
    async with aiohttp.ClientSession(connector=conn) as session:

        async def call(k: int, scheduled: float) -> None:
            url = f"{base}/v1.0/actors/Bench/caller-{k % callers}/method/Noop"
            async with gate, session.post(url, data=b"") as resp:
                await resp.read()
            latencies.append(time.perf_counter() - scheduled)

        # One producer starts each call at its time (creating them all up front would itself
        # make the first ones late); tasks are kept so none is collected mid-flight.
        tasks: set[asyncio.Task[None]] = set()
        start = time.perf_counter()
        for k in range(int(rate * seconds)):
            scheduled = start + k / rate
            await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
            task = asyncio.create_task(call(k, scheduled))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        while tasks:
            await asyncio.gather(*tasks)
    return latencies


async def reminder_rate(base: str, app: str, *, count: int, seconds: float) -> float:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=50)) as session:
        sem = asyncio.Semaphore(50)

        async def register(i: int) -> None:
            body = {"dueTime": f"{1000 + i * 1000 // count}ms", "period": "1s", "data": ""}
            async with sem, session.put(f"{base}/v1.0/actors/Bench/r{i}/reminders/tick", json=body):
                pass

        await asyncio.gather(*(register(i) for i in range(count)))
        await asyncio.sleep(2.5)  # let every reminder reach its steady period

        async def fired() -> int:
            async with session.get(f"{app}/bench/fires") as resp:
                return int((await resp.json())["count"])

        before, t0 = await fired(), time.perf_counter()
        await asyncio.sleep(seconds)
        after, t1 = await fired(), time.perf_counter()

        async def unregister(i: int) -> None:
            async with sem, session.delete(f"{base}/v1.0/actors/Bench/r{i}/reminders/tick"):
                pass

        await asyncio.gather(*(unregister(i) for i in range(count)))
    return (after - before) / (t1 - t0)


def report(latencies: list[float], seconds: float, callers: int) -> None:
    qs = statistics.quantiles(latencies, n=100)
    print(
        f"actor invocations: {len(latencies) / seconds:,.0f}/s at {callers} callers; "
        f"p50 {qs[49] * 1000:.1f} ms, p99 {qs[98] * 1000:.1f} ms ({len(latencies):,} calls)"
    )


async def run(args: argparse.Namespace, dapr: str, app: str) -> None:
    await invocations(dapr, callers=args.callers, seconds=1.0)  # warm up: activations, pools
    latencies = await invocations(dapr, callers=args.callers, seconds=args.seconds)
    report(latencies, args.seconds, args.callers)
    offered = await open_loop(dapr, rate=args.rate, callers=args.callers, seconds=args.seconds)
    qs = statistics.quantiles(offered, n=100)
    print(
        f"open loop at {args.rate:,.0f}/s offered (<= {args.callers} in flight): "
        f"p50 {qs[49] * 1000:.1f} ms, p99 {qs[98] * 1000:.1f} ms from scheduled send"
    )
    rate = await reminder_rate(dapr, app, count=args.reminders, seconds=5.0)
    print(f"reminder fires: {rate:,.0f}/s with {args.reminders:,} actors on a 1 s period")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--callers", type=int, default=50)
    p.add_argument("--rate", type=float, default=1500.0, help="offered rate of the open loop")
    p.add_argument("--reminders", type=int, default=1000)
    args = p.parse_args()
    app_port, dapr_port = free_port(), free_port()
    with tempfile.TemporaryDirectory(prefix="bench-localdapr-") as tmp:
        work = Path(tmp)
        sidecar = Proc(
            python_argv(
                *("-m", "localdapr", "--app-id", "bench", "--app-port", str(app_port)),
                *("--dapr-http-port", str(dapr_port), "--db", str(work / "db.sqlite")),
                *("--log-level", "warning"),
            ),
            log=work / "localdapr.log",
        )
        app = Proc(
            python_argv(
                *("-m", "uvicorn", "--app-dir", str(ROOT / "bench"), "--factory"),
                *("bench_localdapr:create_app", "--port", str(app_port), "--no-access-log"),
                *("--log-level", "warning"),
            ),
            log=work / "app.log",
            env={"DAPR_HTTP_PORT": str(dapr_port)},
        )
        try:
            sidecar.start()
            app.start()
            wait_http(f"http://127.0.0.1:{dapr_port}/v1.0/healthz/outbound", proc=sidecar)
            wait_http(f"http://127.0.0.1:{dapr_port}/v1.0/healthz", proc=sidecar)
            dapr, app_url = f"http://127.0.0.1:{dapr_port}", f"http://127.0.0.1:{app_port}"
            asyncio.run(run(args, dapr, app_url))
        finally:
            app.stop()
            sidecar.stop()


if __name__ == "__main__":
    main()
