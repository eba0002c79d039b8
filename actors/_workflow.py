"""Carrying a policy's workflow inside the object: state in meta, transitions in lineage,
timeouts on the object's own reminder.

`meta.workflow` holds `{state, entered_at, history}` (the last `HISTORY` moves; lineage has
them all). Each attempted transition is one lineage entry (`transition`, or `denied` when its
`on_enter` was refused) with `extra: {from, to, trigger}`; an event no transition takes is a
`denied` entry too, so a refused event is on the record. Timeouts are durable because the
due time is derived from `entered_at`, which is stored, and the `evaluate` reminder (kept by
the sidecar) is moved to fire at the due time once it is nearer than the next periodic fire:
the object never polls faster than its period to catch a timeout.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from policies import DataTooLarge, Decision, Policy, TooDeep, WorkflowOutcome, WorkflowStatus

from ._auth import who_of
from ._effects import outbox_items
from ._errors import BadRequestError, ConflictError, ForbiddenError
from ._meta import Meta, StoredObject
from ._requests import KeyedRequest

if TYPE_CHECKING:
    from ._turns import Turn

HISTORY = 20
# How early daprd 1.18's scheduler may deliver a fire (it truncates "now" to the second).
EARLY_FIRE = timedelta(seconds=1)
REMINDER = "evaluate"
# Bounded: meta is written by every turn (32 CloudEvent ids are about 2 KiB).
REMEMBERED_DELIVERIES = 32
# CloudEvent times have whole seconds (Dapr truncates) and publishers' clocks drift a little.
CLOCK_ALLOWANCE = timedelta(seconds=5)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def status_of(meta: Meta) -> WorkflowStatus | None:
    raw = meta.workflow
    if not raw:
        return None
    entered = datetime.fromisoformat(str(raw["entered_at"]).replace("Z", "+00:00"))
    return WorkflowStatus(str(raw["state"]), entered)


def view(policy: Policy, meta: Meta) -> dict[str, Any] | None:
    """What `GET /objects/{id}` shows: state, entered_at, due_at, terminal, events, history."""
    status = status_of(meta)
    if status is None:
        return None
    history = list((meta.workflow or {}).get("history", []))
    return {**policy.workflow_view(status), "history": history}


class Recorder:
    """Turns a WorkflowOutcome into lineage entries, outbox items and meta, for one turn.

    Every entry of one trigger (a start, an event, a timeout check) records the same `inputs`
    with its `step` index, and the time the engine saw: replay re-runs the trigger once and
    matches all of them."""

    def __init__(
        self,
        turn: Turn,
        policy: Policy,
        meta: Meta,
        who: Mapping[str, Any],
        *,
        now: datetime,
        inputs: Mapping[str, Any],
    ) -> None:
        self.turn, self.policy, self.meta, self.who = turn, policy, meta, dict(who)
        self.now, self.inputs = now, dict(inputs)
        self.entries: list[dict[str, Any]] = []
        self.items: list[dict[str, Any]] = []

    def entry(
        self, kind: str, *, data: Any, decision: Decision | None, extra: Mapping[str, Any]
    ) -> dict[str, Any]:
        entry = self.turn._entry(
            self.meta, kind, who=self.who, policy=self.policy, data=data, now=self.now,
            inputs={**self.inputs, "step": len(self.entries)}, decision=decision, extra=extra,
        )  # fmt: skip
        self.entries.append(entry)
        if decision is not None:
            pubsub = self.turn.host.pubsub
            self.items += outbox_items(entry, decision.effects, default_pubsub=pubsub)
        return entry

    def outcome(self, outcome: WorkflowOutcome, *, event: str | None = None) -> None:
        for kind, decision, extra in outcome.records(event):
            entry = self.entry(kind, data=decision.data, decision=decision, extra=extra)
            if kind == "transition":
                self._remember(extra, entry, outcome)
        status = outcome.status
        history = list((self.meta.workflow or {}).get("history", []))
        self.meta.workflow = {
            "state": status.state,
            "entered_at": _iso(status.entered_at),
            "history": history,
        }

    def _remember(
        self, record: dict[str, Any], entry: Mapping[str, Any], outcome: WorkflowOutcome
    ) -> None:
        moves = list((self.meta.workflow or {}).get("history", []))
        moves.append({**record, "at": entry["time"], "seq": entry["seq"]})
        self.meta.workflow = {**(self.meta.workflow or {}), "history": moves[-HISTORY:]}


def check_size(turn: Turn, outcome: WorkflowOutcome) -> None:
    """Raise DataTooLarge/TooDeep when the outcome's steps would leave data over the host's
    limits. Transitions are rare, so one full measurement per outcome is cheap enough."""
    if any(step.decision.changes for step in outcome.steps):
        turn.host.inputs.check_data(outcome.data, what="the data after the workflow step")


async def schedule_due(turn: Turn, policy: Policy, meta: Meta, now: datetime) -> None:
    """Move the reminder to the state's due time when that comes before the next periodic
    fire; the reminder keeps its period afterwards, so normal cycles resume by themselves."""
    period = policy.effective_period(turn.host.limits)
    if meta.reminder_period_s != period.total_seconds():
        await turn.schedule(policy, meta)
    status = status_of(meta)
    due = None if status is None else policy.workflow_due(status)
    if due is None or due <= now or due - now >= period or meta.reminder_due_at == _iso(due):
        return
    await turn.reminders.register_reminder(REMINDER, b"", due_time=due - now, period=period)
    meta.reminder_due_at = _iso(due)


async def on_install(
    turn: Turn,
    policy: Policy,
    meta: Meta,
    data: dict[str, Any],
    who: Mapping[str, Any],
    now: datetime,
) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """Start the workflow of a new object (or of an amendment that adds one); refuse an
    amendment whose workflow lacks the object's current state."""
    if not policy.has_workflow:
        return data, [], []
    status = status_of(meta)
    if status is not None:
        if status.state not in policy.workflow_states:
            raise ConflictError(
                f"the new policy's workflow has no state {status.state!r}, where the object "
                "is; keep that state in the successor"
            )
        return data, [], []
    outcome = policy.workflow_start(
        data, object_id=turn.object_id, now=now, limits=turn.host.limits
    )
    if outcome.refused is not None:
        raise ForbiddenError(f"the workflow cannot start: {outcome.refused}")
    recorder = Recorder(turn, policy, meta, who, now=now, inputs=turn.inputs("start"))
    recorder.outcome(outcome)
    return outcome.data, recorder.entries, recorder.items


def fire_time(meta: Meta, now: datetime) -> datetime:
    """When a fire counts as happening: daprd's scheduler may fire up to a second early (it
    truncates to the second), so a fire that arrives within that of the moment the reminder
    was moved to is that moment's fire, and its timeout is taken now, not a period later."""
    if meta.reminder_due_at is not None:
        due = datetime.fromisoformat(meta.reminder_due_at.replace("Z", "+00:00"))
        if now < due <= now + EARLY_FIRE:
            return due
    return now


async def on_fire(turn: Turn, stored: StoredObject, policy: Policy, now: datetime) -> None:
    """A reminder fire: take due timeouts (and eventless transitions), then reschedule.
    Runs before the duplicate-fire check: a due fire may come right after a periodic one."""
    meta = stored.meta
    now = fire_time(meta, now)
    status = status_of(meta)
    if status is None:
        outcome = policy.workflow_start(
            stored.data, object_id=turn.object_id, now=now, limits=turn.host.limits
        )
    else:
        outcome = policy.workflow_timeouts(
            stored.data, status=status, object_id=turn.object_id, now=now,
            cycle=meta.cycles, limits=turn.host.limits,
        )  # fmt: skip
    trigger = turn.inputs("start") if status is None else turn.inputs("timeout", cycle=meta.cycles)
    recorder = Recorder(turn, policy, meta, {"reminder": REMINDER}, now=now, inputs=trigger)
    try:
        check_size(turn, outcome)
    except (DataTooLarge, TooDeep) as exc:  # blocked like a denied on_enter; the object runs on
        reason = f"{exc.code}: {exc.message}"
        meta.last_error = reason
        state = None if status is None else status.state
        denial = Decision(
            data=stored.data, denied=[{"state": state, "reason": reason, "by": "size"}]
        )
        extra = {"state": state, "trigger": "timeout" if status else "start"}
        recorder.entry("denied", data=stored.data, decision=denial, extra=extra)
        outcome = WorkflowOutcome(data=stored.data, status=outcome.status, steps=())
    if outcome.steps:
        recorder.outcome(outcome)
        stored.data = outcome.data
        stored.outbox = [*stored.outbox, *recorder.items]
    await schedule_due(turn, policy, meta, now)
    await turn.store.stage(
        meta=meta, data=stored.data, entries=recorder.entries, outbox=stored.outbox
    )
    await turn.store.commit()
    stored.outbox = await turn.flush_outbox(stored.outbox, meta)


async def on_event(
    turn: Turn,
    stored: StoredObject,
    policy: Policy,
    name: str,
    params: dict[str, Any],
    *,
    caller: Mapping[str, Any],
    who: Mapping[str, Any],
    message: Mapping[str, Any] | None = None,
    source: tuple[str, str] | None = None,
    record_refusal: bool = True,
    keyed: KeyedRequest | None = None,
) -> dict[str, Any]:
    """Handle one workflow event on a loaded object, commit its record, deliver effects.
    `record_refusal=False`: a refused event stages and commits nothing (the caller decides).
    `keyed`: an accepted event's outcome is recorded under its idempotency key."""
    meta, now = stored.meta, turn.host.clock.now()
    status = status_of(meta)
    if status is None:
        raise ConflictError(f"object {turn.object_id!r} has not started its workflow yet")
    outcome = policy.workflow_event(
        name, params, status=status, caller=caller, data=stored.data,
        object_id=turn.object_id, message=message, now=now, limits=turn.host.limits,
    )  # fmt: skip
    if outcome.refused is not None and not record_refusal:
        return {"accepted": False, "refused": outcome.refused, "seq": meta.seq}
    check_size(turn, outcome)
    inputs = turn.inputs("event", caller=dict(caller), event=name, params=params)
    if message is not None and source is not None:
        inputs.update(message=dict(message), pubsub=source[0], topic=source[1])
    recorder = Recorder(turn, policy, meta, who, now=now, inputs=inputs)
    recorder.outcome(outcome, event=name)
    outbox = [*stored.outbox, *recorder.items]
    await schedule_due(turn, policy, meta, now)
    await turn.store.stage(meta=meta, data=outcome.data, entries=recorder.entries, outbox=outbox)
    result = {
        "accepted": outcome.refused is None,
        "refused": outcome.refused,
        "workflow": view(policy, meta),
        "denied": [d for s in outcome.steps for d in s.decision.denied],
        "errors": [*outcome.errors, *(e for s in outcome.steps for e in s.decision.errors)],
        "seq": meta.seq,
    }
    if keyed is not None and outcome.refused is None:
        await keyed.stage(event_result(result), meta=meta)
    await turn.store.commit()
    await turn.flush_outbox(outbox, meta)
    return result


def event_result(result: Mapping[str, Any]) -> dict[str, Any]:
    """An accepted event, answered as a command is."""
    return {
        "result": result["workflow"],
        "applied": True,
        "denied": result["denied"],
        "errors": result["errors"],
        "seq": result["seq"],
    }


async def event_command(
    turn: Turn,
    stored: StoredObject,
    policy: Policy,
    name: str,
    params: dict[str, Any],
    *,
    caller: Mapping[str, Any],
    keyed: KeyedRequest | None = None,
) -> dict[str, Any]:
    """`POST /objects/{id}/commands/{event}`. A declared command of the same name runs first
    (its `when` is the gate, its actions apply) and the event follows: one turn, one state
    transaction. When the event is refused, nothing the command did is applied or published;
    only the refusal is recorded. Without such a command, the policy's `event` permission
    must admit the caller."""
    who = who_of(caller)
    with_command = name in policy.commands
    if with_command:
        decision, outbox = await turn.stage_command(stored, policy, name, params, caller=caller)
        if not decision.applied and decision.denied:  # its own actions were refused: no event
            denied = turn.command_result(decision, stored.meta)
            if keyed is not None:
                await keyed.stage(denied, meta=stored.meta)
            await turn.store.commit()
            await turn.flush_outbox(outbox, stored.meta)
            return denied
        stored = replace(stored, data=decision.data, outbox=outbox)
    elif not policy.allows("event", caller, object_id=turn.object_id, data=stored.data):
        raise ForbiddenError(f"the policy's `event` permission denies this caller ({name!r})")
    result = await on_event(
        turn, stored, policy, name, params, caller=caller, who=who,
        record_refusal=not with_command, keyed=keyed,
    )  # fmt: skip
    if not result["accepted"] and with_command:
        await turn.store.discard()  # the command's staged changes and effects go too
        fresh = await turn.load_required()
        result = await on_event(turn, fresh, policy, name, params, caller=caller, who=who)
    if not result["accepted"]:
        raise ConflictError(f"event {name!r} refused: {result['refused']}", seq=result["seq"])
    return event_result(result)


def replayed(meta: Meta, message: Mapping[str, Any]) -> str | None:
    """Why a message is not news for this object, if it is not.

    Redis Streams starts a new consumer group (a new deployment) at the beginning of the
    stream and redelivers unacknowledged messages without a cap: without this, old events
    would run through the workflow again, as new transitions or new denials."""
    message_id = message.get("id")
    if isinstance(message_id, str) and message_id in meta.delivered:
        return "already delivered"
    sent, created = message.get("time"), meta.created_at
    if isinstance(sent, str) and created is not None:
        try:
            sent_at = datetime.fromisoformat(sent.replace("Z", "+00:00"))
            created_at = datetime.fromisoformat(created.replace("Z", "+00:00"))
            if sent_at.tzinfo is not None and sent_at < created_at - CLOCK_ALLOWANCE:
                return "published before the object existed"
        except ValueError:
            return None
    return None


def remember_delivery(meta: Meta, message: Mapping[str, Any]) -> None:
    message_id = message.get("id")
    if isinstance(message_id, str) and message_id:
        meta.delivered = [*meta.delivered[-(REMEMBERED_DELIVERIES - 1) :], message_id]


async def deliver_message(turn: Turn, request: Mapping[str, Any]) -> dict[str, Any]:
    """A pub/sub message routed to this object by the app (through the sidecar). It is
    trusted as much as a publish to the topic (both need the sidecar's API token); the
    policy's `subscribe` entry decides whether it is an event for this object."""
    pubsub, topic, message = request.get("pubsub"), request.get("topic"), request.get("event")
    if not isinstance(pubsub, str) or not isinstance(topic, str) or not isinstance(message, dict):
        raise BadRequestError("`pubsub` and `topic` must be strings and `event` an object")
    stored = await turn.load_required()
    turn.ensure_active(stored)
    stale = replayed(stored.meta, message)
    if stale is not None:  # acknowledged, nothing recorded: old news is not a new event
        return {"accepted": False, "ignored": stale, "seq": stored.meta.seq}
    policy = turn.policy_of(stored)
    name = policy.subscribed_event(
        pubsub=pubsub, topic=topic, message=message, object_id=turn.object_id,
        data=stored.data, now=turn.host.clock.now(),
    )  # fmt: skip
    remember_delivery(stored.meta, message)
    params = message.get("data")
    key = f"{pubsub}/{topic}"
    caller = {"iss": "dapr", "sub": key, "roles": []}
    who = {"pubsub": key, "message": str(message.get("id", ""))}
    return await on_event(
        turn, stored, policy, name, params if isinstance(params, dict) else {},
        caller=caller, who=who, message=message, source=(pubsub, topic),
    )  # fmt: skip
