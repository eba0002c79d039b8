"""Lint warnings about a workflow's transitions and states that can never be taken.

Loading already refuses states unreachable along the graph (`_flowcheck`). This looks at how
the engine picks a transition (`_workflow`): for an event, or eventless, the first one in
order whose guard holds; for timeouts, the earliest. So a transition after an unconditional
one with the same trigger, a later timeout, or a guard that is constantly false is never
taken, and a state only such transitions lead to is never entered.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from ._cel import CelRuntimeError, compile_expr
from ._durations import parse_duration
from ._errors import InvalidPolicy
from ._lintwarn import Finding
from ._model import PolicyDocument, Transition, Workflow


def workflow_warnings(doc: PolicyDocument) -> Iterator[Finding]:
    workflow = doc.workflow
    if workflow is None:
        return
    dead: set[tuple[str, int]] = set()
    for state, spec in workflow.states.items():
        for index, reason in _never_taken(spec.transitions):
            dead.add((state, index))
            target = spec.transitions[index].to
            yield Finding(
                "workflow",
                f"transition {index} of state {state!r} (to {target!r}) is never taken: {reason}",
                ("workflow", "states", state, "transitions", index),
            )
    for state in _never_entered(workflow, dead):
        yield Finding(
            "workflow",
            f"state {state!r} is never entered: every transition to it is never taken",
            ("workflow", "states", state),
            at_key=True,
        )


def _never_taken(transitions: tuple[Transition, ...]) -> Iterator[tuple[int, str]]:
    earliest: tuple[int, timedelta, str] | None = None
    open_by_trigger: dict[str, int] = {}
    for index, t in enumerate(transitions):
        if t.after is not None:
            delay = _delay(t.after)
            if delay is None:
                continue
            if earliest is not None and delay >= earliest[1]:
                yield index, f"`after: {earliest[2]}` of transition {earliest[0]} comes first"
                continue
            if earliest is not None:
                yield earliest[0], f"`after: {t.after}` of transition {index} comes first"
            earliest = (index, delay, t.after)
            continue
        trigger = f"event {t.on!r}" if t.on is not None else "no event"
        if trigger in open_by_trigger:
            first = open_by_trigger[trigger]
            yield index, f"transition {first} ({trigger}) has no condition and is tried first"
            continue
        verdict = _guard(t.when)
        if verdict is False:
            yield index, f"its `when` {t.when!r} reads nothing and is never true"
        elif verdict is True:
            open_by_trigger[trigger] = index


def _delay(text: str) -> timedelta | None:
    try:
        return parse_duration(text, field="after")
    except InvalidPolicy:
        return None


def _guard(when: str | None) -> bool | None:
    """True: always holds; False: never does; None: depends on its inputs."""
    if when is None:
        return True
    try:
        expr = compile_expr(when, where="when")
    except InvalidPolicy:
        return None
    if expr.needs:
        return None
    try:
        return expr.run({}) is True
    except CelRuntimeError:
        return False


def _never_entered(workflow: Workflow, dead: set[tuple[str, int]]) -> list[str]:
    initial = workflow.initial or next(
        (name for name, spec in workflow.states.items() if spec.initial), None
    )
    if initial is None or initial not in workflow.states:
        return []
    seen, frontier = {initial}, [initial]
    while frontier:
        state = frontier.pop()
        for index, t in enumerate(workflow.states[state].transitions):
            if (state, index) not in dead and t.to in workflow.states and t.to not in seen:
                seen.add(t.to)
                frontier.append(t.to)
    return [name for name in workflow.states if name not in seen]
