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


class KeyedRequest:
    """One keyed request inside its turn: the outcome it may replay, and how it is recorded.
    Its time is the turn's: read once, when the request is opened (actors._turns). Its
    fingerprint is computed when needed: most records are their key alone (their entry says
    the request), and a fresh key is not compared. Opened by one constructor call, without
    a factory's frame: every keyed command opens one."""

    __slots__ = (
        "_fingerprint", "at", "command", "fresh", "horizon", "index", "iss", "key", "max_keys",
        "rid", "store", "sub",
    )  # fmt: skip

    def __init__(
        self,
        store: RecordStore,
        index: RequestIndex,
        caller: Mapping[str, Any],
        key: str,
        now: datetime,
        window_ms: int,
        max_keys: int,
        command: tuple[str, Mapping[str, Any]] | None = None,
    ) -> None:
        """`index`: the object's, as this turn loaded it; `now`: the turn's clock reading;
        `window_ms`: how long records are kept, in milliseconds; `command`: the command's
        name and params (None: `evaluate`)."""
        self.store, self.index, self.key, self.max_keys = store, index, key, max_keys
        self.command: tuple[str, Mapping[str, Any]] | None = command
        self.iss = iss = str(caller.get("iss", ""))
        self.sub = sub = str(caller.get("sub", ""))
        self.at = at = (now - EPOCH) // MILLISECOND  # milliseconds since the epoch
        self.horizon = horizon = at - window_ms  # records made before this have expired
        self.rid = rid = record_id(iss, sub, key)
        earlier = index.find(rid)
        # No record of this key within the window, as most keys have: nothing to replay (a
        # fresh key costs its turn a dictionary lookup).
        self.fresh = earlier is None or earlier.at < horizon
        self._fingerprint: str | None = None

    @property
    def fingerprint(self) -> str:
        """What the request asked, digested (actors._request_fingerprints); computed once."""
        if self._fingerprint is None:
            command = self.command
            self._fingerprint = (
                evaluate_fingerprint() if command is None else command_fingerprint(*command)
            )
        return self._fingerprint

    async def replay(self) -> dict[str, Any] | None:
        """The first outcome of this request (marked `replayed`), or None when it was not
        applied within the window (always when `fresh`); the key used for a different request
        is refused."""
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

    async def stage(self, outcome: Mapping[str, Any], *, meta: Meta, stamped: bool = False) -> None:
        """Stage the record beside the turn's other writes (one transaction): beside the
        lineage entry the turn wrote (only what the entry does not say: often the key
        alone), else in a slot; the index's tail in `meta`; past a bound the expired and the
        oldest records go. `stamped`: the turn stamped its entry with the clock reading this
        request was opened with, so the entry's time is `at` (not parsed back from it)."""
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
        at = (
            None
            if command is None
            else key_alone(entry, iss, sub, command, outcome, self.at if stamped else None)
        )
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
