"""The idempotency record index: which records exist, oldest first, bounded."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from actors._request_index import Entry, RequestIndex


def rid(n: int) -> str:
    return f"{n:016x}"


def built(*entries: Entry, max_keys: int = 100, max_bytes: int = 10**9) -> RequestIndex:
    index = RequestIndex()
    for entry in entries:
        index, _ = index.appended(entry, horizon=0, max_keys=max_keys, max_bytes=max_bytes)
    return index


def test_an_index_round_trips_through_state_and_finds_its_entries() -> None:
    index = built(Entry(rid(1), 10, 5), Entry(rid(2), 20, 7))
    again = RequestIndex.from_state(index.to_state())
    assert again.entries() == [Entry(rid(1), 10, 5), Entry(rid(2), 20, 7)]
    assert again.total == 12
    assert again.find(rid(2)) == Entry(rid(2), 20, 7)
    assert again.find(rid(3)) is None


def test_an_id_found_across_entry_boundaries_is_not_an_entry() -> None:
    index = built(Entry(rid(1), 0xABC, 0x1))
    straddling = index.text[8:24]  # the end of the id and the start of the time
    assert index.find(straddling) is None


def test_older_formats_and_garbage_read_as_empty() -> None:
    for value in (None, {"a\nb\nc": {"fingerprint": "x"}}, "zz", "0" * 12 + "x" * 54, 5):
        assert len(RequestIndex.from_state(value)) == 0


def test_the_expired_and_the_oldest_beyond_the_bounds_are_dropped_first() -> None:
    index = built(Entry(rid(1), 10, 5), Entry(rid(2), 20, 5), Entry(rid(3), 30, 5))
    kept, dropped = index.appended(Entry(rid(4), 40, 5), horizon=15, max_keys=2, max_bytes=100)
    assert dropped == [rid(1), rid(2)]
    assert [e.rid for e in kept.entries()] == [rid(3), rid(4)]
    kept, dropped = kept.appended(Entry(rid(5), 50, 8), horizon=0, max_keys=9, max_bytes=14)
    assert dropped == [rid(3)]
    assert kept.total == 13
    huge, dropped = kept.appended(Entry(rid(6), 60, 99), horizon=0, max_keys=9, max_bytes=14)
    assert [e.rid for e in huge.entries()] == [rid(6)]  # the newest is always kept


@given(st.lists(st.tuples(st.integers(0, 20), st.integers(0, 50)), max_size=60))
def test_an_index_stays_within_its_bounds_and_keeps_the_newest(
    items: list[tuple[int, int]],
) -> None:
    index = RequestIndex()
    for at, (n, size) in enumerate(items):
        index, _ = index.appended(Entry(rid(n), at, size), horizon=0, max_keys=8, max_bytes=200)
        entries = index.entries()
        assert entries[-1] == Entry(rid(n), at, size)
        assert len(entries) <= 8
        assert index.total == sum(e.size for e in entries)
        assert index.total <= 200 or len(entries) == 1
        assert len({e.rid for e in entries}) == len(entries)
        assert [e.at for e in entries] == sorted(e.at for e in entries)
