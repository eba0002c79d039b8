"""The app's actor configuration from `GET /dapr/config`, per actor type.

The SDK sends durations in Go syntax (`0h1m0s0ms0μs`) and may override the global settings
per type in `entitiesConfig`. Unreadable values fall back to daprd's defaults with a warning:
a typo in the app's config must not take the sidecar down.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any

from ._durations import DurationError, parse_duration

log = logging.getLogger("localdapr.actors")

DEFAULT_IDLE_TIMEOUT = 3600.0
DEFAULT_SCAN_INTERVAL = 30.0
DEFAULT_MAX_STACK_DEPTH = 32


@dataclass(frozen=True, slots=True)
class TypeConfig:
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT
    reentrant: bool = False
    max_depth: int = DEFAULT_MAX_STACK_DEPTH


@dataclass(frozen=True, slots=True)
class ActorsConfig:
    types: dict[str, TypeConfig]
    scan_interval: float = DEFAULT_SCAN_INTERVAL


def _seconds(raw: Any, field: str, default: float) -> float:
    if raw in (None, ""):
        return default
    try:
        value = parse_duration(str(raw))
    except DurationError as exc:
        log.warning("app config %s=%r unreadable (%s); using %ss", field, raw, exc, default)
        return default
    return value if value > 0 else default


def _apply(base: TypeConfig, raw: dict[str, Any]) -> TypeConfig:
    cfg = replace(
        base,
        idle_timeout=_seconds(raw.get("actorIdleTimeout"), "actorIdleTimeout", base.idle_timeout),
    )
    reentrancy = raw.get("reentrancy")
    if isinstance(reentrancy, dict):
        depth = reentrancy.get("maxStackDepth")
        cfg = replace(
            cfg,
            reentrant=bool(reentrancy.get("enabled", False)),
            max_depth=depth if isinstance(depth, int) and depth > 0 else cfg.max_depth,
        )
    return cfg


def parse_actors_config(raw: dict[str, Any]) -> ActorsConfig:
    """Per-type settings: global values, overridden by each `entitiesConfig` entry."""
    base = _apply(TypeConfig(), raw)
    entities = raw.get("entities") or []
    types = {str(t): base for t in entities if isinstance(t, str)}
    for entry in raw.get("entitiesConfig") or []:
        if not isinstance(entry, dict):
            continue
        for name in entry.get("entities") or []:
            if isinstance(name, str):
                types[name] = _apply(types.get(name, base), entry)
    scan = _seconds(raw.get("actorScanInterval"), "actorScanInterval", DEFAULT_SCAN_INTERVAL)
    return ActorsConfig(types, scan)
