"""Idempotency records in export bundles: written by the exporting object, checked as hostile
input by the importing one, so a retry after a move is still recognized as a retry.

A bundle's optional `requests` is a list of `{iss, sub, key, fingerprint, at, outcome}`,
oldest first. The host signature covers it; its content is checked here because the signer
may be an untrusted host: every field's type and size, the time not in the future, the
outcome's `seq` within the bundle's lineage. Records past this host's window are dropped, and
its bounds apply (the newest kept).
"""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta
from typing import Any

from policies import InvalidBundle

from ._meta import Meta
from ._request_index import RequestIndex, record_id
from ._requests import (
    KEY_RULE,
    MAX_TABLE_BYTES,
    RecordStore,
    is_valid_key,
    millis,
    moment,
    size_of,
    stamp,
)
from ._state import ObjectStore

RECORD_FIELDS = ("iss", "sub", "key", "fingerprint", "outcome")
BUNDLED_FIELDS = (*RECORD_FIELDS, "at")
MAX_NAME_LENGTH = 1024
FINGERPRINT = re.compile(r"[0-9a-f]{64}")
# How far ahead of the importer's clock a record's time may be (hosts' clocks drift).
CLOCK_ALLOWANCE = timedelta(minutes=5)


async def exported(
    store: RecordStore, *, now: datetime, window: timedelta, max_keys: int
) -> list[dict[str, Any]]:
    """The live records as a bundle carries them, oldest first."""
    horizon = millis(now - window)
    index = await store.request_index(max_keys=max_keys)
    live = [entry for entry in index.entries() if entry.at >= horizon]
    records = await asyncio.gather(*(store.request_record(entry) for entry in live))
    return [
        {**{f: record.get(f) for f in RECORD_FIELDS}, "at": stamp(moment(entry.at))}
        for entry, record in zip(live, records, strict=True)
        if record is not None and _id_of(record) == entry.rid  # else a slot's stale record
    ]


def _id_of(record: dict[str, Any]) -> str:
    return record_id(str(record.get("iss")), str(record.get("sub")), str(record.get("key")))


def _checked(raw: object, *, index: int, last_seq: int, now: datetime) -> dict[str, Any]:
    """One record of a bundle; InvalidBundle names what is wrong with it."""
    where = f"bundle request record {index}"
    if not isinstance(raw, dict) or set(raw) != set(BUNDLED_FIELDS):
        raise InvalidBundle(f"{where} must be an object of exactly {', '.join(BUNDLED_FIELDS)}")
    if not all(isinstance(raw[n], str) and len(raw[n]) <= MAX_NAME_LENGTH for n in ("iss", "sub")):
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
    return {**raw, "at": stamp(at)}


async def stage_imported(
    store: ObjectStore,
    raw: list[Any],
    *,
    meta: Meta,
    last_seq: int,
    now: datetime,
    window: timedelta,
    max_keys: int,
) -> None:
    """Replace the object's records with the bundle's (the bundle's history is the newer)."""
    records: dict[str, dict[str, Any]] = {}
    for position, item in enumerate(raw):
        record = _checked(item, index=position, last_seq=last_seq, now=now)
        records[record_id(record["iss"], record["sub"], record["key"])] = record
    index = RequestIndex()
    arrivals = sorted((millis(datetime.fromisoformat(r["at"])), rid) for rid, r in records.items())
    for at, rid in arrivals:  # oldest first, bounded as they come: the newest are kept
        index.record(
            rid,
            at=at,
            size=size_of({f: records[rid][f] for f in RECORD_FIELDS}),
            horizon=millis(now - window),
            max_keys=max_keys,
            max_bytes=MAX_TABLE_BYTES,
        )
    kept = {
        entry.slot: {f: records[entry.rid][f] for f in RECORD_FIELDS} for entry in index.entries()
    }
    await store.replace_request_records(index, kept, meta)


def check_records(raw: list[Any], *, last_seq: int, now: datetime) -> None:
    """Refuse a bundle with a malformed record before the import changes anything."""
    for position, item in enumerate(raw):
        _checked(item, index=position, last_seq=last_seq, now=now)
