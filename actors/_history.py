"""Reading an object's history critically: verify it (chain, host signatures, replay) and try
a candidate policy against it (dry run). Both only read: nothing is staged, so the turn ends
with state, lineage and outbox exactly as they were.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from policies import (
    LineageError,
    Policy,
    PolicyError,
    check_entry_signatures,
    draft_policy,
    host_keys,
    load_policy,
    policy_versions,
    read_document,
    replay_lineage,
    verify_lineage,
)

from ._errors import BadRequestError, ForbiddenError, ObjectError
from ._meta import StoredObject
from ._turns import Turn

# Verifying reads the whole history in one turn; longer ones are verified offline from a
# bundle (`resident verify --replay`), where no object waits for the check.
MAX_VERIFY_ENTRIES = 20_000


class HistoryTooLongError(ObjectError):
    """The history is longer than a live verification reads; export and verify it offline."""

    code = "invalid_request"


async def verify_object(turn: Turn, stored: StoredObject) -> dict[str, Any]:
    """`{ok, chain, signatures, replay}` for a live object, each naming its first bad entry."""
    seq = stored.meta.seq
    if seq > MAX_VERIFY_ENTRIES:
        raise HistoryTooLongError(
            f"the lineage has {seq} entries; live verification reads at most "
            f"{MAX_VERIFY_ENTRIES}. Export the object and run `resident verify --replay`"
        )
    entries = await turn.store.read_entries(1, seq)
    provenance = await turn.store.provenance()
    chain = _chain(entries, seq, stored, turn.object_id)
    signatures = check_entry_signatures(
        entries,
        trusted=turn.host.known_hosts(),
        carried=host_keys(provenance["hosts"].values()),
    ).to_dict()
    replay = _replay(turn, stored, entries, provenance["policies"], chain_ok=chain["ok"])
    ok = bool(chain["ok"] and signatures["ok"] and replay["ok"] and replay["replayable"])
    return {"ok": ok, "chain": chain, "signatures": signatures, "replay": replay}


def _chain(
    entries: list[dict[str, Any]], seq: int, stored: StoredObject, object_id: str
) -> dict[str, Any]:
    result: dict[str, Any] = {"ok": True, "length": seq, "first_bad": None, "reason": None}
    try:
        if len(entries) != seq:
            raise LineageError(f"{seq - len(entries)} of {seq} entries are missing", seq=seq)
        verify_lineage(entries, stored.data, object_id=object_id)
        if seq and entries[-1].get("hash") != stored.meta.head:
            raise LineageError("the last entry is not the recorded head", seq=seq)
    except LineageError as exc:
        result.update(ok=False, first_bad=exc.seq, reason=exc.message)
    return result


def _replay(
    turn: Turn,
    stored: StoredObject,
    entries: list[dict[str, Any]],
    policies: list[str],
    *,
    chain_ok: bool,
) -> dict[str, Any]:
    skipped = {"replayable": False, "entries": len(entries), "replayed": 0, "legacy": 0}
    if not chain_ok:
        reason = "not replayed: the chain does not verify"
        return {"ok": False, **skipped, "first_bad": None, "reason": reason}
    try:
        current = turn.policy_of(stored)
        versions = policy_versions(
            entries,
            policies,
            turn.host.trust,
            object_id=turn.object_id,
            current=current,
            inputs=turn.host.inputs,
        )
    except PolicyError as exc:
        reason = f"a policy version does not load here ({exc.code}): {exc.message}"
        return {"ok": False, **skipped, "first_bad": None, "reason": reason}
    report = replay_lineage(entries, object_id=turn.object_id, policies=versions, data=stored.data)
    return report.to_dict()


# --- dry run ------------------------------------------------------------------------------


def candidate_policy(raw: Any, turn: Turn, current: Policy) -> Policy:
    """The candidate: a signed policy (verified against this host's trust), or an unsigned
    document as YAML/JSON text or an object (compiled as signing would, never installable;
    without `iss` it is judged as if the current policy's issuer signed it)."""
    host = turn.host
    if isinstance(raw, str) and raw.count(".") == 2 and "\n" not in raw.strip():
        return load_policy(
            raw, host.trust, object_id=turn.object_id, now=host.clock.now(), inputs=host.inputs
        )
    if isinstance(raw, str):
        if len(raw.encode()) > host.inputs.max_policy_bytes:
            raise BadRequestError(
                f"the candidate policy is over {host.inputs.max_policy_bytes} bytes"
            )
        raw = read_document(raw)
    if not isinstance(raw, dict):
        raise BadRequestError(
            "`policy` must be a signed policy (JWS), a policy document as YAML/JSON text, "
            "or the document as a JSON object"
        )
    if "iss" not in raw and current.issuer:
        raw = {**raw, "iss": current.issuer}
    policy = draft_policy(raw, inputs=host.inputs)
    policy.check_object(turn.object_id)
    return policy


def _command_of(request: Mapping[str, Any]) -> tuple[str, dict[str, Any]] | None:
    command = request.get("command")
    if command is None:
        return None
    if not isinstance(command, dict) or not isinstance(command.get("name"), str):
        raise BadRequestError("`command` must be {name, params}")
    params = command.get("params", {})
    if not isinstance(params, dict):
        raise BadRequestError("`command.params` must be a JSON object")
    return str(command["name"]), params


async def dry_run(
    turn: Turn, stored: StoredObject, caller: Mapping[str, Any], request: Mapping[str, Any]
) -> dict[str, Any]:
    """One cycle of the candidate's rules (or, given `command`, that command as `caller`)
    against the current data; what would change, be published or invoked, and be denied."""
    current = turn.policy_of(stored)
    current.check_caller(caller)
    if not current.allows("amend", caller, object_id=turn.object_id, data=stored.data):
        raise ForbiddenError("a dry run needs the current policy's `amend` permission")
    candidate = candidate_policy(request.get("policy"), turn, current)
    command = _command_of(request)
    host, now = turn.host, turn.host.clock.now()
    if command is None:
        decision = candidate.evaluate(
            stored.data, object_id=turn.object_id, cycle=stored.meta.cycles + 1, now=now,
            limits=host.limits,
        )  # fmt: skip
        decision, _ = host.inputs.bound_cycle(decision, data=stored.data)
    else:
        name, params = command
        host.inputs.check_depth(params, what=f"params of command {name!r}")
        decision = candidate.command(
            name, params, caller=dict(caller), data=stored.data, object_id=turn.object_id,
            now=now, limits=host.limits,
        )  # fmt: skip
    return {
        "ran": "cycle" if command is None else "command",
        "changes": decision.changes,
        "effects": decision.effects,
        "denied": decision.denied,
        "errors": decision.errors,
        "result": decision.result,
        "data": decision.data,
        "policy": {"id": candidate.id, "version": candidate.version, "digest": candidate.digest},
        "successor": _successor(current, candidate, caller, turn, stored),
    }


def _successor(
    current: Policy,
    candidate: Policy,
    caller: Mapping[str, Any],
    turn: Turn,
    stored: StoredObject,
) -> dict[str, Any]:
    """Whether installing the candidate (once signed) would be admitted for this caller."""
    try:
        current.admits_successor(candidate, caller, object_id=turn.object_id, data=stored.data)
    except PolicyError as exc:
        return {"admitted": False, "reason": f"{exc.code}: {exc.message}"}
    return {"admitted": True, "reason": None}
