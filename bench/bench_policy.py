"""Policy engine figures: µs per rule, decisions/s, and load_policy cold vs cached.

Prints numbers only; targets (issue 2): under 50 µs per rule, under 1 ms per 50-rule cycle.
Run with `make bench` (or `.venv/bin/python bench/bench_policy.py`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from policies import (
    TrustStore,
    clear_policy_cache,
    example_document,
    generate_key,
    load_policy,
    sign_policy,
)

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def per_call(fn: Callable[[], object], *, seconds: float = 1.0) -> float:
    """Mean seconds per call, after a warm-up, over roughly `seconds` of wall time."""
    for _ in range(20):
        fn()
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(50):
            fn()
        calls += 50
    return (time.perf_counter() - start) / calls


def fifty_rule_document() -> tuple[dict[str, Any], dict[str, Any]]:
    """50 rules over ~4 KiB of data: mostly quiet guards, a few that fire each cycle."""
    data: dict[str, Any] = {
        f"sensor{i}": {"value": i, "limit": 40, "label": f"sensor number {i:02d}", "ok": True}
        for i in range(50)
    }
    data["counter"] = 0
    rules = [
        {
            "name": f"r{i}",
            "when": f"data.sensor{i}.value > data.sensor{i}.limit && data.sensor{i}.ok",
            "do": [{"set": {f"sensor{i}.ok": "false"}}],
        }
        for i in range(49)
    ]
    rules.append({"name": "tick", "when": "true", "do": [{"set": {"counter": "data.counter + 1"}}]})
    doc = {
        "id": "fifty",
        "version": 1,
        "objects": ["bench-*"],
        "data": data,
        "evaluation": {"every": "10s", "max_actions": 100},
        "capabilities": {"write": ["*"]},
        "rules": rules,
    }
    return doc, data


def report(label: str, seconds: float, rules: int, note: str) -> None:
    print(
        f"{label:<22} {seconds * 1e6:8.1f} µs/cycle  {seconds * 1e6 / rules:6.1f} µs/rule  "
        f"{1 / seconds:9.0f} decisions/s  ({note})"
    )


def varying(fn: Callable[[int], object]) -> Callable[[], object]:
    """A call whose input differs each time, defeating the per-expression context cache."""
    counter = iter(range(10**9))
    return lambda: fn(next(counter))


def main() -> None:
    key = generate_key(issuer="https://bench.example")
    trust = TrustStore.from_jwks({"keys": [key.public_jwk]})

    thermo_jws = sign_policy(example_document("thermostat"), key, now=NOW)
    thermo = load_policy(thermo_jws, trust, object_id="thermostat-1", now=NOW)
    hot = {"temperature": 35, "threshold": 30, "status": "ok"}
    t = per_call(lambda: thermo.evaluate(hot, object_id="thermostat-1", cycle=1, now=NOW))
    report("thermostat steady", t, 2, "same data each cycle; overheat fires")
    t = per_call(
        varying(
            lambda i: thermo.evaluate(
                {**hot, "temperature": 31 + i % 1000}, object_id="thermostat-1", now=NOW
            )
        )
    )
    report("thermostat varying", t, 2, "new temperature each cycle; overheat fires")

    doc, data = fifty_rule_document()
    size = len(json.dumps(data))
    fifty = load_policy(sign_policy(doc, key, now=NOW), trust, object_id="bench-1", now=NOW)
    t = per_call(lambda: fifty.evaluate(data, object_id="bench-1", cycle=1, now=NOW))
    report("50 rules steady", t, 50, f"data {size} B; 9 rules fire")
    t = per_call(
        varying(
            lambda i: fifty.evaluate(
                {
                    **data,
                    "counter": i,
                    **{f"sensor{j}": {**data[f"sensor{j}"], "value": i % 97} for j in range(50)},
                },
                object_id="bench-1",
                now=NOW,
            )
        )
    )
    report("50 rules varying", t, 50, f"data {size} B; every sensor value new each cycle")

    def cold() -> None:
        clear_policy_cache()
        load_policy(thermo_jws, trust, object_id="thermostat-1", now=NOW)

    t_cold = per_call(cold, seconds=0.5)
    t_warm = per_call(lambda: load_policy(thermo_jws, trust, object_id="thermostat-1", now=NOW))
    print(f"load_policy thermostat: cold {t_cold * 1e6:8.1f} µs   cached {t_warm * 1e6:6.1f} µs")


if __name__ == "__main__":
    main()
