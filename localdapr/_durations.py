"""Parsing the time formats daprd accepts for reminders and timers (dapr/kit `time` package).

- Go durations: `1h2m3s`, `500ms`, `1.5h`, and the Python SDK's `0h0m1s0ms0μs` (both micro signs).
- ISO 8601 durations with whole numbers only, as dapr/kit parses them: `PT10S`, `P1DT2H`,
  `P1W`; with repetitions `R5/PT10S` (periods only). `PT0.5S` is refused, as daprd refuses it.
- RFC 3339 times for due times and TTLs: `2030-01-01T00:00:00Z`.

All results are in seconds as floats: the scheduler works on epoch seconds. Years and months
are taken as 365 and 30 days: daprd adds them on the calendar, which differs by at most a
few days over a year-long period, and no test or app of ours depends on that.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

_GO_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,  # U+00B5 MICRO SIGN
    "μs": 1e-6,  # U+03BC GREEK SMALL LETTER MU (what the Python SDK emits)
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_GO_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_ISO = re.compile(
    r"P(?:(?P<y>\d+)Y)?(?:(?P<mo>\d+)M)?(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?"
    r"(?:T(?:(?P<h>\d+)H)?(?:(?P<mi>\d+)M)?(?:(?P<s>\d+)S)?)?"
)
_CALENDAR = ("y", "mo", "w", "d")
_ISO_SECONDS = {"y": 365 * 86400, "mo": 30 * 86400, "w": 7 * 86400, "d": 86400, "h": 3600}
_ISO_SECONDS |= {"mi": 60, "s": 1}


class DurationError(ValueError):
    """A due time, period or TTL daprd would reject; the message names the bad text."""


@dataclass(frozen=True, slots=True)
class Period:
    """How a reminder repeats: every `seconds` (None: fires once), at most `repeats` times."""

    seconds: float | None
    repeats: int | None = None


def parse_go_duration(text: str) -> float:
    """Seconds in a Go duration string; raises DurationError when it is not one."""
    if text == "0":
        return 0.0
    body = text[1:] if text[:1] in "+-" else text
    if text.startswith("-"):
        raise DurationError(f"negative duration {text!r} is not allowed")
    pos, total = 0, 0.0
    while pos < len(body):
        m = _GO_PART.match(body, pos)
        if m is None:
            raise DurationError(f"{text!r} is not a Go duration (like 1h2m3s or 500ms)")
        total += float(m.group(1)) * _GO_UNITS[m.group(2)]
        pos = m.end()
    if not body:
        raise DurationError("empty duration")
    return total


def parse_iso_duration(text: str) -> float:
    """Seconds in an ISO 8601 duration (`PT10S`); raises DurationError otherwise."""
    m = _ISO.fullmatch(text)
    if m is None or text in ("P", "PT") or text.endswith("T"):
        raise DurationError(f"{text!r} is not an ISO 8601 duration (like PT10S)")
    return sum(float(v) * _ISO_SECONDS[k] for k, v in m.groupdict().items() if v)


def parse_duration(text: str) -> float:
    """Seconds in a Go or ISO 8601 duration."""
    text = text.strip()
    if text.startswith("P"):
        return parse_iso_duration(text)
    return parse_go_duration(text)


def parse_period(text: str | None, *, scheduler: bool = False) -> Period:
    """A reminder/timer period: empty or null is one-shot; `R<n>/<ISO>` caps repetitions.

    `scheduler`: parse as daprd hands a reminder period to its Scheduler: `R0` means no limit
    and calendar units (years, months, weeks, days) are refused. Timers take both as dapr/kit.
    """
    if text is None or text.strip() == "":
        return Period(None)
    text = text.strip()
    repeats: int | None = None
    rest = text
    if text.startswith("R"):
        head, sep, rest = text.partition("/")
        if not sep or not head[1:].isdigit() or not rest.startswith("P"):
            raise DurationError(f"{text!r} is not an ISO 8601 repetition (like R5/PT10S)")
        repeats = int(head[1:])
        if repeats == 0:
            if not scheduler:
                raise DurationError(f"period {text!r} has zero repetitions")
            repeats = None
    if scheduler and rest.startswith("P"):
        m = _ISO.fullmatch(rest)
        if m is not None and any(m.group(k) for k in _CALENDAR):
            raise DurationError(f"{text!r}: reminder periods take no years, months or days")
    seconds = parse_duration(rest)
    return Period(seconds if seconds > 0 else None, repeats)


def parse_time(text: str | None, *, base: float) -> float:
    """An absolute epoch time: RFC 3339, or a duration after `base` (empty means `base`)."""
    if text is None or text.strip() == "":
        return base
    text = text.strip()
    if text[:1].isdigit() and ("T" in text or "-" in text[1:5]):
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            pass
        else:
            if moment.tzinfo is None:
                raise DurationError(f"time {text!r} needs a UTC offset (RFC 3339)")
            return moment.timestamp()
    try:
        return base + parse_duration(text)
    except DurationError:
        raise DurationError(
            f"{text!r} is neither a duration (1h2m3s, PT10S) nor an RFC 3339 time"
        ) from None
