"""How one object lies in Dapr actor state, and the one transaction that changes it.

Keys: `policy` (the JWS), `data`, `meta` (counters, lineage head, status), `outbox` (effects
not yet delivered), `provenance` (every policy version the object ran under and the public keys
of the hosts that signed its entries: what replaying its history needs; written only when an
install or import adds to it), one `lineage-<seq>` key per lineage entry, so that appending
costs the same however long the history is, and the idempotency records: each in the stored
value of the lineage entry its turn wrote (`[entry, record]`), else in `request-slot-<n>`,
and their index: the segments `request-index-<n>`, listed by `request-index`, and the newest
part, which rides in `meta` (actors._request_index).
Everything a turn changes is staged, then saved in one Dapr state transaction by `commit()`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from dapr.actor.runtime.state_change import StateChangeKind
from dapr.actor.runtime.state_manager import ActorStateManager, StateMetadata

from ._calls import send_transaction
from ._errors import ObjectUnavailableError
from ._meta import Meta, StoredObject
from ._request_entries import SLOTS, Entry
from ._request_index import (
    Compaction,
    Placement,
    RequestIndex,
    record_name,
    segment_numbers,
)
from ._request_records import entry_of, name_beside, record_beside
from ._request_tail import tail_seqs
from ._turnlock import fenced

POLICY_KEY = "policy"
DATA_KEY = "data"
META_KEY = "meta"
OUTBOX_KEY = "outbox"
PROVENANCE_KEY = "provenance"
REQUEST_INDEX_KEY = "request-index"


def request_key(slot: int) -> str:
    """The idempotency record in `slot` (actors._request_index)."""
    return f"request-slot-{slot}"


def segment_key(number: int) -> str:
    """A segment of the idempotency records' index (actors._request_index)."""
    return f"{REQUEST_INDEX_KEY}-{number}"


def lineage_key(seq: int) -> str:
    """Zero-padded so the keys also sort in seq order in a store browser."""
    return f"lineage-{seq:010d}"


@dataclass(slots=True)
class _IndexMemo:
    """The parsed index of the idempotency records, and the stored header, tail and bound
    it was read with; changed in place with the index (a keyed turn only sets `tail`)."""

    header: object
    tail: str
    bound: int
    index: RequestIndex


class ObjectStore:
    """Typed access to one object's keys through the SDK's per-actor state manager."""

    def __init__(self, state: ActorStateManager[Any], *, object_id: str = "") -> None:
        self._state = state
        self._object_id = object_id
        self._written_entries: list[str] = []
        # The lineage entries this turn staged, by seq (a keyed turn's record rides in one).
        self._staged_entries: dict[int, dict[str, Any]] = {}
        # The meta value this turn staged (a fresh dict): a keyed turn sets its index tail in it.
        self._staged_meta: dict[str, Any] | None = None
        # (stored header, stored tail, bound, parsed index) of the idempotency records.
        self._index_memo: _IndexMemo | None = None

    async def load(self) -> StoredObject | None:
        """The object, or None when no policy was ever installed."""
        found, jws = await self._state.try_get_state(POLICY_KEY)
        if not found:
            return None
        (_, data), (_, meta), (_, outbox) = await asyncio.gather(
            self._state.try_get_state(DATA_KEY),
            self._state.try_get_state(META_KEY),
            self._state.try_get_state(OUTBOX_KEY),
        )
        return StoredObject(
            policy_jws=str(jws),
            data=dict(data or {}),
            meta=Meta.from_json(meta or {}),
            outbox=list(outbox or []),
        )

    async def stage(
        self,
        *,
        meta: Meta,
        policy_jws: str | None = None,
        data: dict[str, Any] | None = None,
        entries: list[dict[str, Any]] | tuple[()] = (),
        outbox: list[dict[str, Any]] | None = None,
    ) -> None:
        """Record changes in the turn's pending set; nothing reaches the store before commit."""
        if policy_jws is not None:
            await self._state.set_state(POLICY_KEY, policy_jws)
        if data is not None:
            await self._state.set_state(DATA_KEY, data)
        for entry in entries:
            seq = int(entry["seq"])
            key = lineage_key(seq)
            await self._state.set_state(key, entry)
            self._written_entries.append(key)
            self._staged_entries[seq] = entry
        if outbox is not None:
            await self._state.set_state(OUTBOX_KEY, outbox)
        self._staged_meta = meta.to_json()
        await self._state.set_state(META_KEY, self._staged_meta)

    async def commit(self) -> None:
        """Save everything staged in one Dapr state transaction (all or nothing); refused
        when the sidecar deactivated the object during this turn (it lives elsewhere now) or
        stopped waiting for the call this turn serves (actors._calls)."""
        if fenced(self._object_id):
            raise ObjectUnavailableError(
                "the object moved to another replica during this turn; retry"
            )
        await send_transaction(self._state.save_state)
        self._forget(self._written_entries)
        self._written_entries = []
        self._staged_entries = {}
        self._staged_meta = None

    async def provenance(self) -> dict[str, Any]:
        """{"policies": [jws, ...], "hosts": {kid: jwk}}; empty lists for an older object."""
        found, value = await self._state.try_get_state(PROVENANCE_KEY)
        self._forget([PROVENANCE_KEY])  # rarely read, possibly large: not kept in the cache
        raw = value if found and isinstance(value, dict) else {}
        policies, hosts = raw.get("policies"), raw.get("hosts")
        return {
            "policies": list(policies) if isinstance(policies, list) else [],
            "hosts": dict(hosts) if isinstance(hosts, dict) else {},
        }

    async def stage_provenance(self, provenance: dict[str, Any]) -> None:
        await self._state.set_state(PROVENANCE_KEY, provenance)
        self._written_entries.append(PROVENANCE_KEY)

    # --- idempotency records (actors._requests) -------------------------------------------

    def cached_request_index(self, tail: str, *, max_keys: int) -> RequestIndex | None:
        """The index kept from an earlier turn of this activation, when `tail` (the loaded
        meta's) is the one it was kept with; else None (read it: `request_index`). Every
        change of the stored index goes through this store, which updates or drops what it
        keeps, and a failed turn drops it (`discard`)."""
        memo = self._index_memo
        if memo is None or memo.bound != max_keys or memo.tail != tail:
            return None
        return memo.index

    async def request_index(self, *, max_keys: int) -> RequestIndex:
        """The index of the remembered requests (actors._request_index): the segments the
        stored header lists (or an older format's single base) followed by the tail kept in
        meta, its newest `max_keys`. Parsed once per stored header and tail, then changed in
        place by the turns that record (the SDK's cache hands back the values they wrote)."""
        _, header = await self._state.try_get_state(REQUEST_INDEX_KEY)
        # Kept only in the memo: the SDK walks every cached key at every save.
        self._forget([REQUEST_INDEX_KEY])
        _, meta = await self._state.try_get_state(META_KEY)
        tail = meta.get("requests_tail", "") if isinstance(meta, dict) else ""
        memo = self._index_memo
        if memo is None or memo.header != header or memo.tail != tail or memo.bound != max_keys:
            numbers = segment_numbers(header) or []
            keys = [segment_key(number) for number in numbers]
            texts, beside = await asyncio.gather(
                asyncio.gather(*(self._state.try_get_state(key) for key in keys)),
                self._records_beside(tail_seqs(tail)),
            )
            self._forget(keys)  # parsed once an activation: kept only as the parsed index
            index = RequestIndex.from_state(
                None if numbers else header,
                tail,
                max_keys=max_keys,
                segments=[(n, text) for n, (_, text) in zip(numbers, texts, strict=True)],
                beside=beside,
            )
            memo = self._index_memo = _IndexMemo(header, tail, max_keys, index)
        return memo.index

    async def _records_beside(self, seqs: list[int]) -> dict[int, tuple[str, int]]:
        """{seq: (record id, time)} of the records riding in lineage entries `seqs` (those the
        index's tail names), read concurrently; an entry without a well-formed record is
        left out."""
        keys = [lineage_key(seq) for seq in seqs]
        values = await asyncio.gather(*(self._state.try_get_state(key) for key in keys))
        self._forget(keys)
        found = {}
        for seq, (_, value) in zip(seqs, values, strict=True):
            named = record_name(name_beside(value))
            if named is not None:
                found[seq] = named
        return found

    def staged_entry(self, seq: int) -> dict[str, Any] | None:
        """Lineage entry `seq`, when this turn staged it (a record can ride in its value)."""
        return self._staged_entries.get(seq)

    async def request_record(self, entry: Entry) -> dict[str, Any] | None:
        """The record `entry` indexes: in its lineage entry's stored value, else its slot."""
        key = lineage_key(entry.seq) if entry.seq else request_key(entry.slot)
        found, value = await self._state.try_get_state(key)
        self._forget([key])
        if entry.seq:
            value = record_beside(value)
        return dict(value) if found and isinstance(value, dict) else None

    def stage_beside(
        self, placement: Placement, entry: dict[str, Any], stored: object, meta: Meta
    ) -> bool:
        """Stage a record beside the lineage entry this turn staged (`stored`: its stored
        form) and the tail in `meta`, in the pending values this turn staged, when nothing
        else changes: no record freed, no compaction. False, with nothing staged, otherwise
        (`stage_request_record` then). Most keyed commands are staged here, without a call
        into the SDK."""
        staged_meta = self._staged_meta
        if placement.freed or placement.compaction is not None or staged_meta is None:
            return False
        if not self._replaced_pending(lineage_key(placement.seq), entry, [entry, stored]):
            return False
        self._keep_tail(placement.tail, meta)
        return True

    def _keep_tail(self, tail: str, meta: Meta) -> bool:
        """Set the index's new `tail` in `meta`, in the meta value this turn staged and in
        the kept index's memo (the index itself was changed in place); False when this turn
        staged no meta value (stage it then)."""
        meta.requests_tail = tail
        memo = self._index_memo
        if memo is not None:
            memo.tail = tail
        if self._staged_meta is None:
            return False
        self._staged_meta["requests_tail"] = tail
        return True

    async def stage_request_record(self, placement: Placement, record: object, meta: Meta) -> None:
        """Stage one record where `placement` puts it (the index already holds it): beside
        the lineage entry this turn staged (`record`: its stored form there), else in its
        slot; the records it frees, the compaction if any, and the tail in `meta`. A slot's
        record is written once and read only on a retry: dropped from the SDK's cache after
        commit."""
        slot, seq, freed, compaction, tail = placement
        if seq:
            entry = self._staged_entries[seq]
            key, wrapper = lineage_key(seq), [entry, record]
            if not self._replaced_pending(key, entry, wrapper):
                await self._state.set_state(key, wrapper)
        else:
            await self._state.set_state(request_key(slot), record)
            self._written_entries.append(request_key(slot))
        if freed:
            await self._forget_records(freed)
        if not self._keep_tail(tail, meta):
            await self._state.set_state(META_KEY, meta.to_json())
        if compaction is not None:
            header = await self._stage_compaction(compaction)
            if self._index_memo is not None:
                self._index_memo.header = header

    def _replaced_pending(self, key: str, staged: object, value: object) -> bool:
        """Whether `value` took the place of `staged`, the value this turn staged for `key`,
        in its pending change: that spares a keyed command the SDK's `set_state` (a hundred
        bytecodes). False when the SDK tracks this turn's changes elsewhere, or the pending
        change is not the one this turn staged: `set_state` it then."""
        tracker = getattr(self._state, "_default_state_change_tracker", None)
        pending = tracker.get(key) if isinstance(tracker, dict) else None
        if isinstance(pending, StateMetadata) and pending.value is staged:
            pending.value = value
            return True
        return False

    async def _stage_compaction(self, compaction: Compaction) -> list[int]:
        """Stage a compaction's new segment (written once, read by the next activation:
        dropped from the SDK's cache after commit), its header (kept in the memo) and its
        deletions; the staged header."""
        if compaction.segment is not None:
            number, text = compaction.segment
            await self._state.set_state(segment_key(number), text)
            self._written_entries.append(segment_key(number))
        for number in compaction.dropped:
            await self._state.set_state(segment_key(number), None)
            await self._state.try_remove_state(segment_key(number))
        header = compaction.header
        await self._state.set_state(REQUEST_INDEX_KEY, header)
        self._written_entries.append(REQUEST_INDEX_KEY)  # kept in the memo, not the SDK's cache
        return header

    async def replace_request_records(
        self, index: RequestIndex, records: dict[int, dict[str, Any]], meta: Meta
    ) -> None:
        """Stage a whole new table (an import): `records` by slot as `index` lists them; the
        records of the old table that no slot reuses are deleted. `meta` is staged later."""
        previous = await self.request_index(max_keys=SLOTS)
        stale = (e.slot for e in previous.entries() if e.in_slot and e.slot not in records)
        await self._forget_records(stale)
        for slot, record in records.items():
            await self._state.set_state(request_key(slot), record)
            self._written_entries.append(request_key(slot))
        index.segments, index.next_segment = list(previous.segments), previous.next_segment
        await self._stage_compaction(index.compact(whole=True))
        meta.requests_tail = ""
        self._index_memo = None  # the tail reaches the store with `meta`, staged later

    async def _forget_records(self, slots: Iterable[int]) -> None:
        """Delete records without reading them first: a staged upsert, then its removal, is
        one delete in the transaction (the SDK reads a key's existence before a bare remove)."""
        for slot in slots:
            await self._state.set_state(request_key(slot), None)
            await self._state.try_remove_state(request_key(slot))

    async def discard(self) -> None:
        """Forget staged and cached values after a failed turn.

        The SDK clears its cache only on DaprInternalError; after any other exception the dirty
        values would otherwise be saved by the next successful turn.
        """
        self._written_entries = []
        self._staged_entries = {}
        self._staged_meta = None
        self._index_memo = None
        await self._state.clear_cache()

    async def read_entries(self, first: int, last: int) -> list[dict[str, Any]]:
        """Lineage entries first..last (inclusive), read concurrently; one stored with an
        idempotency record is unwrapped (`entry_of`)."""
        if last < first:
            return []
        keys = [lineage_key(seq) for seq in range(first, last + 1)]
        results = await asyncio.gather(*(self._state.try_get_state(key) for key in keys))
        self._forget(keys)
        entries = (entry_of(value) for found, value in results if found)
        return [dict(entry) for entry in entries if isinstance(entry, dict)]

    def _forget(self, keys: list[str]) -> None:
        """Drop saved lineage entries from the SDK's per-activation cache.

        The SDK keeps every key an actor read or wrote until the actor deactivates; an object
        that is never idle would hold its whole history in memory. Only clean entries are
        dropped (the SDK has no public call for one key; `clear_cache` would drop the hot keys
        too). Entries are immutable once written, so nothing can be lost by re-reading them.
        """
        tracker = getattr(self._state, "_default_state_change_tracker", None)
        if not isinstance(tracker, dict):
            return
        for key in keys:
            cached = tracker.get(key)
            if cached is not None and cached.change_kind == StateChangeKind.none:
                del tracker[key]
