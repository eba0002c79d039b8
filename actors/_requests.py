"""Idempotent requests: the object remembers the outcome of recent keyed requests.

A caller that times out cannot know whether its command was applied; daprd, too, may deliver
one actor call twice (when placement moves an object while a call is in flight it retries the
call on the new host, even when the first attempt had committed). So a command (or `evaluate`)
may carry an idempotency key: the HTTP API's `Idempotency-Key` header, else a fresh id per
call. The turn that applies it records `{key -> outcome}` in the object's state, in the same
transaction, and a repeat returns the first outcome with `replayed: true` and applies nothing.

Records are per caller (issuer, subject) and bound to the request (a digest of what it asked),
so one caller cannot read another's outcome, and a key reused for a different request is
refused (`idempotency_key_reused`). Only applied turns are recorded: a refused command leaves
no record and may be fixed and retried under the same key. Records expire after the host's
window (default 24 h) and at most `max_keys` are kept per object, the oldest dropped first, as
are the oldest beyond `MAX_TABLE_BYTES` of outcomes. They travel in export bundles.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from policies import InvalidBundle, canonical_json

from ._errors import BadRequestError, ObjectError

REQUESTS_KEY = "requests"
MAX_RECORDS = 256
WINDOW = timedelta(hours=24)
MAX_KEY_LENGTH = 128
# Outcomes kept per object, as JSON bytes: bounds the state value a keyed turn rewrites.
MAX_TABLE_BYTES = 1024 * 1024
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
    """The request's idempotency key: `idempotency_key`, or its older name `request_id`."""
    key, legacy = request.get("idempotency_key"), request.get("request_id")
    if key is not None and legacy is not None and key != legacy:
        raise BadRequestError("`idempotency_key` and `request_id` differ; send one of them")
    if key is not None:
        return valid_key(key)
    return None if legacy is None else valid_key(legacy, field="request_id")


def command_fingerprint(name: str, params: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_json({"name": name, "params": dict(params)})).hexdigest()


def evaluate_fingerprint() -> str:
    return hashlib.sha256(canonical_json({"method": "evaluate"})).hexdigest()


def record_id(iss: str, sub: str, key: str) -> str:
    """Where a record lives in the table: unambiguous whatever the issuer and subject hold."""
    return hashlib.sha256(canonical_json([iss, sub, key])).hexdigest()[:32]


def stamp(moment: datetime) -> str:
    """A record's time, in one fixed-width UTC form so that times compare as strings."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def live(records: Mapping[str, Any], *, now: datetime, window: timedelta) -> dict[str, Any]:
    """The records still inside the window (malformed ones are dropped)."""
    horizon = stamp(now - window)
    return {
        rid: record
        for rid, record in records.items()
        if isinstance(record, dict) and str(record.get("at", "")) >= horizon
    }


def bounded(records: dict[str, Any], *, max_keys: int) -> dict[str, Any]:
    """At most `max_keys` records and `MAX_TABLE_BYTES` of outcomes, the oldest dropped first
    (the newest is always kept)."""
    order = sorted(records, key=lambda rid: str(records[rid].get("at", "")), reverse=True)
    kept: dict[str, Any] = {}
    total = 0
    for rid in order:
        size = int(records[rid].get("bytes", 0))
        if kept and (len(kept) >= max_keys or total + size > MAX_TABLE_BYTES):
            break
        kept[rid] = records[rid]
        total += size
    return kept


# The fields of a record in a bundle (`bytes` is recomputed by the importer).
BUNDLED_FIELDS = ("iss", "sub", "key", "fingerprint", "at", "outcome")
MAX_NAME_LENGTH = 1024
FINGERPRINT = re.compile(r"[0-9a-f]{64}")
# How far ahead of the importer's clock a record's time may be (hosts' clocks drift).
CLOCK_ALLOWANCE = timedelta(minutes=5)


def exported(
    records: Mapping[str, Any], *, now: datetime, window: timedelta
) -> list[dict[str, Any]]:
    """The live records as a bundle carries them, oldest first."""
    kept = live(records, now=now, window=window)
    ordered = sorted(kept.values(), key=lambda record: str(record.get("at", "")))
    return [{name: record.get(name) for name in BUNDLED_FIELDS} for record in ordered]


def _bundled_record(raw: object, *, index: int, last_seq: int, now: datetime) -> dict[str, Any]:
    """One record of a bundle, checked as hostile input; InvalidBundle names what is wrong."""
    where = f"bundle request record {index}"
    if not isinstance(raw, dict) or set(raw) != set(BUNDLED_FIELDS):
        raise InvalidBundle(f"{where} must be an object of exactly {', '.join(BUNDLED_FIELDS)}")
    names = (raw["iss"], raw["sub"])
    if not all(isinstance(n, str) and len(n) <= MAX_NAME_LENGTH for n in names):
        raise InvalidBundle(f"{where}: `iss` and `sub` must be strings of <= {MAX_NAME_LENGTH}")
    if not is_valid_key(raw["key"]):
        raise InvalidBundle(f"{where}: `key` must be {KEY_RULE}")
    if not isinstance(raw["fingerprint"], str) or not FINGERPRINT.fullmatch(raw["fingerprint"]):
        raise InvalidBundle(f"{where}: `fingerprint` must be 64 lowercase hex digits")
    try:
        at = datetime.fromisoformat(str(raw["at"]))
    except ValueError as exc:
        raise InvalidBundle(f"{where}: `at` is not an ISO 8601 time") from exc
    if at.tzinfo is None or at > now + CLOCK_ALLOWANCE:
        raise InvalidBundle(f"{where}: `at` must be a UTC time that is not in the future")
    outcome = raw["outcome"]
    seq = outcome.get("seq") if isinstance(outcome, dict) else None
    if not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq <= last_seq:
        raise InvalidBundle(f"{where}: `outcome` must be an object whose `seq` is in the lineage")
    size = len(json.dumps(outcome, separators=(",", ":")))
    return {**raw, "at": stamp(at), "bytes": size}


def imported(
    raw: list[Any], *, last_seq: int, now: datetime, window: timedelta, max_keys: int
) -> dict[str, Any]:
    """A bundle's records as this host keeps them: each checked, the expired dropped, bounded
    by this host's `max_keys` and `MAX_TABLE_BYTES` (the newest kept)."""
    records: dict[str, Any] = {}
    for index, item in enumerate(raw):
        record = _bundled_record(item, index=index, last_seq=last_seq, now=now)
        records[record_id(record["iss"], record["sub"], record["key"])] = record
    return bounded(live(records, now=now, window=window), max_keys=max_keys)


class RecordStore(Protocol):
    """The part of an object's store the records live in (actors._state.ObjectStore)."""

    async def requests(self) -> dict[str, Any]: ...

    async def stage_requests(self, records: dict[str, Any]) -> None: ...


@dataclass(slots=True)
class KeyedRequest:
    """One keyed request inside its turn: the outcome it may replay, and how it is recorded."""

    store: RecordStore
    rid: str
    identity: dict[str, str]
    records: dict[str, Any]
    window: timedelta
    max_keys: int

    @classmethod
    async def open(
        cls,
        store: RecordStore,
        *,
        caller: Mapping[str, Any],
        key: str,
        fingerprint: str,
        window: timedelta,
        max_keys: int,
    ) -> KeyedRequest:
        iss, sub = str(caller.get("iss", "")), str(caller.get("sub", ""))
        identity = {"iss": iss, "sub": sub, "key": key, "fingerprint": fingerprint}
        records = await store.requests()
        return cls(store, record_id(iss, sub, key), identity, records, window, max_keys)

    def replay(self, *, now: datetime) -> dict[str, Any] | None:
        """The first outcome of this request (marked `replayed`), or None when it was not
        applied within the window; the key used for a different request is refused."""
        record = live({self.rid: self.records.get(self.rid)}, now=now, window=self.window).get(
            self.rid
        )
        if record is None or any(record.get(k) != self.identity[k] for k in ("iss", "sub", "key")):
            return None
        if record.get("fingerprint") != self.identity["fingerprint"]:
            raise IdempotencyKeyReusedError(
                f"idempotency key {self.identity['key']!r} was already used for a different "
                "request; send a fresh key for a new request"
            )
        outcome = record.get("outcome")
        return {**outcome, "replayed": True} if isinstance(outcome, dict) else None

    async def stage(self, outcome: Mapping[str, Any], *, now: datetime) -> None:
        """Stage the record beside the turn's other writes (one transaction)."""
        kept = live(self.records, now=now, window=self.window)
        kept.pop(self.rid, None)
        size = len(json.dumps(outcome, separators=(",", ":")))
        kept[self.rid] = {
            **self.identity,
            "outcome": dict(outcome),
            "at": stamp(now),
            "bytes": size,
        }
        await self.store.stage_requests(bounded(kept, max_keys=self.max_keys))
