"""How the newest part of the idempotency records' index is written: the tail that rides in
`Meta.requests_tail` (actors._request_index), oldest first, comma-separated.

An item is a whole entry's text (a record in a slot), or the lineage seqs whose entries hold
records, in hex, a run of consecutive ones as `<first>-<last>`: each such record says the rest
and is read back when an activation first needs the index. Meta is written by every turn, so
the tail is kept short: keyed commands in a row only move the end of one run. Anything
malformed reads as no items.
"""

from __future__ import annotations

from ._request_entries import ENTRY_LENGTH, is_hex

SEQ_FORMAT, RUN_FORMAT = "%x", "%s%x-%x"  # a tail's seq; a tail up to its last run, and that run

# Records the tail names before it is compacted into a segment (once per 65 records beside
# their entries: a segment of 3 KB), and the most characters it may take (32 whole entries:
# slots' records, which evaluates and imports make, are compacted sooner).
TAIL_ENTRIES = 64
TAIL_CHARS = 32 * (ENTRY_LENGTH + 1)
SEQ_ITEM = 12  # the most hex digits of a seq in a tail


Run = tuple[int, int]  # (first, last) lineage seqs of records beside consecutive entries


def _seq(text: str) -> int:
    """A seq of a tail item, or 0 when it is not one (no lineage entry has seq 0)."""
    return int(text, 16) if 0 < len(text) <= SEQ_ITEM and "-" not in text else 0


def _run(item: str) -> Run | None:
    """The seqs a tail item names: `<seq>` or `<first>-<last>` (hex, first < last)."""
    first, dash, last = item.partition("-")
    start = _seq(first)
    end = _seq(last) if dash else start
    return (start, end) if 0 < start <= end and (start < end or not dash) else None


def tail_items(tail: object) -> list[str | Run]:
    """The items of a stored tail, oldest first: a whole entry's text, or the run of lineage
    seqs whose entries hold records; none when it is not a tail this host writes (one that
    names more than `TAIL_ENTRIES` records included: each costs an activation a read)."""
    if not isinstance(tail, str) or not tail or len(tail) > TAIL_CHARS:
        return []
    if not is_hex(tail.replace(",", "").replace("-", "")):
        return []
    items: list[str | Run] = []
    named = 0
    for item in tail.split(","):
        if len(item) == ENTRY_LENGTH and "-" not in item:
            items.append(item)
            named += 1
            continue
        run = _run(item)
        if run is None:
            return []
        items.append(run)
        named += run[1] - run[0] + 1
    return items if named <= TAIL_ENTRIES else []


def tail_records(items: list[str | Run]) -> int:
    """How many records the items of a tail name."""
    return sum(1 if isinstance(item, str) else item[1] - item[0] + 1 for item in items)


def tail_seqs(tail: object) -> list[int]:
    """The lineage entries whose records a stored tail names by seq alone."""
    return [
        seq
        for item in tail_items(tail)
        if not isinstance(item, str)
        for seq in range(item[0], item[1] + 1)
    ]
