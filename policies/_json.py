"""Turning CEL results into plain JSON values, and JSON-safe strict equality.

A Decision is persisted and hashed (RFC 8785), so everything in it must be a JSON value that
canonicalizes: str-keyed objects, finite floats, integers inside ±2^53. CEL can produce
timestamps, durations, bytes, int-keyed maps and int64 values outside that range; we convert
what has a standard JSON form (the protobuf JSON mapping) and refuse the rest.
"""

from __future__ import annotations

import base64
import math
from datetime import UTC, datetime, timedelta
from typing import Any

SAFE_INT = 2**53 - 1


class NotJson(ValueError):
    """A CEL result with no JSON form; the caller records it as a rule error."""


def rfc3339(moment: datetime) -> str:
    """UTC, always with microseconds, `Z` suffix: one spelling per instant."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def to_json(value: Any) -> Any:
    """A plain JSON copy of `value`, or `NotJson` naming what cannot be represented."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        if -SAFE_INT <= value <= SAFE_INT:
            return value
        raise NotJson(f"integer {value} is outside the JSON-safe range ±2^53")
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        raise NotJson(f"{value} is not a finite number")
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise NotJson(f"map key {key!r} is not a string")
            out[key] = to_json(item)
        return out
    if isinstance(value, list | tuple):
        return [to_json(item) for item in value]
    return _special(value)


def _special(value: Any) -> Any:
    if isinstance(value, datetime):
        return rfc3339(value)
    if isinstance(value, timedelta):
        return f"{value.total_seconds():g}s"
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii")
    raise NotJson(f"a value of type {type(value).__name__} has no JSON form")


def same(a: Any, b: Any) -> bool:
    """Equality that tells `1`, `1.0` and `True` apart, so a change of type is a change."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)
