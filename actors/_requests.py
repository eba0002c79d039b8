"""Idempotent requests: the object remembers the outcome of recent keyed requests.

A caller that times out cannot know whether its command was applied; daprd, too, may deliver
one actor call twice (when placement moves an object while a call is in flight it retries the
call on the new host, even when the first attempt had committed). So a command (or `evaluate`)
may carry an idempotency key: the HTTP API's `Idempotency-Key` header, else a fresh id per
call. The turn that applies it records the outcome in the object's state, in the same
transaction, and a repeat returns the first outcome with `replayed: true` and applies nothing.

Records are per caller (issuer, subject) and bound to the request (a digest of what it asked),
so one caller cannot read another's outcome, and a key reused for a different request is
refused (`idempotency_key_reused`). Only applied turns are recorded: a refused command leaves
no record and may be fixed and retried under the same key. Records expire after the host's
window (default 24 h); at most `max_keys` are remembered per object, and `MAX_TABLE_BYTES` of
records kept in slots, the oldest dropped first. They travel in export bundles
(actors._portability).

A record rides in the stored value of the lineage entry its turn wrote, else (an `evaluate`
that changed nothing, an import) in a ring of slots; an index (actors._request_index, kept
parsed for the activation) says which record is where. So a keyed command reads nothing more
than an unkeyed one and writes no more keys: its record (only what the entry does not say,
most often its key alone: actors._request_records) goes beside its entry, the index's tail in
`meta` names that entry's seq (consecutive ones as a run), and once per 65 records the tail is
compacted into a segment of the index. A fresh key's turn computes no fingerprint when its
entry says the request (actors._request_fingerprints).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from ._errors import BadRequestError, ObjectError
from ._request_entries import EPOCH, MILLISECOND, Entry
from ._request_fingerprints import command_fingerprint, evaluate_fingerprint
from ._request_index import Placement, RequestIndex, record_id
from ._request_records import beside_entry, key_alone
from ._serializer import EncodedJSON

if TYPE_CHECKING:
    from ._meta import Meta

MAX_RECORDS = 256
WINDOW = timedelta(hours=24)
MAX_KEY_LENGTH = 128
# Records kept in slots per object, as JSON bytes (the newest record is always kept).
MAX_TABLE_BYTES = 8 * 1024 * 1024
# Letters, digits and `. _ : + / = -`: UUIDs, ULIDs, hex and base64(url) keys all fit; no
# whitespace, quotes or control characters reach the state store or a log line.
KEY_PATTERN = re.compile(rf"[A-Za-z0-9._:+/=\-]{{1,{MAX_KEY_LENGTH}}}")
KEY_RULE = f"1 to {MAX_KEY_LENGTH} letters, digits or `. _ : + / = -`"


class IdempotencyKeyReusedError(ObjectError):
    """The idempotency key was already used by this caller for a different request, within
    the window. Retrying the same request is answered with its first outcome; a different
    request needs a fresh key."""

    code = "idempotency_key_reused"


def is_valid_key(value: object) -> bool:
    return isinstance(value, str) and KEY_PATTERN.fullmatch(value) is not None


def valid_key(value: object, *, field: str = "idempotency_key") -> str:
    """`value` if it is a well-formed idempotency key, else `invalid_request` naming the rule."""
    if not isinstance(value, str) or not is_valid_key(value):
        raise BadRequestError(f"`{field}` must be {KEY_RULE}")
    return value


def key_of(request: Mapping[str, Any]) -> str | None:
    """The request's idempotency key: `idempotency_key`, or its older name `request_id`.
    Checked here without `valid_key`'s frame: every keyed command comes through."""
    key, legacy = request.get("idempotency_key"), request.get("request_id")
    if legacy is not None:
        if key is not None and key != legacy:
            raise BadRequestError("`idempotency_key` and `request_id` differ; send one of them")
        return valid_key(legacy, field="request_id" if key is None else "idempotency_key")
    if key is None or (type(key) is str and KEY_PATTERN.fullmatch(key) is not None):
        return key
    return valid_key(key)


def millis(moment: datetime) -> int:
    """A moment as whole milliseconds since the epoch (exact, unlike a float timestamp)."""
    return (moment - EPOCH) // MILLISECOND


def moment(millis_since_epoch: int) -> datetime:
    """The inverse of `millis`."""
    return EPOCH + millis_since_epoch * MILLISECOND


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def size_of(record: Mapping[str, Any]) -> int:
    """What a record counts against the object's byte bound: its stored JSON's length."""
    return len(EncodedJSON.of(record).text)


class RecordStore(Protocol):
    """Where the records live (actors._state.ObjectStore)."""

    async def request_index(self, *, max_keys: int) -> RequestIndex: ...

    def staged_entry(self, seq: int) -> dict[str, Any] | None: ...

    async def request_record(self, entry: Entry) -> dict[str, Any] | None: ...

    def stage_beside(
        self, placement: Placement, entry: dict[str, Any], stored: object, meta: Meta
    ) -> bool: ...

    async def stage_request_record(
        self, placement: Placement, record: object, meta: Meta
    ) -> None: ...


@dataclass(slots=True)
class KeyedRequest:
    """One keyed request inside its turn: the outcome it may replay, and how it is recorded.
    Its time is the turn's: read once, when the request is opened (actors._turns). Its
    fingerprint is computed when needed: most records are their key alone (their entry says
    the request), and a fresh key is not compared."""

    store: RecordStore
    index: RequestIndex
    iss: str
    sub: str
    key: str
    rid: str
    at: int  # when the turn began, in milliseconds since the epoch
    horizon: int  # records made before this have expired
    max_keys: int
    command: tuple[str, Mapping[str, Any]] | None  # (name, params) of a command, else evaluate
    _fingerprint: str | None = None

    @classmethod
    def of(
        cls,
        store: RecordStore,
        index: RequestIndex,
        caller: Mapping[str, Any],
        key: str,
        now: datetime,
        window_ms: int,
        max_keys: int,
        command: tuple[str, Mapping[str, Any]] | None = None,
    ) -> KeyedRequest:
        """`index`: the object's, as this turn loaded it; `window_ms`: how long records are
        kept, in milliseconds; `command`: the command's name and params (None: `evaluate`)."""
        iss, sub = str(caller.get("iss", "")), str(caller.get("sub", ""))
        at = (now - EPOCH) // MILLISECOND  # `millis`, without its frame
        rid = record_id(iss, sub, key)
        return cls(store, index, iss, sub, key, rid, at, at - window_ms, max_keys, command)

    @property
    def fingerprint(self) -> str:
        """What the request asked, digested (actors._request_fingerprints); computed once."""
        if self._fingerprint is None:
            command = self.command
            self._fingerprint = (
                evaluate_fingerprint() if command is None else command_fingerprint(*command)
            )
        return self._fingerprint

    def seen(self) -> bool:
        """Whether a record of this request's key may be kept (then `replay` reads it): a
        fresh key, as most are, costs its turn a dictionary lookup."""
        entry = self.index.find(self.rid)
        return entry is not None and entry.at >= self.horizon

    async def replay(self) -> dict[str, Any] | None:
        """The first outcome of this request (marked `replayed`), or None when it was not
        applied within the window; the key used for a different request is refused."""
        entry = self.index.find(self.rid)
        if entry is None or entry.at < self.horizon:
            return None
        record = await self.store.request_record(entry)
        if record is None or (record.get("iss"), record.get("sub"), record.get("key")) != (
            self.iss,
            self.sub,
            self.key,
        ):
            return None
        if record.get("fingerprint") != self.fingerprint:
            raise IdempotencyKeyReusedError(
                f"idempotency key {self.key!r} was already used for a different request; "
                "send a fresh key for a new request"
            )
        outcome = record.get("outcome")
        return {**outcome, "replayed": True} if isinstance(outcome, dict) else None

    async def stage(self, outcome: Mapping[str, Any], *, meta: Meta) -> None:
        """Stage the record beside the turn's other writes (one transaction): beside the
        lineage entry the turn wrote (only what the entry does not say: often the key
        alone), else in a slot; the index's tail in `meta`; past a bound the expired and the
        oldest records go."""
        store, seq = self.store, meta.seq
        entry = store.staged_entry(seq)
        if entry is None:  # a slot's record counts against the byte bound as stored
            record = EncodedJSON.of(
                {
                    "iss": self.iss,
                    "sub": self.sub,
                    "key": self.key,
                    "fingerprint": self.fingerprint,
                    "outcome": outcome,
                }
            )
            placement = self.index.record(
                self.rid, self.at, len(record.text), self.horizon, self.max_keys, MAX_TABLE_BYTES
            )
            await store.stage_request_record(placement, record, meta)
            return
        # The index's tail names it by seq: an activation reads its time back from it.
        command, iss, sub = self.command, self.iss, self.sub
        at = None if command is None else key_alone(entry, iss, sub, command, outcome)
        stored: object
        if at is None:
            at = self.at
            stored = beside_entry(entry, iss, sub, self.key, self.fingerprint, at, outcome)
        else:
            stored = self.key
        placement = self.index.record(
            self.rid, at, 0, self.horizon, self.max_keys, MAX_TABLE_BYTES, seq
        )
        if not store.stage_beside(placement, entry, stored, meta):
            await store.stage_request_record(placement, stored, meta)
