"""Durations as policy authors write them: Go style (`30s`, `1h30m`, `500ms`) or ISO 8601
(`PT30S`). Both parse to `timedelta`; calendar units (years, months) are refused because a
month has no fixed length and an evaluation period must."""

from __future__ import annotations

import re
from datetime import timedelta

import isodate

from ._errors import InvalidPolicy

_GO_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_GO_FULL = re.compile(r"(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+")
_UNIT_SECONDS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}


def parse_duration(value: object, *, field: str = "duration") -> timedelta:
    """A positive `timedelta` from a timedelta, Go-style or ISO 8601 string.

    Raises `InvalidPolicy` naming `field` so the author sees which setting to fix.
    """
    if isinstance(value, timedelta):
        result = value
    elif isinstance(value, str) and _GO_FULL.fullmatch(value):
        seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in _GO_PART.findall(value))
        result = timedelta(seconds=seconds)
    elif isinstance(value, str) and value.startswith("P"):
        result = _parse_iso(value, field)
    else:
        raise InvalidPolicy(
            f"{field}: {value!r} is not a duration; write e.g. '30s', '1h30m', '500ms' or 'PT30S'"
        )
    if result <= timedelta(0):
        raise InvalidPolicy(f"{field}: {value!r} must be a positive duration")
    return result


def _parse_iso(value: str, field: str) -> timedelta:
    try:
        parsed = isodate.parse_duration(value)
    except (isodate.ISO8601Error, ValueError) as exc:
        raise InvalidPolicy(f"{field}: {value!r} is not an ISO 8601 duration ({exc})") from exc
    if not isinstance(parsed, timedelta):
        raise InvalidPolicy(
            f"{field}: {value!r} uses years or months, which have no fixed length; "
            "use days, hours, minutes or seconds"
        )
    return parsed


def format_duration(value: timedelta) -> str:
    """Go-style seconds (`30s`, `0.5s`): the form we write back into settings and JSON."""
    seconds = value.total_seconds()
    return f"{seconds:g}s"
