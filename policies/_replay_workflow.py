"""Replaying a workflow trigger (start, event, timeout): one trigger may have made several
entries, which share its inputs and are matched in order (policies._replay)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from ._decision import Decision
from ._errors import PolicyError
from ._inputs import InputLimits
from ._limits import HostLimits
from ._policy import Policy
from ._replayer import Mismatch, Replayer, same
from ._workflow import WorkflowOutcome


def replay_workflow(
    replayer: Replayer, entries: Sequence[Mapping[str, Any]], at: int, inputs: Mapping[str, Any]
) -> int:
    """Re-run one workflow trigger (start, event, timeout) and match the entries it made,
    which share its inputs; returns how many entries it covered."""
    entry = entries[at]
    policy, trigger = replayer.current(entry), inputs["trigger"]
    limits, bounds = replayer.host(inputs)
    now = replayer.now(entry)
    event: str | None = None
    if trigger == "start":
        if replayer.status is not None:
            raise Mismatch("the workflow had started already")
        outcome = policy.workflow_start(
            replayer.data, object_id=replayer.object_id, now=now, limits=limits
        )
    elif trigger == "timeout":
        cycle = inputs.get("cycle")
        if replayer.status is None or not isinstance(cycle, int):
            raise Mismatch("a timeout needs a started workflow and a cycle number")
        outcome = policy.workflow_timeouts(
            replayer.data, status=replayer.status, object_id=replayer.object_id, cycle=cycle,
            now=now, limits=limits,
        )  # fmt: skip
    else:
        event = inputs.get("event") if isinstance(inputs.get("event"), str) else None
        if event is None or replayer.status is None:
            raise Mismatch("an event needs its name and a started workflow")
        outcome = _event(replayer, policy, event, inputs, limits, now)
    records, size_refused = _records(replayer, outcome, bounds, trigger, event)
    if not records:
        raise Mismatch("re-executing this trigger makes no entry; the history has one")
    for offset, (kind, decision, extra) in enumerate(records):
        if at + offset >= len(entries):
            raise Mismatch(f"the workflow step makes {len(records)} entries; some are missing")
        step = entries[at + offset]
        if not same(step.get("inputs"), {**inputs, "step": offset}):
            raise Mismatch(f"entry {step.get('seq')} should be step {offset} of this trigger")
        replayer.current(step)
        replayer.expect(step, kind, decision, extra)
    if not size_refused:
        replayer.status = outcome.status
    return len(records)


def _event(
    replayer: Replayer,
    policy: Policy,
    event: str,
    inputs: Mapping[str, Any],
    limits: HostLimits | None,
    now: datetime,
) -> WorkflowOutcome:
    caller, params = replayer.caller(inputs), inputs.get("params")
    if not isinstance(params, dict):
        raise Mismatch("its inputs lack the event's params")
    message = inputs.get("message")
    assert replayer.status is not None
    try:
        if message is not None:
            pubsub, topic = inputs.get("pubsub"), inputs.get("topic")
            if (
                not isinstance(message, dict)
                or not isinstance(pubsub, str)
                or not isinstance(topic, str)
            ):
                raise Mismatch("a delivered event records its message, pubsub and topic")
            named = policy.subscribed_event(
                pubsub=pubsub, topic=topic, message=message, object_id=replayer.object_id,
                data=replayer.data, now=now,
            )  # fmt: skip
            if named != event:
                raise Mismatch(f"the policy maps that message to {named!r}, not {event!r}")
        elif event not in policy.commands and not policy.allows(
            "event", caller, object_id=replayer.object_id, data=replayer.data, now=now
        ):
            raise Mismatch("the policy's `event` permission refuses its caller")
        return policy.workflow_event(
            event, params, status=replayer.status, caller=caller, data=replayer.data,
            object_id=replayer.object_id, message=message, now=now, limits=limits,
        )  # fmt: skip
    except PolicyError as exc:
        raise Mismatch(f"the event is refused when re-executed ({exc.code})") from exc


def _records(
    replayer: Replayer,
    outcome: WorkflowOutcome,
    bounds: InputLimits,
    trigger: str,
    event: str | None,
) -> tuple[list[tuple[str, Decision, dict[str, Any]]], bool]:
    """What the host records for an outcome (and whether its data was refused as too
    large, which a fire records as one denial and an event refuses outright)."""
    if any(step.decision.changes for step in outcome.steps):
        try:
            bounds.check_data(outcome.data, what="the data after the workflow step")
        except PolicyError as exc:
            if trigger == "event":
                raise Mismatch("the host refuses this event's data as too large") from exc
            reason = f"{exc.code}: {exc.message}"
            state = None if replayer.status is None else replayer.status.state
            denial = Decision(
                data=replayer.data, denied=[{"state": state, "reason": reason, "by": "size"}]
            )
            kind = "timeout" if trigger == "timeout" else "start"
            return [("denied", denial, {"state": state, "trigger": kind})], True
    return outcome.records(event), False
