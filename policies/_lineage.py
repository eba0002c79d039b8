"""A hash-chained history per object, verifiable without trusting its store.

Each entry's `hash` is sha256 over the RFC 8785 canonical JSON of the entry without `hash`,
`id` and `sig`; `prev` is the previous entry's hash, so editing, dropping or reordering any
entry breaks the chain from that point. `next_entry` needs only the previous entry, so the
actor can append without loading the whole history.

Entries written since the replay format also carry, inside the hash: `object` (the object's
id, so an entry cannot be relabelled onto another object), `inputs` (what re-executing the
step needs, see `_replay`) and `host` (the signing host's key id); `sig` is that host's
signature over the hash (`_entrysig`). Older entries lack them and still verify as a chain.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import rfc8785

from ._canonical import canonical_bytes
from ._entrysig import EntrySigner
from ._errors import InvalidData, LineageError
from ._json import rfc3339

KINDS = frozenset(
    {"created", "policy", "command", "cycle", "denied", "export", "import", "transition"}
)
_FIELDS = (
    "seq",
    "time",
    "kind",
    "who",
    "policy",
    "changes",
    "effects",
    "denied",
    "errors",
    "data_digest",
    "prev",
)
_OPTIONAL = ("extra", "object", "inputs", "host", "sig")
_REQUIRED_UNHASHED = ("hash", "id")
_UNHASHED = ("hash", "id", "sig")


def canonical_json(obj: Any) -> bytes:
    """RFC 8785 canonical JSON; `InvalidData` if `obj` is not plain, canonicalizable JSON."""
    try:
        return canonical_bytes(obj)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise InvalidData(f"value is not canonical JSON: {exc}") from exc


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def data_digest(data: Any) -> str:
    """ "sha256:" + hex of the canonical JSON of `data`."""
    return _sha256(canonical_json(data))


def entry_hash(entry: Mapping[str, Any]) -> str:
    return _sha256(canonical_json({k: v for k, v in entry.items() if k not in _UNHASHED}))


def next_entry(
    *,
    previous: Mapping[str, Any] | None,
    kind: str,
    time: datetime,
    who: Mapping[str, Any],
    policy_digest: str,
    data: Any,
    changes: Iterable[Mapping[str, Any]] = (),
    effects: Iterable[Mapping[str, Any]] = (),
    denied: Iterable[Mapping[str, Any]] = (),
    errors: Iterable[Mapping[str, Any]] = (),
    extra: Mapping[str, Any] | None = None,
    digest: str | None = None,
    object_id: str | None = None,
    inputs: Mapping[str, Any] | None = None,
    signer: EntrySigner | None = None,
) -> dict[str, Any]:
    """The entry that follows `previous` (None for the first), as plain JSON.

    `digest` is `data_digest(data)` when the caller has it already (the actor measures the
    canonical data once per Decision for the size limit): encoding large data twice per turn
    would be the costliest step of a cycle. `object_id`, `inputs` and `signer` make the entry
    replayable and host-signed (see the module docstring)."""
    if kind not in KINDS:
        raise InvalidData(f"unknown lineage kind {kind!r}; use one of {', '.join(sorted(KINDS))}")
    if not isinstance(time, datetime):
        raise InvalidData("lineage time must be a datetime")
    prev_seq = 0 if previous is None else previous.get("seq")
    if not isinstance(prev_seq, int) or isinstance(prev_seq, bool):
        raise InvalidData("previous lineage entry has no integer 'seq'")
    entry: dict[str, Any] = {
        "seq": prev_seq + 1,
        "time": rfc3339(time),
        "kind": kind,
        "who": dict(who),
        "policy": policy_digest,
        "changes": [dict(c) for c in changes],
        "effects": [dict(e) for e in effects],
        "denied": [dict(d) for d in denied],
        "errors": [dict(e) for e in errors],
        "data_digest": digest if digest is not None else data_digest(data),
        "prev": None if previous is None else previous.get("hash"),
    }
    if extra is not None:
        entry["extra"] = dict(extra)
    if object_id is not None:
        entry["object"] = object_id
    if inputs is not None:
        entry["inputs"] = dict(inputs)
    if signer is not None:
        entry["host"] = signer.kid
    # One canonical encoding serves both the hash and the stored form (what is stored is
    # exactly what was hashed, e.g. 35.0 stored as 35); hash, id and sig are plain strings.
    body = canonical_json(entry)
    stored: dict[str, Any] = json.loads(body)
    stored["hash"] = _sha256(body)
    stored["id"] = stored["hash"].removeprefix("sha256:")
    if signer is not None:
        stored["sig"] = signer.sign(stored["hash"])
    return stored


class Lineage:
    """An in-memory chain of entries; `append` builds each with `next_entry`."""

    def __init__(self, entries: Iterable[Mapping[str, Any]] = ()) -> None:
        self._entries: list[dict[str, Any]] = [dict(e) for e in entries]

    @property
    def entries(self) -> list[dict[str, Any]]:
        return list(self._entries)

    @property
    def head(self) -> dict[str, Any] | None:
        return self._entries[-1] if self._entries else None

    def __len__(self) -> int:
        return len(self._entries)

    def append(
        self,
        kind: str,
        *,
        data: Any,
        who: Mapping[str, Any],
        policy_digest: str,
        time: datetime,
        changes: Iterable[Mapping[str, Any]] = (),
        effects: Iterable[Mapping[str, Any]] = (),
        denied: Iterable[Mapping[str, Any]] = (),
        errors: Iterable[Mapping[str, Any]] = (),
        extra: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        entry = next_entry(
            previous=self.head,
            kind=kind,
            time=time,
            who=who,
            policy_digest=policy_digest,
            data=data,
            changes=changes,
            effects=effects,
            denied=denied,
            errors=errors,
            extra=extra,
        )
        self._entries.append(entry)
        return entry


def _parse(raw: Any, position: int) -> Mapping[str, Any]:
    if isinstance(raw, Mapping):
        return raw
    if isinstance(raw, str | bytes):
        try:
            parsed = json.loads(raw, parse_constant=_no_constant, object_pairs_hook=_no_dupes)
        except (ValueError, RecursionError) as exc:
            raise LineageError(f"entry {position} is not JSON: {exc}", seq=position) from exc
        if isinstance(parsed, dict):
            return parsed
    raise LineageError(f"entry {position} is not a JSON object", seq=position)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _no_dupes(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate key")
    return result


def _check_entry(
    entry: Mapping[str, Any], seq: int, prev: str | None, object_id: str | None
) -> None:
    missing = [f for f in (*_FIELDS, *_REQUIRED_UNHASHED) if f not in entry]
    if missing:
        raise LineageError(f"entry {seq} lacks {', '.join(missing)}", seq=seq)
    unknown = set(entry) - {*_FIELDS, *_OPTIONAL, *_UNHASHED}
    if unknown:
        raise LineageError(f"entry {seq} has unknown fields {sorted(unknown)}", seq=seq)
    if entry["seq"] != seq or isinstance(entry["seq"], bool):
        raise LineageError(
            f"entry at position {seq} claims seq {entry['seq']!r}: entries are missing, "
            "reordered or renumbered",
            seq=seq,
        )
    if entry["prev"] != prev:
        raise LineageError(f"entry {seq}: prev does not match entry {seq - 1}'s hash", seq=seq)
    if entry["kind"] not in KINDS:
        raise LineageError(f"entry {seq}: unknown kind {entry['kind']!r}", seq=seq)
    if object_id is not None and "object" in entry and entry["object"] != object_id:
        raise LineageError(
            f"entry {seq} was written for object {str(entry['object'])[:200]!r}, "
            f"not {object_id!r}: a history cannot be relabelled onto another object",
            seq=seq,
        )
    if "inputs" in entry and not isinstance(entry["inputs"], dict):
        raise LineageError(f"entry {seq}: inputs must be a JSON object", seq=seq)
    if "inputs" in entry and "object" not in entry:
        raise LineageError(f"entry {seq} records inputs but names no object", seq=seq)
    if ("host" in entry) != ("sig" in entry):
        raise LineageError(f"entry {seq}: `host` and `sig` come together", seq=seq)
    try:
        actual = entry_hash(entry)
    except InvalidData as exc:
        raise LineageError(f"entry {seq} is not canonical JSON: {exc}", seq=seq) from exc
    if entry["hash"] != actual or entry["id"] != actual.removeprefix("sha256:"):
        raise LineageError(f"entry {seq}: hash does not match its content", seq=seq)


def verify_lineage(
    entries: Sequence[Any], data: Any = None, *, object_id: str | None = None
) -> None:
    """Check the whole chain from seq 1 (and, given `data`, the last data digest; given
    `object_id`, that no entry names another object).

    Entries may be dicts or their JSON text. Raises `LineageError` with the first bad seq.
    """
    prev: str | None = None
    seq = 0
    for position, raw in enumerate(entries, start=1):
        entry = _parse(raw, position)
        if position == 1 and entry.get("seq") != 1 and isinstance(entry.get("seq"), int):
            raise LineageError(
                f"lineage starts at seq {entry['seq']}, not 1: it was truncated",
                seq=entry["seq"],
            )
        _check_entry(entry, position, prev, object_id)
        prev, seq = entry["hash"], position
    if data is not None:
        if seq == 0:
            raise LineageError("lineage is empty, so it cannot vouch for the data", seq=0)
        if data_digest(data) != entries_digest(entries[-1]):
            raise LineageError(f"data does not match the digest recorded at seq {seq}", seq=seq)


def entries_digest(raw: Any) -> Any:
    return _parse(raw, 0).get("data_digest")
