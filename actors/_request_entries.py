"""How one entry of the idempotency records' index is written: fixed-width hex, so an index
is a string of entries parsed by position (actors._request_index).

An entry is `<record id: 16 hex><time: 11 hex ms since epoch><outcome bytes: 6 hex><slot: 3
hex><lineage seq: 12 hex, 0 for a slot>`; every character counts, as the text is JSON-escaped
three times on its way to the store.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

# A record's time: whole milliseconds since the epoch (exact, unlike a float timestamp).
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MILLISECOND = timedelta(milliseconds=1)
RID_LENGTH = 16
TIME_LENGTH = 11
SIZE_LENGTH = 6
SLOT_LENGTH = 3
SEQ_LENGTH = 12
ENTRY_LENGTH = RID_LENGTH + TIME_LENGTH + SIZE_LENGTH + SLOT_LENGTH + SEQ_LENGTH
MAX_SIZE = 16**SIZE_LENGTH - 1  # a larger outcome is counted as this (the byte bound still holds)
SLOTS = 16**SLOT_LENGTH  # the most records an object can be told to keep


def is_hex(text: str) -> bool:
    """Only lowercase hex digits. `bytes.translate` runs at memory speed; a regex or
    `str.isalnum` over a 256-entry index cost 0.1-0.3 ms a turn."""
    try:
        raw = text.encode("ascii")
    except UnicodeEncodeError:
        return False
    return not raw.translate(None, b"0123456789abcdef")


# %-formatting is twice as fast as the f-string (every keyed command formats one entry).
ENTRY_FORMAT = "%s%011x%06x%03x%012x"
# An entry with no size nor slot, as a record beside its lineage entry's is: the same text
# (each int formatted costs).
BESIDE_FORMAT = "%s%011x" + "0" * (SIZE_LENGTH + SLOT_LENGTH) + "%012x"
# A NamedTuple's own `__new__` is a Python function: `tuple.__new__` makes the same tuple
# without that frame (every keyed command makes an entry and a placement).
new_tuple: Any = tuple.__new__


class Entry(NamedTuple):
    rid: str
    at: int  # milliseconds since the epoch
    size: int  # bytes of a slot's record, at most MAX_SIZE (0 in lineage: never freed)
    slot: int  # where the record is when `seq` is 0
    seq: int  # the lineage entry whose stored value holds the record, else 0
    text: str  # as stored: a rewritten base joins these (formatting them anew cost 17 µs)

    @classmethod
    def make(cls, rid: str, at: int, size: int, slot: int, seq: int = 0) -> Entry:
        size = min(size, MAX_SIZE)
        if size or slot:
            text = ENTRY_FORMAT % (rid, at, size, slot, seq)
        else:  # as a record beside its lineage entry's is
            text = BESIDE_FORMAT % (rid, at, seq)
        entry: Entry = new_tuple(cls, (rid, at, size, slot, seq, text))
        return entry

    @property
    def in_slot(self) -> bool:
        return not self.seq


def parse_entries(text: object, *, most: int) -> Iterator[Entry]:
    """The entries of a stored base or tail of at most `most` entries; none when it is not
    one (a longer one was not written by us, and its parsing would cost every activation)."""
    if not isinstance(text, str) or len(text) % ENTRY_LENGTH or len(text) > most * ENTRY_LENGTH:
        return
    if not is_hex(text):
        return
    for start in range(0, len(text), ENTRY_LENGTH):
        at = start + RID_LENGTH
        size = at + TIME_LENGTH
        slot = size + SIZE_LENGTH
        seq = slot + SLOT_LENGTH
        end = start + ENTRY_LENGTH
        yield Entry(
            text[start:at],
            int(text[at:size], 16),
            int(text[size:slot], 16),
            int(text[slot:seq], 16),
            int(text[seq:end], 16),
            text[start:end],
        )
