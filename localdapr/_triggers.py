"""The schedule part of reminder and timer requests (`dueTime`, `period`, `ttl`, failure policy).

Shared by reminders and timers, answered as daprd 1.18 answers them: a field of the wrong JSON
type is 400 `ERR_MALFORMED_REQUEST` (daprd's JSON decoding); a value that does not parse is 500
`ERR_ACTOR_REMINDER_CREATE` / `ERR_ACTOR_TIMER_CREATE`, worded like daprd's message plus what
was wrong. Reminder periods are what daprd's Scheduler takes: no years, months, weeks or days,
and `R0/...` repeats without limit; timer periods may use them and refuse `R0`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ._appchannel import AppResponse
from ._durations import DurationError, parse_duration, parse_period, parse_time
from ._errors import DaprError

# (actor type, actor id, method path under /method/, body) -> the app's answer
CallFn = Callable[[str, str, str, bytes], Awaitable[AppResponse]]


@dataclass(frozen=True, slots=True)
class Trigger:
    """When something fires: first at `first_due` (epoch s), then every `period` seconds."""

    first_due: float
    period: float | None
    repeats: int | None
    expires: float | None
    due_time: str = ""
    period_text: str = ""
    ttl: str = ""
    failure_policy: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "first_due": self.first_due,
            "period_s": self.period,
            "repeats": self.repeats,
            "expires": self.expires,
            "dueTime": self.due_time,
            "period": self.period_text,
            "ttl": self.ttl,
            "failurePolicy": self.failure_policy,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Trigger:
        return cls(
            raw["first_due"],
            raw["period_s"],
            raw["repeats"],
            raw["expires"],
            raw["dueTime"],
            raw["period"],
            raw["ttl"],
            raw["failurePolicy"],
        )


@dataclass(frozen=True, slots=True)
class FailurePolicy:
    """How a firing the app answered with 5xx is retried (the SDK's `failurePolicy`)."""

    drop: bool = False
    interval: float = 1.0
    max_retries: int | None = 3


def _malformed(what: str, field: str, detail: str) -> DaprError:
    """A field of the wrong JSON type: daprd fails decoding the body."""
    return DaprError(
        400, "ERR_MALFORMED_REQUEST", f"failed deserializing HTTP body: {what} {field}: {detail}"
    )


# daprd's wording of an unparsable value, per (what, field).
_UNPARSABLE = {
    ("reminder", "dueTime"): "due time format not recognized",
    ("reminder", "period"): "unsupported period format",
    ("reminder", "ttl"): "ttl format not recognized",
    ("timer", "dueTime"): "error parsing timer due time",
    ("timer", "period"): "invalid timer period",
    ("timer", "ttl"): "error parsing timer TTL",
}


def _unparsable(what: str, field: str, detail: str) -> DaprError:
    """A value daprd cannot use: 500, as its reminder/timer creation fails."""
    code = "ERR_ACTOR_REMINDER_CREATE" if what == "reminder" else "ERR_ACTOR_TIMER_CREATE"
    phrase = _UNPARSABLE.get((what, field), f"invalid {what} {field}")
    return DaprError(500, code, f"error creating actor {what}: {phrase}: {detail}")


def _text(body: dict[str, Any], field: str, what: str) -> str:
    value = body.get(field)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _malformed(what, field, f"must be a string, got {value!r}")
    return value


def parse_trigger(body: dict[str, Any], *, now: float, what: str) -> Trigger:
    """Validate dueTime/period/ttl as daprd does: ttl counts from the first due time."""
    due_time, period_text, ttl = (_text(body, f, what) for f in ("dueTime", "period", "ttl"))
    try:
        first_due = parse_time(due_time, base=now)
    except DurationError as exc:
        raise _unparsable(what, "dueTime", str(exc)) from None
    try:
        period = parse_period(period_text, scheduler=what == "reminder")
    except DurationError as exc:
        raise _unparsable(what, "period", str(exc)) from None
    expires = None
    if ttl:
        try:
            expires = parse_time(ttl, base=first_due)
        except DurationError as exc:
            raise _unparsable(what, "ttl", str(exc)) from None
        if expires < now or expires < first_due:
            raise _unparsable(what, "ttl", f"{ttl!r} has already expired")
    policy = body.get("failurePolicy")
    return Trigger(
        first_due,
        period.seconds,
        period.repeats if period.seconds is not None else 1,
        expires,
        due_time,
        period_text,
        ttl,
        policy if isinstance(policy, dict) else None,
    )


def parse_failure_policy(raw: object) -> FailurePolicy:
    """`{"drop": {}}` or `{"constant": {"interval": "1s", "maxRetries": 3}}`; None = default."""
    if raw is None:
        return FailurePolicy()
    if not isinstance(raw, dict):
        raise _malformed("reminder", "failurePolicy", "must be an object")
    if "drop" in raw:
        return FailurePolicy(drop=True)
    constant = raw.get("constant")
    if not isinstance(constant, dict):
        raise _malformed("reminder", "failurePolicy", "expected 'drop' or 'constant'")
    interval = constant.get("interval")
    retries = constant.get("maxRetries")
    if retries is not None and (not isinstance(retries, int) or retries < 0):
        raise _malformed("reminder", "failurePolicy", "maxRetries must be an integer >= 0")
    try:
        seconds = parse_duration(interval) if isinstance(interval, str) and interval else 1.0
    except DurationError as exc:
        raise _malformed("reminder", "failurePolicy", str(exc)) from None
    return FailurePolicy(interval=seconds, max_retries=retries)
