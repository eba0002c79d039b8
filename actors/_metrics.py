"""Prometheus metrics of the objects this process hosts (prometheus-client).

Recorded at the actor's method boundary from each turn's result, so the turn logic stays free
of instrumentation. Served by the app at /metrics.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

CYCLES = Counter(
    "resident_cycles_total", "Reminder fires by outcome (run, duplicate, skipped)", ["outcome"]
)
ACTIONS = Counter(
    "resident_actions_total",
    "Actions proposed by rules and commands, by kind and admission",
    ["kind", "decision"],
)
COMMANDS = Histogram(
    "resident_command_seconds",
    "Time of a Command turn inside the object, by outcome",
    ["outcome"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
REFUSALS = Counter(
    "resident_refusals_total", "Refused calls by method and code", ["method", "code"]
)
OUTBOX = Gauge("resident_outbox_depth", "Effects awaiting delivery, summed over hosted objects")
REMINDER_LAG = Histogram(
    "resident_reminder_lag_seconds",
    "Cycle start minus the time it was due (last cycle + period)",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0),
)

_outbox_by_object: dict[str, int] = {}


def record_actions(result: Mapping[str, Any]) -> None:
    """Count what a command or cycle changed, emitted and was denied."""
    for change in result.get("changes") or ():
        ACTIONS.labels(kind=str(change.get("op", "set")), decision="admitted").inc()
    for effect in result.get("effects") or ():
        ACTIONS.labels(kind=str(effect.get("kind", "effect")), decision="admitted").inc()
    for denial in result.get("denied") or ():
        ACTIONS.labels(kind=str(denial.get("action") or "rule"), decision="denied").inc()


def record_outbox(object_id: str, depth: int) -> None:
    """Track one object's pending effects; the gauge is their sum (bounded by hosted objects)."""
    if depth:
        _outbox_by_object[object_id] = depth
    else:
        _outbox_by_object.pop(object_id, None)
    OUTBOX.set(sum(_outbox_by_object.values()))
