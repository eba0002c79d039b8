"""The one place a policy check reads the time: injected `now`, else the wall clock, in UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now(now: datetime | None) -> datetime:
    """`now`, defaulting to the current time; naive datetimes are taken as UTC."""
    if now is None:
        return datetime.now(UTC)
    return now if now.tzinfo is not None else now.replace(tzinfo=UTC)
