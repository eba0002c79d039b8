"""Export and import: an object leaves one host with its governance and resumes on another.

Both run inside the object's turn. Export chains an `export` entry and returns the signed
bundle; with `move` the object also stops running here (status `moved`, no reminder). Import
verifies the bundle against THIS host's trust (policies.verify_bundle), checks that it does not
fork or roll back a local copy, then writes policy, data, every new lineage entry (one key
each) and an `import` entry in one state transaction, and schedules the object's cycles.

`verify_bundle` re-executes the bundle's whole history under the policy versions it carries
(a host cannot opt out), so an object arrives only with a history its policies could have
made; the versions and the signing hosts' keys are kept in the object's provenance, so it can
move on again and anyone can replay it later.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from policies import (
    InvalidBundle,
    Policy,
    VerifiedBundle,
    build_bundle,
    check_extends,
    host_narrowing,
    next_entry,
    verify_bundle,
)

from . import _workflow as workflow
from ._auth import who_of
from ._errors import BadRequestError, EffectsPendingError, ForbiddenError, ObjectError
from ._meta import Meta, StoredObject
from ._request_bundles import check_records, exported, stage_imported
from ._sidecar import SidecarError
from ._turns import REMINDER, Turn, iso

log = logging.getLogger("resident.portability")


class NoHostKeyError(ObjectError):
    """This host has no key to sign bundles with; set RESIDENT_HOST_KEY and restart."""

    code = "unavailable"


@dataclass(frozen=True, slots=True)
class ExportRequest:
    """What `Export` accepts besides the token, validated at the actor's edge."""

    move: bool = False
    destination: str | None = None

    @classmethod
    def from_request(cls, request: Mapping[str, Any]) -> ExportRequest:
        move, destination = request.get("move", False), request.get("destination")
        if not isinstance(move, bool):
            raise BadRequestError("`move` must be a boolean")
        if destination is not None and (
            not isinstance(destination, str) or len(destination) > 2048
        ):
            raise BadRequestError("`destination` must be a string (a URL) of at most 2048 chars")
        return cls(move=move, destination=destination or None)


def _chain(
    turn: Turn,
    meta: Meta,
    previous: Mapping[str, Any] | None,
    kind: str,
    *,
    who: Mapping[str, Any],
    policy: Policy,
    data: Any,
    extra: Mapping[str, Any],
    caller: Mapping[str, Any],
) -> dict[str, Any]:
    """Append one entry after `previous` and advance `meta`'s head to it."""
    entry = next_entry(
        previous=previous,
        kind=kind,
        time=turn.host.clock.now(),
        who=who,
        policy_digest=policy.digest,
        data=data,
        extra=extra,
        object_id=turn.object_id,
        inputs=turn.inputs(kind, caller=dict(caller)),
        signer=turn.host.entry_signer,
    )
    meta.seq, meta.head = int(entry["seq"]), str(entry["hash"])
    return entry


async def export_object(
    turn: Turn, *, caller: Mapping[str, Any], request: ExportRequest
) -> dict[str, Any]:
    """The signed bundle of the object; with `move`, the object stops running here."""
    stored = await turn.load_required()
    turn.ensure_active(stored)
    policy = turn.policy_of(stored)
    policy.check_caller(caller)
    if not policy.allows("export", caller, object_id=turn.object_id, data=stored.data):
        raise ForbiddenError("the policy's `export` permission denies this caller")
    key = turn.host.host_key
    if key is None:
        raise NoHostKeyError("this host has no host key to sign bundles; set RESIDENT_HOST_KEY")
    if request.move and stored.outbox and await turn.deliver_pending(stored):
        raise EffectsPendingError(
            f"object {turn.object_id!r} has effects not yet delivered; moving would strand "
            "them on this host. Retry the move when their targets are reachable."
        )
    meta = stored.meta
    history = await turn.store.read_entries(1, meta.seq)
    if len(history) != meta.seq:
        raise ObjectError(f"lineage has {len(history)} of {meta.seq} entries stored")
    extra = {
        "host": turn.host.host_id,
        "move": request.move,
        "to": request.destination,
        "cycles": meta.cycles,
    }
    if meta.workflow is not None:  # travels in the chained entry: the bundle vouches for it
        extra["workflow"] = meta.workflow
    who = who_of(caller)
    entry = _chain(
        turn,
        meta,
        meta.previous_entry,
        "export",
        who=who,
        policy=policy,
        data=stored.data,
        extra=extra,
        caller=caller,
    )
    provenance = await turn.store.provenance()
    signer = turn.host.entry_signer
    hosts = dict(provenance["hosts"])
    if signer is not None:
        hosts[signer.kid] = signer.jwk
    bundle = build_bundle(
        object_id=turn.object_id,
        policy_jws=policy.jws,
        data=stored.data,
        lineage=[*history, entry],
        from_host=turn.host.host_id,
        key=key,
        now=turn.host.clock.now(),
        policies=provenance["policies"],
        hosts=hosts,
        requests=await _exported_requests(turn),
    )
    if request.move:
        meta.status, meta.moved_to = "moved", request.destination
    await turn.store.stage(meta=meta, entries=[entry])
    await turn.store.commit()
    if request.move:
        await _stop_reminder(turn)
    return bundle


async def _exported_requests(turn: Turn) -> list[dict[str, Any]]:
    """Idempotency records travel with the object: a retry after the move is still a retry."""
    host = turn.host
    return await exported(
        turn.store,
        now=host.clock.now(),
        window=host.idempotency_window,
        max_keys=host.idempotency_max_keys,
    )


async def _stop_reminder(turn: Turn) -> None:
    """Best effort after commit: a fire that still comes sees `moved` and unregisters itself."""
    try:
        await turn.reminders.unregister_reminder(REMINDER)
    except SidecarError as exc:
        log.warning("reminder not removed", extra={"object_id": turn.object_id, "error": str(exc)})


def _exported_cycles(bundle: VerifiedBundle) -> int:
    extra = bundle.last.get("extra")
    cycles = extra.get("cycles") if isinstance(extra, dict) else None
    return cycles if isinstance(cycles, int) and not isinstance(cycles, bool) else 0


async def import_object(turn: Turn, raw: Any, *, caller: Mapping[str, Any]) -> dict[str, Any]:
    """Verify, admit and install a bundle; refused with nothing written on any failure.

    Who may import: a caller who passes the bundled policy's `amend` permission, the same
    rule as creating an object here. It is checked after the bundle verifies (the policy must
    be trusted before it can judge anyone) and before the local copy is consulted.
    """
    if not isinstance(raw, Mapping):
        raise BadRequestError("`bundle` must be the bundle JSON object")
    host, now = turn.host, turn.host.clock.now()
    bundle = verify_bundle(
        raw,
        host.trust,
        object_id=turn.object_id,
        now=now,
        trusted_hosts=host.trusted_hosts,
        require_trusted_host=host.require_trusted_hosts,
        inputs=host.inputs,
    )
    policy = bundle.policy
    policy.check_caller(caller)
    if not policy.allows("amend", caller, object_id=turn.object_id, data=bundle.data):
        raise ForbiddenError("importing needs the bundled policy's `amend` permission")
    check_records(bundle.requests, last_seq=int(bundle.last["seq"]), now=now)
    stored = await turn.store.load()
    local_seq = stored.meta.seq if stored else 0
    check_extends(bundle.lineage, seq=local_seq, head=stored.meta.head if stored else None)
    meta, entries = _resumed_meta(stored, bundle, now), bundle.lineage[local_seq:]
    meta.workflow = bundled_workflow(bundle)
    entries.append(_import_entry(turn, meta, bundle, caller=caller))
    provenance = await turn.store.provenance()
    await turn.store.stage_provenance(
        {
            "policies": list(dict.fromkeys([*provenance["policies"], *bundle.policies.values()])),
            "hosts": {**provenance["hosts"], **bundle.hosts},
        }
    )
    period = policy.effective_period(host.limits)
    await turn.reminders.register_reminder(REMINDER, b"", due_time=period, period=period)
    meta.reminder_period_s, meta.reminder_due_at = period.total_seconds(), None
    await workflow.schedule_due(turn, policy, meta, now)  # a pending timeout keeps its time
    await stage_imported(
        turn.store, bundle.requests, meta=meta, last_seq=int(bundle.last["seq"]), now=now,
        window=host.idempotency_window, max_keys=host.idempotency_max_keys,
    )  # fmt: skip
    await turn.store.stage(meta=meta, policy_jws=policy.jws, data=bundle.data, entries=entries)
    await turn.store.commit()
    final = StoredObject(
        policy_jws=policy.jws, data=bundle.data, meta=meta, outbox=stored.outbox if stored else []
    )
    return {
        "created": stored is None,
        "object": turn.summary(final, policy),
        "from_host": bundle.from_host,
        "host_trusted": bundle.host_trusted,
    }


def bundled_workflow(bundle: VerifiedBundle) -> dict[str, Any] | None:
    """The workflow state the export entry carried, checked against the bundled policy.

    A moved workflow resumes exactly where it was: its state, when it entered it (so a pending
    `after:` timeout keeps its due time) and its history. Never the receiving host's own stale
    copy from an earlier stay, and never a fresh start (a paid order paid again)."""
    policy = bundle.policy
    extra = bundle.last.get("extra")
    raw = extra.get("workflow") if isinstance(extra, dict) else None
    if not policy.has_workflow:
        return None
    if not isinstance(raw, dict) or raw.get("state") not in policy.workflow_states:
        raise InvalidBundle(
            "the bundle's export entry does not carry a workflow state of its policy; "
            "export it again from a host that records it"
        )
    try:
        datetime.fromisoformat(str(raw.get("entered_at")).replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidBundle("the bundled workflow state has no valid `entered_at`") from exc
    history = raw.get("history", [])
    if not isinstance(history, list):
        raise InvalidBundle("the bundled workflow history must be a list")
    return dict(raw)


def _resumed_meta(stored: StoredObject | None, bundle: VerifiedBundle, now: datetime) -> Meta:
    """Local bookkeeping for the imported history: active again, counting on from export."""
    meta = stored.meta if stored is not None else Meta(created_at=iso(now))
    meta.seq, meta.head = int(bundle.last["seq"]), bundle.head
    meta.status, meta.moved_to = "active", None
    meta.cycles = _exported_cycles(bundle)
    meta.last_cycle_at, meta.last_error = None, None
    return meta


def _import_entry(
    turn: Turn, meta: Meta, bundle: VerifiedBundle, *, caller: Mapping[str, Any]
) -> dict[str, Any]:
    extra = {
        "from_host": bundle.from_host,
        "host": turn.host.host_id,
        "host_key": bundle.host_key,
        "host_trusted": bundle.host_trusted,
        "narrowed": host_narrowing(bundle.policy, turn.host.limits),
        "replayed": bundle.replay.replayed,
        "unknown_signers": bundle.signatures.unknown_signers,
    }
    return _chain(
        turn,
        meta,
        bundle.last,
        "import",
        who=who_of(caller),
        policy=bundle.policy,
        data=bundle.data,
        extra=extra,
        caller=caller,
    )
