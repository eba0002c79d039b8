"""Applied-once commands: the object remembers the outcome of recent requests by id.

daprd may deliver one actor call twice: when placement moves an object while a call is in
flight it cancels the call and retries it on the new host (its built-in actor retries), even
when the first attempt had already committed. Every command the HTTP API sends carries a fresh
request id; the turn that applies it records `{id -> outcome}` in the object's state, in the
same transaction, so a second delivery returns the first outcome and applies nothing.

Records are per caller (issuer, subject) and bound to the request (command name and a digest
of its params), so one caller cannot read another's outcome or reuse an id for a different
request. At most `MAX_RECORDS` are kept per object, the oldest dropped first, and none older
than `WINDOW`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from policies import canonical_json

from ._errors import BadRequestError, ConflictError

REQUESTS_KEY = "requests"
MAX_RECORDS = 256
WINDOW = timedelta(hours=24)
MAX_ID_LENGTH = 128


def request_id_of(request: Mapping[str, Any]) -> str | None:
    """The request's id, if it carries one (a non-empty string of bounded length)."""
    value = request.get("request_id")
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > MAX_ID_LENGTH:
        raise BadRequestError(f"`request_id` must be a string of 1 to {MAX_ID_LENGTH} characters")
    return value


def record_key(caller: Mapping[str, Any], request_id: str) -> str:
    return f"{caller.get('iss', '')}\n{caller.get('sub', '')}\n{request_id}"


def fingerprint(name: str, params: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_json({"name": name, "params": dict(params)})).hexdigest()


def replayed(records: Mapping[str, Any], key: str, print_: str) -> dict[str, Any] | None:
    """The recorded outcome of this request, or None if it was not applied yet; a reused id
    for a different request is a conflict."""
    record = records.get(key)
    if not isinstance(record, dict):
        return None
    if record.get("fingerprint") != print_:
        raise ConflictError("this request id was already used for a different request")
    outcome = record.get("outcome")
    return dict(outcome) if isinstance(outcome, dict) else None


def remember(
    records: Mapping[str, Any],
    key: str,
    print_: str,
    outcome: Mapping[str, Any],
    *,
    now: datetime,
) -> dict[str, Any]:
    """The records with this outcome added, expired ones and the oldest beyond the cap gone."""
    horizon = (now - WINDOW).isoformat()
    kept = {
        k: v
        for k, v in records.items()
        if isinstance(v, dict) and str(v.get("at", "")) >= horizon and k != key
    }
    kept[key] = {"fingerprint": print_, "outcome": dict(outcome), "at": now.isoformat()}
    if len(kept) > MAX_RECORDS:
        oldest = sorted(kept, key=lambda k: str(kept[k].get("at", "")))
        for stale in oldest[: len(kept) - MAX_RECORDS]:
            del kept[stale]
    return kept
