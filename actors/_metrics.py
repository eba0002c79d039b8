"""Prometheus metrics of the objects this process hosts (prometheus-client).

Recorded at the actor's method boundary from each turn's result, so the turn logic stays free
of instrumentation. Served by the app at /metrics.
"""

from __future__ import annotations

import os
import socket
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
OUTBOX = Gauge(
    "resident_outbox_depth",
    "Effects awaiting delivery, summed over the objects this replica hosts right now",
)
HOSTED = Gauge("resident_hosted_objects", "Objects active on this replica right now")
REPLICA = Gauge("resident_replica_info", "This replica of a host (value 1)", ["host_id", "replica"])
REMINDER_LAG = Histogram(
    "resident_reminder_lag_seconds",
    "Cycle start minus the time it was due (last cycle + period)",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0),
)

_outbox_by_object: dict[str, int] = {}
_hosted: set[str] = set()


def label_replica(host_id: str) -> None:
    """Which host and which replica these figures are from: `RESIDENT_REPLICA`, else the pod
    name on Kubernetes (HOSTNAME), else this machine and process (several replicas may share
    a machine, as with `make run-dapr REPLICAS=3`)."""
    replica = (
        os.environ.get("RESIDENT_REPLICA")
        or os.environ.get("HOSTNAME")
        or f"{socket.gethostname()}-{os.getpid()}"
    )
    REPLICA.labels(host_id=host_id, replica=replica).set(1)


def record_activation(object_id: str, *, active: bool) -> None:
    """An object arrived on or left this replica (placement moved it, or it went idle): what
    it had pending is no longer counted here, so gauges never show objects that moved away."""
    if active:
        _hosted.add(object_id)
    else:
        _hosted.discard(object_id)
        record_outbox(object_id, 0)
    HOSTED.set(len(_hosted))


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
    before = _outbox_by_object.pop(object_id, 0)
    if depth:
        _outbox_by_object[object_id] = depth
    OUTBOX.inc(depth - before)
