"""The per-caller command budget: bursts up to `burst`, then `rate` per second."""

from __future__ import annotations

from app.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_caller_gets_its_burst_then_waits_for_refill() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=2.0, burst=3, clock=clock)

    assert [limiter.acquire("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.acquire("a") == 0.5
    assert limiter.acquire("b") == 0.0  # callers do not share a budget
    clock.now += 0.5
    assert limiter.acquire("a") == 0.0


def test_zero_rate_disables_the_limit() -> None:
    limiter = RateLimiter(rate=0, burst=1)
    assert all(limiter.acquire("a") == 0.0 for _ in range(1000))


def test_the_number_of_tracked_callers_is_bounded() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=1.0, burst=1, max_callers=2, clock=clock)
    for caller in ("a", "b", "c"):
        limiter.acquire(caller)
    assert limiter.acquire("a") == 0.0  # "a" was dropped as least recently used: fresh bucket


def test_a_caller_is_its_issuer_and_subject_whatever_token_it_sends() -> None:
    first = {"iss": "https://issuer.example", "sub": "ops", "jti": "1", "exp": 1}
    second = {**first, "jti": "2", "exp": 2}
    other_issuer = {**first, "iss": "https://other.example"}
    assert RateLimiter.key_of(first) == RateLimiter.key_of(second)
    assert RateLimiter.key_of(first) != RateLimiter.key_of(other_issuer)


def test_a_listing_costs_one_request_per_object_it_reads() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=1.0, burst=10, clock=clock)
    assert limiter.acquire("a", 8) == 0.0
    assert limiter.acquire("a", 5) == 3.0  # 2 left, 3 more to wait for
