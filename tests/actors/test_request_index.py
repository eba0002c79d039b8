"""The idempotency record index: which records exist, oldest first, where each lies, bounded."""

from __future__ import annotations

from random import Random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actors._request_entries import ENTRY_LENGTH, SLOTS, Entry
from actors._request_index import (
    MAX_SEGMENTS,
    RELOAD_COMPACTS,
    Compaction,
    Placement,
    RequestIndex,
    segment_numbers,
)
from actors._request_tail import TAIL_CHARS, TAIL_ENTRIES, tail_items, tail_records, tail_seqs


def rid(n: int) -> str:
    return f"{n:016x}"


class Store:
    """What the object's state holds after each placement: the header and the segments it
    lists (or an older format's base), the tail, the record in each slot (by record id) and
    beside each lineage entry (record id and time)."""

    def __init__(self) -> None:
        self.base: str | None = None
        self.header: list[int] | None = None
        self.segments: dict[int, str] = {}
        self.tail = ""
        self.slots: dict[int, str] = {}
        self.lineage: dict[int, tuple[str, int]] = {}
        self.compactions = 0

    def apply(self, placement: Placement, record_of: str, at: int = 0) -> None:
        if placement.seq:
            self.lineage[placement.seq] = (record_of, at)
        for slot in placement.freed:
            del self.slots[slot]
        if not placement.seq:
            self.slots[placement.slot] = record_of
        if placement.compaction is not None:
            self.compact(placement.compaction)
        self.tail = placement.tail

    def compact(self, compaction: Compaction) -> None:
        self.compactions += 1
        if compaction.segment is not None:
            number, text = compaction.segment
            assert number not in self.segments  # a segment is written once
            self.segments[number] = text
        for number in compaction.dropped:
            del self.segments[number]
        self.base, self.header = None, compaction.header  # the header takes the base's key
        assert set(self.header) == set(self.segments)  # none listed missing, none left over

    def holds(self, entry: Entry) -> bool:
        """Whether the record `entry` indexes is where it says."""
        if entry.seq:
            return self.lineage.get(entry.seq) == (entry.rid, entry.at)
        return self.slots.get(entry.slot) == entry.rid

    def reloaded(self, max_keys: int = SLOTS) -> RequestIndex:
        """The index as an activation reads it: the base, the tail, and the records the tail
        names by seq, read back from beside their lineage entries."""
        beside = {seq: self.lineage[seq] for seq in tail_seqs(self.tail) if seq in self.lineage}
        segments = [(n, self.segments[n]) for n in self.header or []]
        return RequestIndex.from_state(
            self.base, self.tail, max_keys=max_keys, segments=segments, beside=beside
        )


def recorded(
    *items: tuple[int, int, int], max_keys: int = 100, max_bytes: int = 10**9, horizon: int = 0
) -> tuple[RequestIndex, Store]:
    index, store = RequestIndex(), Store()
    for n, at, size in items:
        placement = index.record(
            rid(n), at=at, size=size, horizon=horizon, max_keys=max_keys, max_bytes=max_bytes
        )
        store.apply(placement, rid(n))
    return index, store


def test_an_index_reloads_from_its_base_and_tail_and_finds_its_entries() -> None:
    whole = TAIL_CHARS // (ENTRY_LENGTH + 1)  # slots' records: whole entries in the tail
    index, store = recorded(*((n, 10 * n, 5) for n in range(whole + 5)))
    assert store.header is not None
    assert len(tail_items(store.tail)) == 4
    again = store.reloaded()
    assert again.entries() == index.entries()
    assert again.total == 5 * (whole + 5)
    assert again.find(rid(2)) == Entry.make(rid(2), 20, 5, 2)
    assert again.find(rid(99)) is None


def test_a_full_index_overwrites_the_oldest_records_slot() -> None:
    index, store = recorded((1, 10, 5), (2, 20, 5), (3, 30, 5), max_keys=2)
    assert [(e.rid, e.slot) for e in index.entries()] == [(rid(2), 1), (rid(3), 0)]
    assert store.slots == {0: rid(3), 1: rid(2)}
    assert store.header is None  # no compaction was needed: the tail says it all
    assert store.reloaded().entries() == index.entries()


def test_a_record_beside_its_lineage_entry_takes_no_slot_and_frees_the_oldest_ones() -> None:
    index, store = recorded((1, 10, 5), (2, 20, 5), max_keys=2)
    placement = index.record(rid(3), at=30, size=5, horizon=0, max_keys=2, max_bytes=99, seq=7)
    store.apply(placement, rid(3), at=30)
    assert placement.seq == 7
    assert placement.tail.endswith(",7")  # its record, beside entry 7, says the rest
    assert placement.freed == [0]  # the oldest's slot: nothing will read it again
    assert [(e.rid, e.seq, e.size) for e in index.entries()] == [(rid(2), 0, 5), (rid(3), 7, 0)]
    assert store.slots == {1: rid(2)}
    assert store.header is None  # the tail says it all: reading keeps the newest two
    assert store.reloaded(max_keys=2).entries() == index.entries()
    placement = index.record(rid(4), at=40, size=5, horizon=0, max_keys=2, max_bytes=99)
    store.apply(placement, rid(4))
    assert (placement.slot, placement.seq) == (1, 0)  # the dropped rid 2's slot
    assert store.reloaded(max_keys=2).entries() == index.entries()


def test_a_recorded_id_keeps_its_slot_and_moves_last() -> None:
    index, _ = recorded((1, 10, 5), (2, 20, 5), (1, 30, 7))
    assert index.entries() == [Entry.make(rid(2), 20, 5, 1), Entry.make(rid(1), 30, 7, 0)]
    assert index.total == 12


def test_malformed_state_reads_as_no_records() -> None:
    good = Entry.make(rid(1), 10, 5, 0).text
    for base, tail in [
        (None, None),
        ({"a": 1}, ""),
        ("zz", 5),
        (good[:-1], ""),
        (good.upper(), ""),
        ("é" * ENTRY_LENGTH, ""),
        ("", good + "x"),
        ("", good + good),  # entries in a tail are comma-separated
        ("", f"{good},"),
        ("", "0"),  # no lineage entry has seq 0
        ("", "1" * 13),  # nor a seq of more than 12 hex digits
        (good * (SLOTS + 1), ""),  # longer than any index this host writes
        ("", ",".join([good] * (TAIL_ENTRIES + 1))),
        ("", ",".join(["1"] * (TAIL_ENTRIES + 1))),
        ("", f"1-{TAIL_ENTRIES + 1:x}"),  # a run names as many records as it spans
        ("", f"{good},1-{TAIL_ENTRIES:x}"),
        ("", "1-ffffffffffff"),
        ("", "5-5"),  # a run of one is written as its seq
        ("", "5-3"),
        ("", "0-3"),
        ("", "1-"),
        ("", "-1"),
        ("", "1-2-3"),
        ("", "1--2"),
        ("", "1,,2"),
        ("", f"1-{'2' * 13}"),
        ("", f"{good[:-3]}1-2"),  # an entry's length, but not an entry
    ]:
        assert len(RequestIndex.from_state(base, tail, max_keys=SLOTS)) == 0, (base, tail)
    assert len(RequestIndex.from_state("garbage", good, max_keys=SLOTS)) == 1  # a good tail
    # A seq whose lineage entry holds no well-formed record names none.
    assert len(RequestIndex.from_state("", f"{good},2a", max_keys=SLOTS, beside={})) == 1
    beside = {seq: (rid(seq), seq) for seq in range(1, 9)}
    assert len(RequestIndex.from_state("", f"{good},2-5,7", max_keys=SLOTS, beside=beside)) == 6


def test_the_expired_and_the_oldest_beyond_the_bounds_go_at_compaction() -> None:
    index, _ = recorded((1, 10, 5), (2, 20, 5), (3, 30, 5))
    placement = index.record(rid(4), at=40, size=5, horizon=15, max_keys=2, max_bytes=100)
    assert [e.rid for e in index.entries()] == [rid(3), rid(4)]
    assert placement.freed == [1]
    assert placement.compaction is not None
    assert placement.tail == ""
    placement = index.record(rid(5), at=50, size=8, horizon=0, max_keys=9, max_bytes=14)
    assert placement.freed == [2]
    assert index.total == 13
    index.record(rid(6), at=60, size=99, horizon=0, max_keys=9, max_bytes=14)
    assert [e.rid for e in index.entries()] == [rid(6)]  # the newest is always kept


@given(
    st.lists(
        st.tuples(
            st.integers(0, 20),
            st.integers(0, 50),
            st.integers(0, 3),
            st.booleans(),
            st.integers(0, 9).map(lambda n: n == 0),  # now and then, a new activation
        ),
        max_size=120,
    ),
    st.integers(1, 8),
)
def test_the_stored_index_always_says_what_memory_does_within_its_bounds(
    items: list[tuple[int, int, int, bool, bool]], max_keys: int
) -> None:
    index, store = RequestIndex(), Store()
    for at, (n, size, age, beside_entry, reactivated) in enumerate(items):
        if reactivated:  # what it goes on with is what it reads back
            index = store.reloaded(max_keys)
        seq = at + 1 if beside_entry else 0
        placement = index.record(
            rid(n),
            at=at,
            size=size,
            horizon=at - 10 * age,
            max_keys=max_keys,
            max_bytes=200,
            seq=seq,
        )
        store.apply(placement, rid(n), at=at)
        entries = index.entries()
        assert entries[-1] == Entry.make(rid(n), at, 0 if seq else size, placement.slot, seq)
        assert len(entries) <= max_keys
        assert index.total == sum(e.size for e in entries)
        assert index.total <= 200 or len(entries) == 1
        assert tail_records(tail_items(index.tail)) == index.tail_records <= TAIL_ENTRIES
        assert len(index.tail) <= TAIL_CHARS
        assert all(store.holds(e) for e in entries)  # every record where its entry says
        assert len(store.slots) <= max_keys  # storage is bounded too, stale records included
        assert set(store.slots.values()) <= {e.rid for e in entries if e.in_slot}
        assert store.reloaded(max_keys).entries() == entries


@given(st.lists(st.tuples(st.integers(0, 12), st.integers(1, 6)), max_size=80))
def test_a_host_that_lowers_its_bound_drops_the_oldest_and_frees_their_slots(
    items: list[tuple[int, int]],
) -> None:
    index, store = RequestIndex(), Store()
    for at, (n, max_keys) in enumerate(items):
        placement = index.record(rid(n), at=at, size=1, horizon=0, max_keys=max_keys, max_bytes=99)
        store.apply(placement, rid(n))
        entries = index.entries()
        assert len(entries) <= max_keys
        assert entries[-1].rid == rid(n)
        assert all(store.holds(e) for e in entries)
        assert len(store.slots) <= 6
        assert store.reloaded(max_keys).entries() == entries


def test_records_beside_their_entries_cost_the_tail_their_seqs_and_are_read_back() -> None:
    index, store = RequestIndex(), Store()
    for n, seq in enumerate([0x101, 0x102, 0x103, 0x104, 0x105, 0x107, 0x10A], 1):
        placement = index.record(rid(n), n * 10, 0, 0, 100, 99, seq=seq)
        store.apply(placement, rid(n), at=n * 10)
    assert store.tail == "101-105,107,10a"  # consecutive entries: one run
    assert store.header is None
    assert store.reloaded().entries() == index.entries()
    del store.lineage[0x103]  # an entry that no longer holds its record names none
    assert [e.rid for e in store.reloaded().entries()] == [rid(n) for n in (1, 2, 4, 5, 6, 7)]
    again = store.reloaded()  # an activation goes on with the tail's last item
    assert again.record(rid(9), 90, 0, 0, 100, 99, seq=0x10B).tail == "101-105,107,10a-10b"


def test_an_activation_that_read_many_records_back_compacts_at_its_first_record() -> None:
    index, store = RequestIndex(), Store()
    for n in range(1, RELOAD_COMPACTS + 1):
        store.apply(index.record(rid(n), n, 0, 0, 100, 99, seq=n), rid(n), at=n)
    assert store.header is None
    assert store.tail == f"1-{RELOAD_COMPACTS:x}"
    fewer = RequestIndex.from_state(
        None, f"2-{RELOAD_COMPACTS:x}", max_keys=100, beside=store.lineage
    )
    assert fewer.record(rid(99), 99, 0, 0, 100, 99, seq=99).compaction is None  # read 7: on
    again = store.reloaded()
    placement = again.record(rid(99), 99, 0, 0, 100, 99, seq=99)
    assert placement.compaction is not None
    assert placement.tail == ""  # the next activation reads none back
    store.apply(placement, rid(99), at=99)
    assert store.reloaded().entries() == again.entries()
    assert len(again) == RELOAD_COMPACTS + 1


def test_a_full_table_compacts_into_small_segments_and_deletes_the_dead_ones() -> None:
    """256 records beside their entries, then as many again: each compaction writes only
    what the tail named, and a segment goes once all its records were dropped for newer."""
    index, store = RequestIndex(), Store()
    written: list[int] = []
    for n in range(1, 1025):
        placement = index.record(rid(n), n, 0, 0, 256, 99, seq=n)
        store.apply(placement, rid(n), at=n)
        if placement.compaction is not None and placement.compaction.segment is not None:
            written.append(len(placement.compaction.segment[1]) // ENTRY_LENGTH)
            assert placement.compaction.header == sorted(store.segments)
    assert written == [TAIL_ENTRIES + 1] * len(written)  # never the whole table
    assert len(written) == 1024 // (TAIL_ENTRIES + 1)
    assert len(store.header or []) <= 256 // (TAIL_ENTRIES + 1) + 1
    assert store.reloaded(256).entries() == index.entries()
    assert [e.rid for e in index.entries()] == [rid(n) for n in range(769, 1025)]


def test_an_index_in_the_older_single_base_reads_and_is_then_written_whole() -> None:
    old = "".join(Entry.make(rid(n), n, 0, 0, n).text for n in range(1, 11))
    index = RequestIndex.from_state(old, "b-c", max_keys=100, beside={11: (rid(11), 11)})
    assert [e.rid for e in index.entries()] == [rid(n) for n in range(1, 12)]
    compaction = index.compact()
    assert compaction.segment is not None
    assert compaction.segment[1] == old + Entry.make(rid(11), 11, 0, 0, 11).text
    assert compaction.header == [compaction.segment[0]]
    again = RequestIndex.from_state(None, "", max_keys=100, segments=[compaction.segment])
    assert again.entries() == index.entries()


def test_more_than_max_segments_live_are_written_whole() -> None:
    index, store = RequestIndex(), Store()
    most = 0
    for n in range(1, 40 * (TAIL_ENTRIES + 1)):
        store.apply(index.record(rid(n), n, 0, 0, 4000, 99, seq=n), rid(n), at=n)
        most = max(most, len(store.header or []))
    assert most == MAX_SEGMENTS
    assert store.reloaded(4000).entries() == index.entries()


def test_a_malformed_header_or_segments_read_as_no_records() -> None:
    text = Entry.make(rid(1), 10, 0, 0, 1).text
    good = RequestIndex.from_state(None, "", max_keys=SLOTS, segments=[(3, text)])
    assert len(good) == 1
    assert good.compact().header == [3]  # nothing new: the header is written again as it was
    for segments in [
        [(3, text[:-1])],
        [(3, text.upper())],
        [(3, 7)],
        [(3, text * (SLOTS + 1))],  # longer than any segment this host writes
        [(n, text * SLOTS) for n in range(3)],  # longer than compactions leave, together
    ]:
        index = RequestIndex.from_state(None, "", max_keys=SLOTS, segments=segments)
        assert len(index) == 0
        # The next compaction deletes what the header listed, its segments' text unread.
        index.record(rid(9), 90, 0, 0, SLOTS, 99, seq=9)
        compaction = index.compact()
        assert compaction.dropped == [number for number, _ in segments]
        assert compaction.segment is not None
        assert compaction.segment[0] > compaction.dropped[-1]
        assert compaction.header == [compaction.segment[0]]
    assert segment_numbers([1, 5, 9]) == [1, 5, 9]
    for header in [
        "1,2",
        {"a": 1},
        [1, 1],
        [2, 1],
        [-1],
        [True],
        [1.0],
        ["1"],
        [2**53],
        list(range(MAX_SEGMENTS + 1)),
    ]:
        assert segment_numbers(header) is None, header


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.randoms(use_true_random=False), st.integers(1, 300), st.integers(2, 60))
def test_a_long_history_always_reloads_as_memory_holds_it(
    random: Random, max_keys: int, names: int
) -> None:
    """Hundreds of records, names reused (a record recorded again), beside entries or in
    slots, reactivations now and then: what is stored always reads back as memory, in at most
    `MAX_SEGMENTS` segments and little more than the live entries."""
    index, store = RequestIndex(), Store()
    for at in range(1, 700):
        if random.random() < 0.02:
            index = store.reloaded(max_keys)
        n = random.randrange(names * 10)
        seq = at if random.random() < 0.9 else 0
        placement = index.record(rid(n), at, 1, 0, max_keys, 10**6, seq=seq)
        store.apply(placement, rid(n), at=at)
        assert len(store.header or []) <= MAX_SEGMENTS
        stored = sum(len(text) for text in store.segments.values()) // ENTRY_LENGTH
        assert stored <= len(index) + MAX_SEGMENTS * (TAIL_ENTRIES + 1)
    assert store.reloaded(max_keys).entries() == index.entries()
    assert all(store.holds(e) for e in index.entries())
