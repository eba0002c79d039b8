"""How an idempotency record is stored beside the lineage entry its turn wrote: only what the
entry does not already say.

A record is `{iss, sub, key, fingerprint, outcome, at}` (actors._requests). Beside its entry
(`[entry, record]`, actors._state) the caller is left out when it is the entry's `who`,
and a command's outcome (`{result, applied, denied, errors, seq}`) keeps only `result` and
`applied` when its refusals and errors are none, as the entry's are, and its seq is the
entry's. Most keyed commands apply with no result, for their caller, and their entry's
`inputs` hold the very request (`command`, `params`) the fingerprint is of: such a record is
its key alone, a string, and its time is its entry's (`key_alone`). Otherwise, when caller
and outcome are both the entry's, the record is the list `[key, fingerprint, at, result,
applied]` (no field names: 40 bytes less), or `[key, fingerprint, at]` when the command
applied with no result; else a dict of the fields kept. What is left out is taken back from
the entry when the record is read, so a replay answers exactly what the first call did. Every
byte counts: a keyed command's record is JSON-escaped three times on its way to the store,
and was a third of its entry's size in full. A record in full (one written before, or whose
outcome or caller the entry does not say) is read as it is. The wrapper itself, and which
stored lineage values are one, is said here too (`entry_of`, `record_beside`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ._errors import BadRequestError
from ._request_entries import EPOCH, MILLISECOND
from ._request_fingerprints import command_fingerprint

COMMAND_OUTCOME = ("result", "applied", "denied", "errors", "seq")


def entry_millis(entry: Mapping[str, Any]) -> int | None:
    """The time of a lineage entry (RFC 3339, `time`) in whole milliseconds since the epoch,
    or None when it has none: a record that is its key alone was made at this time."""
    text = entry.get("time")
    if type(text) is not str:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return (moment - EPOCH) // MILLISECOND


def _floatless(value: Any) -> bool:
    """Whether `value` holds no float: its canonical JSON (how a lineage entry stores its
    `inputs`: 35.0 as 35) reads back with every type it had, so its fingerprint is the same."""
    for item in value.values() if type(value) is dict else value:
        kind = type(item)
        if kind is float or ((kind is dict or kind is list) and not _floatless(item)):
            return False
    return True


def key_alone(
    entry: Mapping[str, Any],
    iss: str,
    sub: str,
    command: tuple[str, Mapping[str, Any]],
    outcome: Mapping[str, Any],
    at: int | None = None,
) -> int | None:
    """The entry's time (the record's), when `entry` says all of the record of `command`
    (name, params) but its key: its caller is the entry's `who`, the request its `inputs`,
    type for type, and the outcome a command's applied with no result, no refusals nor
    errors, for the entry's seq. Else None: the record says more. `at`: the entry's time in
    milliseconds when the caller knows it (its turn stamped the entry with the clock reading
    the request was opened with), which spares parsing it back; else read from the entry.
    One expression: every keyed command comes through."""
    who, seq, params = entry.get("who"), entry.get("seq"), command[1]
    if (
        type(who) is dict
        and type(seq) is int
        and outcome == {"result": None, "applied": True, "denied": [], "errors": [], "seq": seq}
        and tuple(outcome) == COMMAND_OUTCOME  # in this order, as it is read back
        and outcome["applied"] is True  # not 1 (equal to True)
        and type(outcome["seq"]) is int  # not 7.0
        and entry.get("denied") == []
        and entry.get("errors") == []
        and who.get("iss") == iss
        and who.get("sub") == sub
        and type(params) is dict
        and _entry_command(entry) == command
        and _floatless(params)
    ):
        return entry_millis(entry) if at is None else at
    return None


def _entry_command(entry: Mapping[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """The command and params a lineage entry's `inputs` record, if it records one."""
    inputs = entry.get("inputs")
    if type(inputs) is not dict:
        return None
    name, params = inputs.get("command"), inputs.get("params")
    return (name, params) if type(name) is str and type(params) is dict else None


def _says_outcome(outcome: object, entry: Mapping[str, Any]) -> bool:
    """Whether `outcome` is a command's, all of it but `result` and `applied` in `entry`."""
    if type(outcome) is not dict or tuple(outcome) != COMMAND_OUTCOME:
        return False
    seq = outcome["seq"]
    return (
        type(seq) is int
        and seq == entry.get("seq")
        and outcome["denied"] == [] == entry.get("denied")
        and outcome["errors"] == [] == entry.get("errors")
    )


def _command_outcome(result: object, applied: object, entry: Mapping[str, Any]) -> dict[str, Any]:
    """A command's outcome, all of it but `result` and `applied` taken from its entry."""
    return {
        "result": result,
        "applied": applied,
        "denied": entry.get("denied"),
        "errors": entry.get("errors"),
        "seq": entry.get("seq"),
    }


def beside_entry(
    entry: Mapping[str, Any],
    iss: str,
    sub: str,
    key: str,
    fingerprint: str,
    at: int,
    outcome: Mapping[str, Any],
) -> dict[str, Any] | list[Any]:
    """The stored form of the record `{iss, sub, key, fingerprint, at, outcome}` beside
    `entry`: what the entry does not say. Its fields come as arguments, not as a record
    dict: every keyed command comes through."""
    who = entry.get("who")
    if type(who) is not dict:
        who = {}
    says_outcome = _says_outcome(outcome, entry)
    # A record's caller is two strings: equal ones are the entry's strings.
    if says_outcome and who.get("iss") == iss and who.get("sub") == sub:
        result, applied = outcome["result"], outcome["applied"]
        if result is None and applied is True:  # most commands' outcome: said by its length
            return [key, fingerprint, at]
        return [key, fingerprint, at, result, applied]
    stored: dict[str, Any] = {"key": key, "fingerprint": fingerprint, "at": at}
    for party, value in (("iss", iss), ("sub", sub)):
        said = who.get(party)
        if type(said) is not str or said != value:
            stored[party] = value
    if says_outcome:
        stored["result"], stored["applied"] = outcome["result"], outcome["applied"]
    else:
        stored["outcome"] = outcome
    return stored


def in_full(stored: object, entry: object) -> dict[str, Any] | None:
    """The record a stored value beside `entry` holds, with what it left out taken back from
    the entry; None when there is none."""
    if not isinstance(entry, dict):
        return None
    who = entry.get("who")
    who = who if isinstance(who, dict) else {}
    if isinstance(stored, str):
        return _from_key(stored, entry, who)
    if isinstance(stored, list):
        return _from_list(stored, entry, who)
    if not isinstance(stored, dict):
        return None
    outcome: object = None
    if "outcome" in stored:
        outcome = stored["outcome"]
    elif "result" in stored:
        outcome = _command_outcome(stored.get("result"), stored.get("applied"), entry)
    return {
        "iss": stored["iss"] if "iss" in stored else who.get("iss"),
        "sub": stored["sub"] if "sub" in stored else who.get("sub"),
        "key": stored.get("key"),
        "fingerprint": stored.get("fingerprint"),
        "outcome": outcome,
        "at": stored.get("at"),
    }


def _from_list(
    stored: list[Any], entry: dict[str, Any], who: dict[str, Any]
) -> dict[str, Any] | None:
    """The record stored as `[key, fingerprint, at, result, applied]`, or `[key, fingerprint,
    at]` for a command applied with no result: the caller and the rest of the outcome are the
    entry's."""
    if len(stored) == 3:
        (key, fingerprint, at), result, applied = stored, None, True
    elif len(stored) == 5:
        key, fingerprint, at, result, applied = stored
    else:
        return None
    outcome = _command_outcome(result, applied, entry)
    return {
        "iss": who.get("iss"),
        "sub": who.get("sub"),
        "key": key,
        "fingerprint": fingerprint,
        "outcome": outcome,
        "at": at,
    }


def _from_key(key: str, entry: dict[str, Any], who: dict[str, Any]) -> dict[str, Any] | None:
    """The record stored as its key alone: the rest is its entry's (`key_alone`)."""
    command, at = _entry_command(entry), entry_millis(entry)
    if command is None or at is None:
        return None
    try:
        fingerprint = command_fingerprint(*command)
    except BadRequestError:  # NaN in a stored entry: not one this host wrote
        return None
    return {
        "iss": who.get("iss"),
        "sub": who.get("sub"),
        "key": key,
        "fingerprint": fingerprint,
        "outcome": _command_outcome(None, True, entry),
        "at": at,
    }


def entry_of(value: object) -> object:
    """The lineage entry a stored value holds: itself (an entry is a dict with `seq`), or
    the entry of a wrapper that also carries an idempotency record: `[entry, record]`, or
    `{"entry", "request"}` as written before (the list spares 20 bytes a keyed command)."""
    if isinstance(value, list):
        return value[0] if len(value) == 2 else None
    if isinstance(value, dict):
        return value if "seq" in value else value.get("entry")
    return None


def record_beside(value: object) -> dict[str, Any] | None:
    """The idempotency record a stored lineage value carries, if it is such a wrapper, in
    full."""
    if isinstance(value, list) and len(value) == 2:
        return in_full(value[1], value[0])
    if not isinstance(value, dict) or "seq" in value:
        return None
    return in_full(value.get("request"), value.get("entry"))


def name_beside(value: object) -> dict[str, Any] | None:
    """`{iss, sub, key, at}` of the record a stored lineage value carries, if any: what an
    activation reads back to index it (up to 64 of them), without its fingerprint."""
    if isinstance(value, list) and len(value) == 2 and isinstance(value[1], str):
        entry = value[0]
        if not isinstance(entry, dict) or _entry_command(entry) is None:
            return None
        who, at = entry.get("who"), entry_millis(entry)
        if not isinstance(who, dict) or at is None:
            return None
        return {"iss": who.get("iss"), "sub": who.get("sub"), "key": value[1], "at": at}
    return record_beside(value)
