"""Running a policy's workflow: pure functions from (data, status, trigger, now) to outcome.

A transition is taken in three steps: its guard (`when`, CEL over data, params, caller, event),
then the target state's `on_enter` actions admitted as one block exactly like a rule's
(capabilities ∩ host limits, `max_actions`, schema), then the move. A denied or failing
`on_enter` blocks the move: the object stays where it was and the step says why, so the actor
records it. After every move, eventless transitions (`when` only) are followed, at most once
per state, so a `when: "true"` step such as compensating -> cancelled completes in the same
turn and a cycle of them cannot spin.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ._cel import CelRuntimeError
from ._compile import Compiled
from ._decision import Decision
from ._errors import Forbidden, InvalidParams
from ._evaluate import Run, make_scope
from ._flowcheck import CompiledWorkflow, Edge
from ._json import NotJson, rfc3339, to_json
from ._limits import HostLimits, topic_key
from ._params import check_params


@dataclass(frozen=True, slots=True)
class WorkflowStatus:
    """Where an object's workflow stands: its state and when it entered it."""

    state: str
    entered_at: datetime


@dataclass(frozen=True, slots=True)
class WorkflowStep:
    """One attempted transition. `decision` is its `on_enter` outcome (data after the step,
    changes, effects, denied, errors); `blocked` means the move did not happen."""

    source: str | None
    target: str
    trigger: dict[str, Any]
    decision: Decision
    blocked: bool

    def record(self) -> dict[str, Any]:
        """The lineage `extra` of this step: from, to, trigger (and blocked when it was)."""
        record: dict[str, Any] = {"from": self.source, "to": self.target, "trigger": self.trigger}
        if self.blocked:
            record["blocked"] = True
        return record


@dataclass(frozen=True, slots=True)
class WorkflowOutcome:
    """What a start, an event or a timeout check did.

    `steps` in the order tried (each one lineage entry); `status` and `data` after them;
    `refused` says why an event was taken by no transition (None when one was);
    `errors` are guard failures not tied to a step.
    """

    status: WorkflowStatus
    data: dict[str, Any]
    steps: tuple[WorkflowStep, ...] = ()
    refused: str | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def moved(self) -> bool:
        return any(not step.blocked for step in self.steps)

    def records(self, event: str | None = None) -> list[tuple[str, Decision, dict[str, Any]]]:
        """The lineage entries this outcome makes, as (kind, decision, extra), in order: one
        per step (`transition`, or `denied` when blocked) and, for an `event` no transition
        took, one `denied` entry naming it. The actor writes exactly these and replay
        re-derives them, so both read the same list."""
        records = [
            ("denied" if step.blocked else "transition", step.decision, step.record())
            for step in self.steps
        ]
        if self.refused is not None and event is not None and not self.steps:
            state = self.status.state
            refusal = Decision(
                data=self.data,
                denied=[{"event": event, "state": state, "reason": self.refused, "by": "workflow"}],
                errors=self.errors,
            )
            records.append(("denied", refusal, {"event": event, "state": state}))
        return records


@dataclass(slots=True)
class Engine:
    """One workflow turn's context: what every Run it makes shares."""

    compiled: Compiled
    workflow: CompiledWorkflow
    object_id: str
    now: datetime
    limits: HostLimits | None
    max_actions: int
    cycle: int = 0
    caller: Mapping[str, Any] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)
    event: Mapping[str, Any] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)

    def run(self, data: dict[str, Any]) -> Run:
        scope = make_scope(
            object_id=self.object_id,
            cycle=self.cycle,
            now=self.now,
            caller=self.caller,
            params=self.params,
        )
        scope["event"] = dict(self.event)
        return Run(
            self.compiled, data, scope=scope, limits=self.limits, max_actions=self.max_actions
        )

    def holds(self, edge: Edge, data: dict[str, Any]) -> bool:
        run = self.run(data)
        verdict = run.guard(edge.guard)
        self.errors.extend(run.errors)
        return verdict

    def take(
        self, data: dict[str, Any], source: str | None, target: str, trigger: dict[str, Any]
    ) -> WorkflowStep:
        run = self.run(data)
        blocked = not run.apply(self.workflow.states[target].enter)
        return WorkflowStep(source, target, trigger, run.decision(), blocked)

    def settle(
        self, status: WorkflowStatus, data: dict[str, Any], steps: list[WorkflowStep]
    ) -> tuple[WorkflowStatus, dict[str, Any]]:
        """Follow eventless transitions whose guard holds, visiting each state at most once."""
        visited = {status.state}
        while True:
            edge = next(
                (
                    e
                    for e in self.workflow.states[status.state].edges
                    if e.on is None and e.after is None and self.holds(e, data)
                ),
                None,
            )
            if edge is None or edge.target in visited:
                return status, data
            status, data = self.move(status, data, edge, {"when": edge.guard.when.source}, steps)
            if steps[-1].blocked:
                return status, data
            visited.add(edge.target)

    def move(
        self,
        status: WorkflowStatus,
        data: dict[str, Any],
        edge: Edge,
        trigger: dict[str, Any],
        steps: list[WorkflowStep],
    ) -> tuple[WorkflowStatus, dict[str, Any]]:
        step = self.take(data, status.state, edge.target, trigger)
        steps.append(step)
        if step.blocked:
            return status, data
        return WorkflowStatus(edge.target, self.now), step.decision.data

    def outcome(
        self,
        status: WorkflowStatus,
        data: dict[str, Any],
        steps: list[WorkflowStep],
        refused: str | None = None,
    ) -> WorkflowOutcome:
        return WorkflowOutcome(status, data, tuple(steps), refused, list(self.errors))


def start(engine: Engine, data: dict[str, Any]) -> WorkflowOutcome:
    """Enter the initial state (a new object, or a workflow added by an amendment)."""
    initial = engine.workflow.initial
    step = engine.take(data, None, initial, {"start": initial})
    steps = [step]
    status = WorkflowStatus(initial, engine.now)
    if step.blocked:
        return engine.outcome(status, data, steps, refused=_blocked_reason(step))
    status, data = engine.settle(status, step.decision.data, steps)
    return engine.outcome(status, data, steps)


def handle_event(
    engine: Engine, data: dict[str, Any], status: WorkflowStatus, name: str
) -> WorkflowOutcome:
    """Take the first transition `on: name` from the current state whose guard holds."""
    state = engine.workflow.states[status.state]
    steps: list[WorkflowStep] = []
    if state.terminal:
        reason = f"state {status.state!r} is terminal; event {name!r} refused"
        return engine.outcome(status, data, steps, refused=reason)
    edges = [e for e in state.edges if e.on == name]
    if not edges:
        takes = sorted({e.on for e in state.edges if e.on is not None})
        reason = (
            f"no transition from {status.state!r} on {name!r}; "
            f"it takes: {', '.join(takes) or 'no events'}"
        )
        return engine.outcome(status, data, steps, refused=reason)
    edge = next((e for e in edges if engine.holds(e, data)), None)
    if edge is None:
        reason = f"when is false for every transition from {status.state!r} on {name!r}"
        return engine.outcome(status, data, steps, refused=reason)
    status, data = engine.move(status, data, edge, {"event": name}, steps)
    if steps[-1].blocked:
        return engine.outcome(status, data, steps, refused=_blocked_reason(steps[-1]))
    status, data = engine.settle(status, data, steps)
    return engine.outcome(status, data, steps)


def handle_timeouts(
    engine: Engine, data: dict[str, Any], status: WorkflowStatus
) -> WorkflowOutcome:
    """Fire the earliest due `after` transition, if any, then the eventless ones."""
    steps: list[WorkflowStep] = []
    state = engine.workflow.states[status.state]
    due = [
        e for e in state.edges if e.after is not None and status.entered_at + e.after <= engine.now
    ]
    if due:
        edge = min(due, key=lambda e: e.after or timedelta(0))
        status, data = engine.move(status, data, edge, {"after": edge.after_text}, steps)
        if steps[-1].blocked:
            return engine.outcome(status, data, steps)
    status, data = engine.settle(status, data, steps)
    return engine.outcome(status, data, steps)


def next_due(workflow: CompiledWorkflow, status: WorkflowStatus) -> datetime | None:
    """When the current state's earliest timeout falls due (None: it has none)."""
    state = workflow.states.get(status.state)
    if state is None or state.timeout is None:
        return None
    return status.entered_at + state.timeout


def view(workflow: CompiledWorkflow, status: WorkflowStatus) -> dict[str, Any]:
    """The JSON a reader sees: state, entry time, due time, terminal, the events it takes."""
    state = workflow.states.get(status.state)
    due = next_due(workflow, status)
    return {
        "state": status.state,
        "entered_at": rfc3339(status.entered_at),
        "due_at": None if due is None else rfc3339(due),
        "terminal": bool(state and state.terminal),
        "events": sorted({e.on for e in state.edges if e.on} if state else ()),
    }


def subscribed_event(
    compiled: Compiled,
    *,
    pubsub: str,
    topic: str,
    message: Mapping[str, Any],
    object_id: str,
    data: dict[str, Any],
    now: datetime,
) -> str:
    """The workflow event a pub/sub message is, for this object; Forbidden if no `subscribe`
    entry names the topic, names this object (`object`) and admits the message (`when`)."""
    key = topic_key(topic, pubsub)
    candidates = [s for s in compiled.subscriptions if s.key == key]
    if not candidates:
        raise Forbidden(f"the policy does not subscribe to {key!r}", reason="subscribe")
    scope = make_scope(object_id=object_id, cycle=0, now=now)
    scope["data"], scope["event"] = data, dict(message)
    for sub in candidates:
        try:
            named = sub.object.run(scope)
            admitted = named == object_id and sub.when.run(scope) is True
        except CelRuntimeError:  # a failing expression only fails to admit
            continue
        if admitted:
            return sub.event
    raise Forbidden(
        f"no subscription to {key!r} admits this message for object {object_id!r}",
        reason="subscribe",
    )


def event_params(compiled: Compiled, name: str, params: Any) -> dict[str, Any]:
    """Event params checked as a command's are (`InvalidParams`), before a guard sees them:
    against the declared params of the command of the same name when there is one, else as
    a JSON object."""
    block = compiled.commands.get(name)
    if block is not None:
        return check_params(name, block.params, params)
    if not isinstance(params, Mapping):
        raise InvalidParams(
            f"event {name!r}: params must be an object, got {type(params).__name__}", param=None
        )
    checked: dict[str, Any] = {}
    for key, value in params.items():
        try:
            if not isinstance(key, str):
                raise NotJson(f"key {key!r} is not a string")
            checked[key] = to_json(value)
        except NotJson as exc:
            raise InvalidParams(
                f"event {name!r}: param {key!r} is not JSON: {exc}", param=str(key)
            ) from exc
    return checked


def _blocked_reason(step: WorkflowStep) -> str:
    problems = [str(d.get("reason")) for d in step.decision.denied]
    problems += [str(e.get("error")) for e in step.decision.errors]
    return f"on_enter of {step.target!r} was refused: {'; '.join(problems) or 'denied'}"
