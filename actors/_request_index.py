"""The index of an object's idempotency records, kept as one fixed-width text.

Every keyed turn rewrites the index (one entry added, the oldest dropped), so its cost is paid
on every keyed command. As a JSON object of 256 entries it took 0.4 ms to serialize for the
state store, about a third of an unkeyed command's whole CPU; as text it is one string to
copy. Entries are `<record id: 16 hex><time: 11 hex ms since epoch><outcome bytes: 6 hex>`,
oldest first, after a 12-hex total of the outcomes' bytes; a lookup is a substring search.
(Every character counts: the text is JSON-escaped three times on its way to the store.)
"""

from __future__ import annotations

from dataclasses import dataclass

RID_LENGTH = 16
TIME_LENGTH = 11
SIZE_LENGTH = 6
ENTRY_LENGTH = RID_LENGTH + TIME_LENGTH + SIZE_LENGTH
MAX_SIZE = 16**SIZE_LENGTH - 1  # a larger outcome is counted as this (the byte bound still holds)
HEADER_LENGTH = 12


def _is_hex(text: str) -> bool:
    """Only lowercase hex digits. `bytes.translate` runs at memory speed; a regex or
    `str.isalnum` over a 256-entry index cost 0.1-0.3 ms a turn."""
    try:
        raw = text.encode("ascii")
    except UnicodeEncodeError:
        return False
    return not raw.translate(None, b"0123456789abcdef")


@dataclass(frozen=True, slots=True)
class Entry:
    rid: str
    at: int  # milliseconds since the epoch
    size: int  # bytes of the recorded outcome's JSON


def _entry(text: str, start: int) -> Entry:
    at = start + RID_LENGTH
    size = at + TIME_LENGTH
    return Entry(text[start:at], int(text[at:size], 16), int(text[size : start + ENTRY_LENGTH], 16))


def _text(entry: Entry) -> str:
    return f"{entry.rid}{entry.at:011x}{min(entry.size, MAX_SIZE):06x}"


@dataclass(frozen=True, slots=True)
class RequestIndex:
    """Which records exist, when each was made and how large it is; oldest first."""

    total: int = 0
    text: str = ""

    @classmethod
    def from_state(cls, value: object) -> RequestIndex:
        """The stored index; empty when absent or of an older format (a JSON object)."""
        if not isinstance(value, str) or len(value) < HEADER_LENGTH:
            return cls()
        if (len(value) - HEADER_LENGTH) % ENTRY_LENGTH or not _is_hex(value):
            return cls()
        return cls(int(value[:HEADER_LENGTH], 16), value[HEADER_LENGTH:])

    def followed_by(self, tail: RequestIndex) -> RequestIndex:
        """This index with `tail`'s entries after its own (the stored base and its tail)."""
        if not tail.text:
            return self
        return RequestIndex(self.total + tail.total, self.text + tail.text)

    def to_state(self) -> str:
        return f"{self.total:012x}{self.text}"

    def __len__(self) -> int:
        return len(self.text) // ENTRY_LENGTH

    def entries(self) -> list[Entry]:
        return [_entry(self.text, i) for i in range(0, len(self.text), ENTRY_LENGTH)]

    def _position(self, rid: str) -> int:
        """Where `rid`'s entry starts, or -1 (a match must start on an entry boundary)."""
        start = self.text.find(rid)
        while start >= 0 and start % ENTRY_LENGTH:
            start = self.text.find(rid, start + 1)
        return start

    def find(self, rid: str) -> Entry | None:
        start = self._position(rid)
        return None if start < 0 else _entry(self.text, start)

    def appended(
        self, new: Entry, *, horizon: int, max_keys: int, max_bytes: int
    ) -> tuple[RequestIndex, list[str]]:
        """This index with `new` last (replacing an entry of its id), and the ids dropped from
        the front: those older than `horizon`, then the oldest beyond `max_keys` entries or
        `max_bytes` of outcomes. Work in proportion to what is dropped."""
        text, total = self.text, self.total
        start = self._position(new.rid)
        if start >= 0:
            total -= _entry(text, start).size
            text = text[:start] + text[start + ENTRY_LENGTH :]
        text, total = text + _text(new), total + min(new.size, MAX_SIZE)
        dropped: list[str] = []
        cut = 0
        while len(text) - cut > ENTRY_LENGTH:
            first = _entry(text, cut)
            over = (len(text) - cut) // ENTRY_LENGTH > max_keys or total > max_bytes
            if not over and first.at >= horizon:
                break
            dropped.append(first.rid)
            total -= first.size
            cut += ENTRY_LENGTH
        return RequestIndex(total, text[cut:]), dropped
