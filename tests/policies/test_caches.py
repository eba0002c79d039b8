"""Caches keyed by caller input stay bounded in bytes, and workflow-event params are checked
like command params before any CEL sees them."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from policies import InvalidParams, SigningKey, TrustStore, _load, load_policy, sign_policy
from policies._cel import CACHE_BYTES, ContextCache, context_cache

from .conftest import NOW, Make, minimal

EXPRESSIONS = ["size(params.s) > 0", "params.s != ''", "params.s.endsWith(params.s)", "true"]


def echo_doc() -> dict[str, Any]:
    return minimal(
        commands={
            f"c{i}": {"params": {"s": "string"}, "when": when, "do": []}
            for i, when in enumerate(EXPRESSIONS)
        }
    )


def in_fresh_thread(work: Any) -> ContextCache:
    """Run `work` on a new thread (whose context cache starts empty); return that cache."""
    caches: list[ContextCache] = []
    failures: list[BaseException] = []

    def target() -> None:
        try:
            work()
        except BaseException as exc:  # re-raised on the test's thread
            failures.append(exc)
        caches.append(context_cache())

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if failures:
        raise failures[0]
    return caches[0]


def test_contexts_for_many_large_distinct_params_stay_within_the_byte_budget(make: Make) -> None:
    policy = make(echo_doc())

    def work() -> None:
        for n in range(16):
            for i in range(len(EXPRESSIONS)):
                params = {"s": chr(ord("a") + n) * 400_000}
                decision = policy.command(
                    f"c{i}", params, caller={}, data={"n": 0}, object_id="obj-1", now=NOW
                )
                assert decision.denied == []

    cache = in_fresh_thread(work)
    assert cache.bytes <= CACHE_BYTES
    assert len(cache) <= CACHE_BYTES // 400_000


def test_the_context_cache_evicts_by_bytes_and_skips_oversized_inputs() -> None:
    cache = ContextCache(entries=100, max_bytes=64_000)
    for n in range(50):
        cache.context({"params": {"s": "x" * 1000, "n": n}})
    assert cache.bytes <= 64_000
    assert 0 < len(cache) < 64
    before = (len(cache), cache.bytes)
    cache.context({"params": {"s": "x" * 10_000}})  # over the per-entry share: not cached
    assert (len(cache), cache.bytes) == before


def test_unchanged_inputs_hit_the_cache() -> None:
    cache = ContextCache()
    first = cache.context({"data": {"n": 1}})
    assert cache.context({"data": {"n": 1}}) is first
    assert cache.context({"data": {"n": 1.0}}) is not first


def test_the_policy_cache_is_bounded_in_bytes(
    key: SigningKey, trust: TrustStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_load, "CACHE_BYTES", 20_000)
    for n in range(20):
        doc = minimal(id=f"p{n}", data={"pad": "x" * 4000})
        load_policy(sign_policy(doc, key, now=NOW), trust, now=NOW)
    with _load._lock:
        assert _load.cache_bytes() <= 20_000
        assert 1 <= len(_load._cache) <= 4


# --- workflow-event params ------------------------------------------------------------------


def pay_doc() -> dict[str, Any]:
    return minimal(
        commands={"pay": {"params": {"amount": "number"}, "do": []}},
        workflow={
            "initial": "open",
            "states": {
                "open": {
                    "transitions": [
                        {"on": "pay", "to": "paid", "when": "params.amount > 0.0"},
                        {"on": "poke", "to": "paid"},
                    ]
                },
                "paid": {"terminal": True},
            },
        },
    )


def test_event_params_of_the_wrong_type_are_refused_like_a_commands(make: Make) -> None:
    policy = make(pay_doc())
    start = policy.workflow_start({"n": 0}, object_id="obj-1", now=NOW)
    wrong = {"amount": "lots"}
    with pytest.raises(InvalidParams) as by_command:
        policy.command("pay", wrong, caller={}, data=start.data, object_id="obj-1", now=NOW)
    with pytest.raises(InvalidParams) as by_event:
        policy.workflow_event(
            "pay", wrong, status=start.status, caller={}, data=start.data,
            object_id="obj-1", now=NOW,
        )  # fmt: skip
    assert by_event.value.code == by_command.value.code == "invalid_params"
    assert by_event.value.message == by_command.value.message
    paid = policy.workflow_event(
        "pay", {"amount": 3}, status=start.status, caller={}, data=start.data,
        object_id="obj-1", now=NOW,
    )  # fmt: skip
    assert paid.status.state == "paid"


@pytest.mark.parametrize(
    ("params", "param"), [(["not", "an", "object"], None), ({"x": {1, 2}}, "x")]
)
def test_params_of_an_event_without_a_command_must_be_json(
    make: Make, params: Any, param: str | None
) -> None:
    policy = make(pay_doc())
    start = policy.workflow_start({"n": 0}, object_id="obj-1", now=NOW)
    with pytest.raises(InvalidParams) as refused:
        policy.workflow_event(
            "poke", params, status=start.status, caller={}, data=start.data,
            object_id="obj-1", now=NOW,
        )  # fmt: skip
    assert refused.value.param == param
