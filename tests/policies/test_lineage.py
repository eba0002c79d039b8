"""Lineage: a hash chain that any edit, drop, reorder or truncation breaks."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policies import (
    InvalidData,
    Lineage,
    LineageError,
    canonical_json,
    data_digest,
    next_entry,
    verify_lineage,
)

T0 = datetime(2030, 1, 1, 12, 0, 0, 250000, tzinfo=UTC)
WHO = {"iss": "https://ops.example", "sub": "s1"}


def chain(n: int = 4) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    lineage = Lineage()
    data: dict[str, Any] = {"n": 0}
    lineage.append("created", data=data, who=WHO, policy_digest="sha256:aa", time=T0)
    for i in range(1, n):
        data = {"n": i}
        lineage.append(
            "cycle" if i % 2 else "command",
            data=data,
            who={"reminder": "cycle"},
            policy_digest="sha256:aa",
            time=T0,
            changes=[{"op": "set", "path": "n", "value": i}],
        )
    return lineage.entries, data


def test_entry_shape_and_links() -> None:
    entries, data = chain(2)
    first, second = entries
    assert first == {
        "seq": 1,
        "time": "2030-01-01T12:00:00.250000Z",
        "kind": "created",
        "who": WHO,
        "policy": "sha256:aa",
        "changes": [],
        "effects": [],
        "denied": [],
        "errors": [],
        "data_digest": data_digest({"n": 0}),
        "prev": None,
        "hash": first["hash"],
        "id": first["hash"].removeprefix("sha256:"),
    }
    assert second["prev"] == first["hash"]
    assert second["seq"] == 2
    assert json.loads(json.dumps(entries)) == entries
    verify_lineage(entries, data)


def test_next_entry_needs_only_the_previous_entry() -> None:
    entries, _ = chain(3)
    appended = next_entry(
        previous=entries[-1],
        kind="denied",
        time=T0,
        who=WHO,
        policy_digest="sha256:aa",
        data={"n": 2},
        denied=[{"rule": "r", "reason": "x"}],
        extra={"note": "n"},
    )
    assert appended["seq"] == 4
    assert appended["extra"] == {"note": "n"}
    verify_lineage([*entries, appended], {"n": 2})


def test_data_digest_is_canonical() -> None:
    assert data_digest({"b": 1, "a": [1.0, "é"]}) == data_digest({"a": [1, "é"], "b": 1})
    assert canonical_json({"b": 1, "a": None}) == b'{"a":null,"b":1}'
    with pytest.raises(InvalidData):
        data_digest({"n": float("nan")})


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(InvalidData, match="unknown lineage kind 'party'"):
        Lineage().append("party", data={}, who=WHO, policy_digest="", time=T0)


def broken_at(entries: list[Any], data: Any = None) -> int:
    with pytest.raises(LineageError) as info:
        verify_lineage(entries, data)
    return info.value.seq


def test_edited_entry_is_named() -> None:
    entries, _ = chain()
    entries[2]["changes"][0]["value"] = 99
    assert broken_at(entries) == 3


def test_rehashed_edit_breaks_the_next_link() -> None:
    entries, _ = chain()
    forged = next_entry(
        previous=entries[1], kind="cycle", time=T0, who=WHO, policy_digest="x", data={}
    )
    entries[2] = forged
    assert broken_at(entries) == 4


def test_dropped_reordered_and_truncated() -> None:
    entries, _ = chain()
    assert broken_at([entries[0], entries[2], entries[3]]) == 2
    assert broken_at([entries[0], entries[2], entries[1], entries[3]]) == 2
    assert broken_at(entries[2:]) == 3


def test_data_mismatch_names_the_last_seq() -> None:
    entries, data = chain()
    assert broken_at(entries, {"n": 42}) == 4
    verify_lineage(entries, data)
    assert broken_at([], {"n": 1}) == 0
    verify_lineage([])


def test_json_text_entries_are_accepted() -> None:
    entries, data = chain()
    verify_lineage([json.dumps(e) for e in entries], data)
    assert broken_at([entries[0], "{not json"]) == 2


@settings(max_examples=150, deadline=None)
@given(
    st.data(),
    st.dictionaries(
        st.text(max_size=5),
        st.one_of(st.integers(-1000, 1000), st.text(max_size=8), st.booleans(), st.none()),
        max_size=4,
    ),
)
def test_flipping_any_byte_of_any_entry_breaks_verification(
    data: st.DataObject, payload: dict[str, Any]
) -> None:
    entries, _ = chain(3)
    entries[1] = next_entry(
        previous=entries[0],
        kind="command",
        time=T0,
        who=WHO,
        policy_digest="sha256:aa",
        data=payload,
        changes=[{"op": "set", "path": "p", "value": payload}],
    )
    entries[2] = next_entry(
        previous=entries[1], kind="cycle", time=T0, who=WHO, policy_digest="x", data=payload
    )
    texts: list[Any] = [canonical_json(e) for e in entries]
    verify_lineage(texts, payload)
    index = data.draw(st.integers(0, len(texts) - 1))
    raw = bytearray(texts[index])
    position = data.draw(st.integers(0, len(raw) - 1))
    raw[position] ^= data.draw(st.integers(1, 255))
    tampered = copy.copy(texts)
    tampered[index] = bytes(raw)
    with pytest.raises(LineageError):
        verify_lineage(tampered, payload)
