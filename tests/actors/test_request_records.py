"""A record beside its lineage entry keeps only what the entry does not say; it reads back whole."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from actors._request_fingerprints import command_fingerprint
from actors._request_records import beside_entry, in_full, key_alone, name_beside
from policies import canonical_json

ENTRY = {"seq": 7, "who": {"iss": "https://a.example", "sub": "ops"}, "denied": [], "errors": []}
RECORD = {
    "iss": "https://a.example",
    "sub": "ops",
    "key": "k-1",
    "fingerprint": "f" * 64,
    "outcome": {"result": {"n": 1}, "applied": True, "denied": [], "errors": [], "seq": 7},
    "at": 1_796_000_000_000,
}


def test_a_commands_record_keeps_only_its_key_fingerprint_time_and_result() -> None:
    stored = beside_entry(ENTRY, **RECORD)
    assert stored == ["k-1", "f" * 64, 1_796_000_000_000, {"n": 1}, True]
    again = in_full(json.loads(json.dumps(stored)), ENTRY)
    assert again == RECORD
    assert again is not None
    assert list(again["outcome"]) == list(RECORD["outcome"])  # the same body, in its order


def test_a_command_applied_with_no_result_keeps_only_its_key_fingerprint_and_time() -> None:
    record = {**RECORD, "outcome": {**RECORD["outcome"], "result": None}}
    stored = beside_entry(ENTRY, **record)
    assert stored == ["k-1", "f" * 64, 1_796_000_000_000]
    again = in_full(json.loads(json.dumps(stored)), ENTRY)
    assert json.dumps(again) == json.dumps(record)  # same values, types and key order
    not_applied = {**RECORD, "outcome": {**RECORD["outcome"], "result": None, "applied": False}}
    assert beside_entry(ENTRY, **not_applied) == ["k-1", "f" * 64, 1_796_000_000_000, None, False]


def test_what_the_entry_does_not_say_is_kept() -> None:
    other_caller = {**RECORD, "sub": "someone-else"}
    assert beside_entry(ENTRY, **other_caller) == {
        "key": "k-1",
        "fingerprint": "f" * 64,
        "at": 1_796_000_000_000,
        "sub": "someone-else",
        "result": {"n": 1},
        "applied": True,
    }
    denied = {**RECORD, "outcome": {**RECORD["outcome"], "denied": [{"action": "x"}]}}
    assert (
        beside_entry({**ENTRY, "denied": [{"action": "x"}]}, **denied)["outcome"]
        == (denied["outcome"])
    )
    other_seq = {**RECORD, "outcome": {**RECORD["outcome"], "seq": 6}}
    assert "outcome" in beside_entry(ENTRY, **other_seq)
    assert in_full(beside_entry(ENTRY, **other_seq), ENTRY) == other_seq


SAYS_ALL = {
    **ENTRY,
    "time": "2026-12-03T10:00:00.123456Z",
    "inputs": {"trigger": "command", "command": "add", "params": {"by": 2, "tags": ["a", {}]}},
}
APPLIED = {"result": None, "applied": True, "denied": [], "errors": [], "seq": 7}
ADD = ("add", {"by": 2, "tags": ["a", {}]})


def test_a_record_its_entry_says_all_of_is_its_key_alone() -> None:
    at = key_alone(SAYS_ALL, "https://a.example", "ops", ADD, APPLIED)
    assert at == 1_796_292_000_123  # the entry's time, in whole milliseconds
    record = in_full(json.loads(json.dumps("k-1")), json.loads(json.dumps(SAYS_ALL)))
    expected = {
        "iss": "https://a.example",
        "sub": "ops",
        "key": "k-1",
        "fingerprint": command_fingerprint(*ADD),
        "outcome": APPLIED,
        "at": at,
    }
    assert json.dumps(record) == json.dumps(expected)  # same values, types and key order
    stored = ["k-1", "f" * 64, at]  # what an activation reads back to index either form
    named = {k: expected[k] for k in ("iss", "sub", "key", "at")}
    assert name_beside([SAYS_ALL, "k-1"]) == named
    assert {k: v for k, v in (name_beside([SAYS_ALL, stored]) or {}).items() if k in named} == named


def test_a_record_says_more_when_its_entry_does_not_say_it_all() -> None:
    caller = ("https://a.example", "ops")
    assert key_alone(SAYS_ALL, *caller, ("add", {"by": 2.0, "tags": ["a", {}]}), APPLIED) is None
    assert (
        key_alone(SAYS_ALL, *caller, ("add", {"by": 2, "tags": ["a", {"x": 0.5}]}), APPLIED) is None
    )
    assert key_alone(SAYS_ALL, *caller, ("add", {"by": 3, "tags": ["a", {}]}), APPLIED) is None
    assert key_alone(SAYS_ALL, *caller, ("sub", ADD[1]), APPLIED) is None
    assert key_alone(SAYS_ALL, "https://a.example", "other", ADD, APPLIED) is None
    for outcome in (
        {**APPLIED, "result": {"n": 1}},
        {**APPLIED, "applied": False},
        {**APPLIED, "applied": 1},
        {**APPLIED, "denied": [{"action": "x"}]},
        {**APPLIED, "seq": 6},
        {**APPLIED, "seq": 7.0},
        {"seq": 7, "result": None, "applied": True, "denied": [], "errors": []},
        {**APPLIED, "extra": 1},
    ):
        assert key_alone(SAYS_ALL, *caller, ADD, outcome) is None, outcome
    for entry in (
        {k: v for k, v in SAYS_ALL.items() if k != "inputs"},
        {k: v for k, v in SAYS_ALL.items() if k != "time"},
        {**SAYS_ALL, "time": "yesterday"},
        {**SAYS_ALL, "who": "ops"},
    ):
        assert key_alone(entry, *caller, ADD, APPLIED) is None
        assert name_beside([entry, "k-1"]) is None
        record = in_full("k-1", entry)
        assert record is None or (record["iss"], record["sub"]) == (None, None)  # no caller's
    nan = {**SAYS_ALL, "inputs": {"command": "add", "params": {"by": float("nan")}}}
    assert in_full("k-1", nan) is None  # not an entry this host wrote: no record


def test_a_record_written_in_full_reads_as_it_is_and_garbage_as_none() -> None:
    full = {k: v for k, v in RECORD.items()}
    assert in_full(full, ENTRY) == RECORD
    assert in_full("garbage", ENTRY) is None  # a key alone, but the entry has no request
    assert in_full(["k", "f" * 64, 1, None], ENTRY) is None  # neither three fields nor five
    assert in_full({"key": "k"}, "garbage") is None
    assert in_full({"key": "k"}, ENTRY) == {  # no outcome: nothing to replay
        "iss": "https://a.example",
        "sub": "ops",
        "key": "k",
        "fingerprint": None,
        "outcome": None,
        "at": None,
    }


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=6,
)
OUTCOMES = st.one_of(
    st.builds(
        lambda result, applied, denied, errors, seq: {
            "result": result,
            "applied": applied,
            "denied": denied,
            "errors": errors,
            "seq": seq,
        },
        JSON,
        st.booleans(),
        st.sampled_from([[], [{"a": 1}]]),
        st.sampled_from([[], [{"e": "x"}]]),
        st.sampled_from([7, 6, 7.0, True]),
    ),
    JSON,
)


@given(
    OUTCOMES,
    st.sampled_from(["https://a.example", "other", ""]),
    st.sampled_from(["ops", "1", ""]),
    st.one_of(
        st.none(),
        st.fixed_dictionaries({"iss": st.sampled_from(["https://a.example", None, 1])}),
        st.fixed_dictionaries(
            {"iss": st.sampled_from(["https://a.example", "other"]), "sub": st.just("ops")}
        ),
    ),
    st.sampled_from([[], [{"a": 1}], None]),
)
def test_every_record_reads_back_exactly_as_it_was_recorded(
    outcome: Any, iss: str, sub: str, who: Any, denied: Any
) -> None:
    entry: dict[str, Any] = {"seq": 7, "denied": denied, "errors": []}
    if who is not None:
        entry["who"] = who
    record = {**RECORD, "iss": iss, "sub": sub, "outcome": outcome}
    stored = json.loads(json.dumps(beside_entry(entry, **record)))
    again = in_full(stored, json.loads(json.dumps(entry)))
    assert json.dumps(again) == json.dumps(record)  # same values, types and key order


PARAMS = st.dictionaries(
    st.text(max_size=3),
    st.recursive(
        st.none()
        | st.booleans()
        | st.integers(-(2**53) + 1, 2**53 - 1)
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(max_size=5),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
        max_leaves=6,
    ),
    max_size=4,
)


@given(PARAMS)
def test_a_key_alone_reads_back_the_fingerprint_of_the_request_it_was_made_for(
    params: dict[str, Any],
) -> None:
    """An entry stores its inputs as canonical JSON (2.0 as 2, -0.0 as 0): a record is its key
    alone only when the request read back from there has the request's own fingerprint."""
    inputs = {"trigger": "command", "command": "add", "params": params}
    entry = {**SAYS_ALL, "inputs": json.loads(canonical_json(inputs))}
    at = key_alone(entry, "https://a.example", "ops", ("add", params), APPLIED)
    if at is None:
        assert any(isinstance(v, float) for v in _leaves(params))
        return
    record = in_full("k-1", entry)
    assert record is not None
    assert record["fingerprint"] == command_fingerprint("add", params)


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in _leaves(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item)]
    return [value]
