"""How an idempotency record is stored beside the lineage entry its turn wrote: only what the
entry does not already say.

A record is `{iss, sub, key, fingerprint, outcome, at}` (actors._requests). Beside its entry
(`[entry, record]`, actors._state) the caller is left out when it is the entry's `who`,
and a command's outcome (`{result, applied, denied, errors, seq}`) keeps only `result` and
`applied` when its refusals and errors are none, as the entry's are, and its seq is the
entry's. When both are left out, as for every command applied for its caller, the record is
the list `[key, fingerprint, at, result, applied]` (no field names: 40 bytes less), or
`[key, fingerprint, at]` when the command applied and returned no result, as most do; else a
dict of the fields kept. What is left out is taken back from the entry when the record is
read, so a replay answers exactly what the first call did. Every byte counts: a keyed
command's record is JSON-escaped three times on its way to the store, and was a third of its
entry's size in full. A record in full (one written before, or whose outcome or caller the
entry does not say) is read as it is. The wrapper itself, and which stored lineage values
are one, is said here too (`entry_of`, `record_beside`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

COMMAND_OUTCOME = ("result", "applied", "denied", "errors", "seq")


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
