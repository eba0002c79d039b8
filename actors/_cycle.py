"""A cycle: one evaluation of the object's rules against its data, in one turn.

The reminder fires it, or a caller's `evaluate`. A fire that comes too soon after the last
cycle is skipped without writing anything: Dapr may deliver a reminder twice
(dapr/dapr#3921), and after downtime daprd's scheduler replays every missed tick back to back.
Only a cycle that changed, emitted, or was refused or failed something enters lineage.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from policies import Policy, PolicyError

from . import _workflow as workflow
from ._decisions import worth_recording
from ._meta import Meta, StoredObject
from ._metrics import REMINDER_LAG
from ._requests import KeyedRequest
from ._turns import REMINDER, Turn, iso, parse_iso


def _is_duplicate_fire(meta: Meta, now: datetime, period: timedelta) -> bool:
    """Too soon after the last cycle: Dapr may deliver a reminder twice (dapr/dapr#3921), and
    after downtime daprd's scheduler replays every missed tick back to back."""
    if meta.last_cycle_at is None:
        return False
    return now - parse_iso(meta.last_cycle_at) < period / 2


async def run_cycle(
    turn: Turn, *, who: Mapping[str, Any], forced: bool, keyed: KeyedRequest | None = None
) -> dict[str, Any]:
    """One evaluation; `keyed`: a keyed `evaluate`, recorded with the cycle it ran."""
    stored = await turn.store.load()
    if stored is None or stored.meta.status == "moved":
        await turn.reminders.unregister_reminder(REMINDER)
        return {"skipped": "absent" if stored is None else "moved"}
    meta, now = stored.meta, turn.host.clock.now()
    try:
        policy = turn.policy_of(stored)
    except PolicyError as exc:
        meta.last_error = f"{exc.code}: {exc}"
        await turn.store.stage(meta=meta)
        await turn.store.commit()
        return {"skipped": exc.code}
    period = policy.effective_period(turn.host.limits)
    if policy.has_workflow:
        await workflow.on_fire(turn, stored, policy, now)
    if not forced and meta.last_cycle_at is not None:
        due = parse_iso(meta.last_cycle_at) + period
        REMINDER_LAG.observe(max(0.0, (now - due).total_seconds()))
    if not forced and _is_duplicate_fire(meta, now, period):
        return {"skipped": "duplicate"}  # writes nothing; counted in resident_cycles_total
    if meta.reminder_period_s != period.total_seconds():
        await turn.schedule(policy, meta)
    return await _evaluate(turn, stored, policy, who=who, now=now, keyed=keyed)


async def _evaluate(
    turn: Turn,
    stored: StoredObject,
    policy: Policy,
    *,
    who: Mapping[str, Any],
    now: datetime,
    keyed: KeyedRequest | None = None,
) -> dict[str, Any]:
    meta, outbox = stored.meta, stored.outbox
    meta.cycles += 1
    meta.last_cycle_at, meta.last_error = iso(now), None
    decision = policy.evaluate(
        stored.data,
        object_id=turn.object_id,
        cycle=meta.cycles,
        now=now,
        limits=turn.host.limits,
    )
    decision, digest = turn.host.inputs.bound_cycle(decision, data=stored.data)
    outbox = stored.outbox
    if worth_recording(decision):
        outbox = await turn.record(
            stored,
            decision,
            kind="cycle",
            who=who,
            policy=policy,
            extra={"cycle": meta.cycles},
            digest=digest,
            now=now,
            inputs=turn.inputs("cycle", cycle=meta.cycles),
        )
    else:
        await turn.store.stage(meta=meta)  # a cycle that changes nothing writes only meta
    result = {
        "cycle": meta.cycles,
        "changes": decision.changes,
        "effects": decision.effects,
        "denied": decision.denied,
        "errors": decision.errors,
        "seq": meta.seq,
    }
    if keyed is not None:
        await keyed.stage(result, meta=meta)
    await turn.store.commit()
    await turn.flush_outbox(outbox, meta)
    return result
