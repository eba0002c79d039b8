"""Per-caller token buckets, so one caller cannot monopolise the objects' turns.

Callers are keyed by the verified (issuer, subject) of their token, never by the token string:
the app verifies a token (a signature check, tens of microseconds) before it spends anything
on the request, so garbage or freshly minted tokens neither get a fresh burst nor evict real
callers. Every route that reaches an object takes from the bucket, a listing one per object it
reads. Buckets live in this process: with N replicas a caller gets N times the rate at most.
Bounded in number, least recently used dropped first.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """`rate` requests per second with bursts up to `burst`; rate <= 0 disables it."""

    def __init__(
        self,
        *,
        rate: float,
        burst: int,
        max_callers: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rate = rate
        self._burst = max(burst, 1)
        self._max = max_callers
        self._clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    @staticmethod
    def key_of(claims: Mapping[str, Any]) -> str:
        """One bucket per verified caller: its issuer and subject, whatever token it sends."""
        caller = json.dumps([claims.get("iss"), claims.get("sub")], separators=(",", ":"))
        return hashlib.sha256(caller.encode()).hexdigest()[:32]

    def acquire(self, key: str, cost: float = 1.0) -> float:
        """Take `cost` requests from `key`'s bucket: 0 when allowed, else seconds to wait."""
        if self._rate <= 0:
            return 0.0
        now = self._clock()
        bucket = self._buckets.pop(key, None) or _Bucket(float(self._burst), now)
        bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.updated) * self._rate)
        bucket.updated = now
        self._buckets[key] = bucket
        while len(self._buckets) > self._max:
            self._buckets.popitem(last=False)
        cost = min(cost, float(self._burst))  # a listing is never unaffordable
        if bucket.tokens >= cost:
            bucket.tokens -= cost
            return 0.0
        return (cost - bucket.tokens) / self._rate

    def retry_after(self, wait: float) -> str:
        return str(max(1, math.ceil(wait)))
