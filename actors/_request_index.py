"""The index of an object's idempotency records: which exist, when each was made, where it lies.

A record rides in the stored value of the lineage entry its turn wrote (`seq`), so recording
a command's key adds no state operation. A turn that wrote no entry (an `evaluate` that
changed nothing) and an import keep records in a ring of numbered slots
(`request-slot-<n>`): a new one takes its own earlier slot, the slot of the oldest record when
that one is dropped for it, or the lowest free one. The index is stored in parts:

- segments (`request-index-<n>`), each the entries added between two compactions, written
  once and deleted when none of its entries is live any more; the header (`request-index`)
  lists the live ones, oldest first (at most `MAX_SEGMENTS`);
- the tail (`Meta.requests_tail`), what was added since, oldest first, comma-separated: for
  records beside lineage entries only those entries' seqs, in hex, a run of consecutive ones
  as `<first>-<last>` (each record says the rest, and is read back when an activation first
  needs the index), else the whole entry. Meta is written by every turn, so the tail is kept
  short: keyed commands in a row only move the end of one run (actors._request_tail).

Reading replays the segments, then the tail (an entry replaces an older one of its id or its
slot), and keeps the newest `max_keys`, which is how the stored parts say that the oldest
record was dropped for a new one. The object compacts once the tail names `TAIL_ENTRIES`
records (or holds `TAIL_CHARS` characters), and at the first record after an activation read
`RELOAD_COMPACTS` or more records back from lineage (so an object that takes few keyed
commands per activation does not read many). A compaction writes what the tail named as a
new segment (about 3 KB), and the header: a full table of 256 records rewrote all 12 KB of a
single index once per 65 records, a fifth of a keyed command's added cost. When a record must
go without a successor (expired, or beyond a bound), the index was stored in an older format
(one string at `request-index`), or `MAX_SEGMENTS` are live, it is written whole as one
segment instead, and every other deleted. Entries are fixed-width hex
(actors._request_entries). Anything malformed reads as no records (never an error): the store
is only as trusted as the apps sharing the sidecar.

The parsed index is kept for the activation and changed in place by the turn that records
(actors._state): a keyed command's bookkeeping is a dictionary lookup and an append.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import NamedTuple

from ._request_entries import (
    ENTRY_LENGTH,
    RID_LENGTH,
    SLOTS,
    TIME_LENGTH,
    Entry,
    new_tuple,
    parse_entries,
)
from ._request_tail import (
    RUN_FORMAT,
    SEQ_FORMAT,
    TAIL_CHARS,
    TAIL_ENTRIES,
    Run,
    tail_items,
    tail_records,
)

# Records read back from lineage by an activation from which its first record compacts.
RELOAD_COMPACTS = 8
# Live segments from which a compaction writes the index whole (an activation reads them all).
MAX_SEGMENTS = 8
SEGMENT_NUMBERS = 2**53  # segment numbers stay below this (exact in any JSON decoder)


def record_id(iss: str, sub: str, key: str) -> str:
    """A record's name: unambiguous whatever the issuer and subject hold (each is prefixed
    with its length; the key is the rest)."""
    framed = f"{len(iss)}:{iss}{len(sub)}:{sub}{key}"
    return hashlib.sha256(framed.encode("utf-8", "surrogatepass")).hexdigest()[:RID_LENGTH]


def record_name(record: object) -> tuple[str, int] | None:
    """(record id, time) of a record read back from beside its lineage entry, or None when
    it is not one a turn of this host wrote."""
    if not isinstance(record, dict):
        return None
    iss, sub, key, at = (record.get(f) for f in ("iss", "sub", "key", "at"))
    if not (isinstance(iss, str) and isinstance(sub, str) and isinstance(key, str)):
        return None
    if not isinstance(at, int) or isinstance(at, bool) or not 0 <= at < 16**TIME_LENGTH:
        return None
    return record_id(iss, sub, key), at


def segment_numbers(header: object) -> list[int] | None:
    """The segments a stored header lists, oldest first; None when it is not a header this
    host writes (strictly increasing numbers, at most `MAX_SEGMENTS`)."""
    if not isinstance(header, list) or len(header) > MAX_SEGMENTS:
        return None
    previous = -1
    for number in header:
        if type(number) is not int or not previous < number < SEGMENT_NUMBERS:
            return None
        previous = number
    return header


class Compaction(NamedTuple):
    """What a compaction writes: the new segment (number, text), if it has entries; the new
    header; the segments to delete."""

    segment: tuple[int, str] | None
    header: list[int]
    dropped: list[int]


class Placement(NamedTuple):
    """What recording one entry changes in the store: where its record goes (the lineage
    entry `seq`, else `slot`), the slots whose records are dropped without a successor, the
    compaction if there is one (None: the segments are kept) and the tail."""

    slot: int
    seq: int
    freed: list[int]
    compaction: Compaction | None
    tail: str


@dataclass(slots=True)
class RequestIndex:
    """Which records exist, oldest first, which slot each is in, and which stored segment
    holds its entry (none yet: the tail names it)."""

    _by_rid: OrderedDict[str, Entry] = field(default_factory=OrderedDict)
    _by_slot: dict[int, str] = field(default_factory=dict)
    # Where the live entries are: segment by record id, live entries by segment, and how many
    # are in none yet (the newest: the tail names them). Kept as entries come and go, so a
    # compaction does not walk the index.
    _segment_of: dict[str, int] = field(default_factory=dict)
    _live: dict[int, int] = field(default_factory=dict)
    _unsegmented: int = 0
    segments: list[int] = field(default_factory=list)  # as the stored header lists them
    next_segment: int = 0
    legacy: bool = False  # read from an older format's single base: the next compaction is whole
    total: int = 0  # bytes of the recorded outcomes
    tail: str = ""
    tail_records: int = 0  # how many records the tail names
    tail_run: Run | None = None  # the seqs the tail's last item names, if it names seqs
    compact_next: bool = False  # the next record compacts (see RELOAD_COMPACTS)

    @classmethod
    def from_state(
        cls,
        base: object,
        tail: object,
        *,
        max_keys: int,
        segments: Sequence[tuple[int, object]] = (),
        beside: Mapping[int, tuple[str, int]] | None = None,
    ) -> RequestIndex:
        """The index stored as `segments` ((number, text) as the header lists them) and `tail`,
        or in the older format as `base` and `tail` (any may be absent or malformed), its
        newest `max_keys` entries: a record appended to a full index dropped the oldest.
        `beside`: (record id, time) of the records the tail names by lineage seq, as read back
        from lineage; a seq missing from it names no record."""
        index = cls()
        for entry in parse_entries(base, most=SLOTS):
            index._put(entry)
            index.legacy = True
        if segments:  # listed, read or not: a compaction deletes those left without entries
            index.segments = [number for number, _ in segments]
            index.next_segment = index.segments[-1] + 1
        stored = sum(len(text) for _, text in segments if isinstance(text, str))
        if stored > 2 * SLOTS * ENTRY_LENGTH:  # more than compactions leave: not ours
            segments = ()
        for number, text in segments:
            for entry in parse_entries(text, most=SLOTS):
                index._put(entry, number)
        items, beside, read_back = tail_items(tail), beside or {}, 0
        for item in items:
            if isinstance(item, str):
                index._put(next(parse_entries(item, most=1)))
                continue
            for seq in range(item[0], item[1] + 1):
                read_back += 1
                if (found := beside.get(seq)) is not None:
                    index._put(Entry.make(found[0], found[1], 0, 0, seq))
        if items:  # then `tail` is the text they came from
            index.tail, index.tail_records = str(tail), tail_records(items)
            index.tail_run = None if isinstance(items[-1], str) else items[-1]
        index.compact_next = read_back >= RELOAD_COMPACTS
        while len(index._by_rid) > min(max_keys, SLOTS):
            index._drop(next(iter(index._by_rid.values())))
        return index

    def __len__(self) -> int:
        return len(self._by_rid)

    def entries(self) -> list[Entry]:
        return list(self._by_rid.values())

    def find(self, rid: str) -> Entry | None:
        return self._by_rid.get(rid)

    def _put(self, entry: Entry, segment: int | None = None) -> None:
        """Add `entry` (stored in `segment`, if in one) last, replacing an entry of its id and
        the one in its slot."""
        same_id = self._by_rid.get(entry.rid)
        if same_id is not None:
            self._drop(same_id)
        if entry.in_slot:
            same_slot = self._by_slot.get(entry.slot)
            if same_slot is not None and same_slot in self._by_rid:
                self._drop(self._by_rid[same_slot])
            self._by_slot[entry.slot] = entry.rid
        self._by_rid[entry.rid] = entry
        self.total += entry.size
        if segment is None:
            self._unsegmented += 1
        else:
            self._segment_of[entry.rid] = segment
            self._live[segment] = self._live.get(segment, 0) + 1

    def _drop(self, entry: Entry) -> None:
        del self._by_rid[entry.rid]
        if entry.in_slot and self._by_slot.get(entry.slot) == entry.rid:
            del self._by_slot[entry.slot]
        self.total -= entry.size
        self._left_segment(entry.rid)

    def _left_segment(self, rid: str) -> None:
        """Count out the entry of `rid`, which left the index."""
        segment = self._segment_of.pop(rid, None)
        if segment is None:
            self._unsegmented -= 1
        else:
            self._live[segment] -= 1

    def _take_slot(self, rid: str, slot: int) -> int:
        """The slot a new record of `rid` goes to: `slot` (freed for it), else the next in
        order until one is freed, else the lowest free one."""
        by_slot = self._by_slot
        if slot < 0:
            slot = len(by_slot)  # slots fill in order until one is freed
            if slot in by_slot:
                slot = next(s for s in range(SLOTS) if s not in by_slot)
        by_slot[slot] = rid
        return slot

    def record(
        self,
        rid: str,
        at: int,
        size: int,
        horizon: int,
        max_keys: int,
        max_bytes: int,
        seq: int = 0,
    ) -> Placement:
        """Add the record of `rid` made at `at` (the newest), changing this index in place,
        and say what the store must write. It rides in lineage entry `seq`, or (seq 0) goes to
        a slot: its own earlier one, else the one of the oldest record when that is dropped
        for it (the index holds `max_keys`), else the lowest free one. Usually only the tail
        grows; past a bound, or with a full tail, the index compacts: the expired (made
        before `horizon`) go, then the oldest beyond `max_keys` records or `max_bytes` of
        slots' records (the newest always stays), and a segment is written (`compact`).
        Written flat: it runs in every keyed turn."""
        by_rid, by_slot, max_keys = self._by_rid, self._by_slot, min(max_keys, SLOTS)
        old = by_rid.pop(rid, None)
        if old is None and len(by_rid) >= max_keys:
            old = by_rid.popitem(last=False)[1]
        freed: list[int] = []
        slot = -1
        if old is not None:
            self._left_segment(old.rid)
            self.total -= old.size
            if not old.seq and by_slot.get(old.slot) == old.rid:  # it was in a slot
                del by_slot[old.slot]
                if seq:
                    freed.append(old.slot)
                else:
                    slot = old.slot
        if seq:
            slot = size = 0
        else:
            slot = self._take_slot(rid, slot)
        new = by_rid[rid] = Entry.make(rid, at, size, slot, seq)
        self.total += new.size
        self._unsegmented += 1
        if (
            self.tail_records < TAIL_ENTRIES
            and len(self.tail) < TAIL_CHARS - ENTRY_LENGTH
            and len(by_rid) <= max_keys
            and self.total <= max_bytes
            and not self.compact_next
        ):
            run, tail = self.tail_run, self.tail
            if seq and run is not None and run[1] == seq - 1:  # the run goes on: its end moves
                self.tail_run = (run[0], seq)
                self.tail = RUN_FORMAT % (tail[: tail.rfind(",") + 1], run[0], seq)
            else:
                item = SEQ_FORMAT % seq if seq else new.text
                self.tail_run = (seq, seq) if seq else None
                self.tail = f"{tail},{item}" if tail else item
            self.tail_records += 1
            placement: Placement = new_tuple(Placement, (slot, seq, freed, None, self.tail))
            return placement
        dropped = False
        for entry in list(by_rid.values())[:-1]:
            if entry.at >= horizon and len(by_rid) <= max_keys and self.total <= max_bytes:
                break
            self._drop(entry)
            dropped = True
            if entry.in_slot:
                freed.append(entry.slot)
        return Placement(slot, seq, freed, self.compact(whole=dropped), "")

    def compact(self, *, whole: bool = False) -> Compaction:
        """Store what the tail named as a new segment, and delete the segments that hold no
        live entry; or (`whole`: a record went without a successor, which the stored
        segments cannot say) write every entry as one segment and delete all the others.
        The tail is emptied."""
        self.tail, self.tail_records, self.tail_run, self.compact_next = "", 0, None, False
        whole = whole or self.legacy or len(self.segments) >= MAX_SEGMENTS
        if whole:
            new = list(self._by_rid.values())
            self._segment_of, self._live = {}, {}
        else:  # the newest, which the tail named
            new = list(islice(reversed(self._by_rid.values()), self._unsegmented))
            new.reverse()
        number, live = self.next_segment, self._live
        if new:
            self.next_segment += 1
            self._segment_of.update(dict.fromkeys([entry.rid for entry in new], number))
            live[number] = len(new)
        self._unsegmented, self.legacy = 0, False
        dropped = [n for n in self.segments if not live.get(n)]
        for n in dropped:
            live.pop(n, None)
        self.segments = [n for n in self.segments if live.get(n)] + ([number] if new else [])
        text = "".join([entry.text for entry in new])
        return Compaction((number, text) if new else None, list(self.segments), dropped)
