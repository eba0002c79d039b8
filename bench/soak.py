"""Soak: many objects on a reminder period for a bounded time, on one host (app + sidecar).

Prints achieved cycles/s against the offered rate (objects / period), p99 fire lag (cycle start
minus its due time, from the app's `resident_reminder_lag_seconds` histogram), app and sidecar
RSS after warm-up and at the end, and errors (failed cycles, 5xx, error log lines).

The sidecar is localdapr (default) or the real daprd with its own Redis, placement and
scheduler (`--sidecar daprd`, built by `make dapr`).

    .venv/bin/python bench/soak.py [--sidecar localdapr|daprd] [--objects 10000] [--period 10s]
        [--warmup 60] [--duration 300]

Exit status 1 when any error was counted, so a bounded run can gate a test.
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.e2e.hosts import Issuer, ResidentHost, example  # noqa: E402

LAG = "resident_reminder_lag_seconds_bucket"


def metric_samples(text: str, name: str) -> dict[str, float]:
    """`{labels: value}` for one metric family in Prometheus text exposition."""
    found: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith(name):
            key, value = line.rsplit(" ", 1)
            found[key[len(name) :]] = float(value)
    return found


def lag_buckets(text: str) -> dict[float, float]:
    buckets = {}
    for labels, count in metric_samples(text, LAG).items():
        bound = labels.split('le="', 1)[1].split('"', 1)[0]
        buckets[float("inf") if bound == "+Inf" else float(bound)] = count
    return buckets


def p99_upper_bound(start: dict[float, float], end: dict[float, float]) -> float:
    """The smallest bucket bound holding 99% of the lag samples taken during the window."""
    window = {b: end.get(b, 0) - start.get(b, 0) for b in end}
    total = window.get(float("inf"), 0)
    for bound in sorted(window):
        if total and window[bound] >= 0.99 * total:
            return bound
    return float("nan")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def install(host: ResidentHost, issuer: Issuer, count: int, period: str) -> None:
    ops = issuer.token("ops", "ops", "viewer", ttl=86400)
    jws = issuer.sign(example("thermostat", evaluation={"every": period, "on_change": False}))
    headers = {"authorization": f"Bearer {ops}", "content-type": "application/jose"}
    gate = asyncio.Semaphore(32)
    async with aiohttp.ClientSession(base_url=host.app_url) as session:

        async def put(n: int) -> None:
            async with (
                gate,
                session.put(f"/objects/thermostat-s{n}/policy", data=jws, headers=headers) as r,
            ):
                if r.status != 201:
                    raise RuntimeError(f"install {n}: {r.status} {await r.text()}")

        await asyncio.gather(*(put(n) for n in range(count)))


def scrape(host: ResidentHost) -> str:
    import httpx

    return httpx.get(f"{host.app_url}/metrics", timeout=30).text


def cycles(text: str) -> dict[str, float]:
    return dict(metric_samples(text, "resident_cycles_total"))


def error_lines(host: ResidentHost) -> int:
    lines = host.logs().splitlines()
    return sum(
        1
        for line in lines
        if '"level": "error"' in line or " ERROR " in line or "Traceback" in line
    )


def run(args: argparse.Namespace, workdir: Path) -> int:
    issuer = Issuer("https://soak.example")
    with ResidentHost(workdir, trusted=[issuer], sidecar=args.sidecar) as host:
        app, sidecar = host.app_proc, host.sidecar_proc
        if app is None or app.popen is None or sidecar is None or sidecar.popen is None:
            raise RuntimeError("host processes did not start")
        pids = {"app": app.popen.pid, "sidecar": sidecar.popen.pid}
        started = time.perf_counter()
        asyncio.run(install(host, issuer, args.objects, args.period))
        print(
            f"installed {args.objects} objects in {time.perf_counter() - started:.0f} s", flush=True
        )
        time.sleep(args.warmup)
        rss_warm = {name: rss_mib(pid) for name, pid in pids.items()}
        before, t0 = scrape(host), time.perf_counter()
        time.sleep(args.duration)
        after, t1 = scrape(host), time.perf_counter()
        rss_end = {name: rss_mib(pid) for name, pid in pids.items()}
        errors = int(error_lines(host))
    runs = cycles(after).get('{outcome="run"}', 0) - cycles(before).get('{outcome="run"}', 0)
    failed = cycles(after).get('{outcome="failed"}', 0) - cycles(before).get(
        '{outcome="failed"}', 0
    )
    offered = args.objects / args.period_s
    report = {
        "sidecar": args.sidecar,
        "objects": args.objects,
        "period_s": args.period_s,
        "offered_cycles_per_s": round(offered, 1),
        "achieved_cycles_per_s": round(runs / (t1 - t0), 1),
        "p99_fire_lag_s_at_most": p99_upper_bound(lag_buckets(before), lag_buckets(after)),
        "rss_mib_after_warmup": {k: round(v, 1) for k, v in rss_warm.items()},
        "rss_mib_at_end": {k: round(v, 1) for k, v in rss_end.items()},
        "failed_cycles": int(failed),
        "error_log_lines": errors,
    }
    print(json.dumps(report, indent=2))
    return 1 if failed or errors else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sidecar", choices=["localdapr", "daprd"], default="localdapr")
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--period", default="10s")
    parser.add_argument("--warmup", type=float, default=60)
    parser.add_argument("--duration", type=float, default=300)
    args = parser.parse_args()
    args.period_s = float(args.period.rstrip("s"))
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        sys.exit(run(args, Path(tmp)))


if __name__ == "__main__":
    main()
