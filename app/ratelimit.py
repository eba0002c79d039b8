"""Per-caller token buckets for commands, so one caller cannot monopolise an object's turns.

Callers are keyed by a digest of their bearer token (never the token itself): the token is
only verified inside the object, and a forged token is refused there anyway. Buckets live in
this process (one replica's share), bounded in number, least recently used dropped first.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


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
    def key_of(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()[:32]

    def acquire(self, key: str) -> float:
        """Take one request from `key`'s bucket: 0 when allowed, else seconds to wait."""
        if self._rate <= 0:
            return 0.0
        now = self._clock()
        bucket = self._buckets.pop(key, None) or _Bucket(float(self._burst), now)
        bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.updated) * self._rate)
        bucket.updated = now
        self._buckets[key] = bucket
        while len(self._buckets) > self._max:
            self._buckets.popitem(last=False)
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self._rate

    def retry_after(self, wait: float) -> str:
        return str(max(1, math.ceil(wait)))
