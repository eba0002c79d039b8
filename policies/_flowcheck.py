"""Compiling and checking a policy's `workflow` and `subscribe` sections at load.

A workflow that could wedge an object (a state nothing reaches, a transition to nowhere, a
state with no way out, two starting points) is refused before it is ever signed or installed,
so every problem is reported at once, each naming the state and transition to fix.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from ._cel import Expr, compile_expr
from ._durations import parse_duration
from ._errors import InvalidPolicy
from ._limits import topic_key
from ._model import Action, PolicyDocument, Workflow, WorkflowState

if TYPE_CHECKING:
    from ._compile import Block

# (kind, name, when, actions) -> a compiled Block; injected by `_compile` to avoid a cycle.
BlockFactory = Callable[[str, str, str, tuple[Action, ...]], "Block"]


@dataclass(frozen=True, slots=True)
class Edge:
    """One transition. `guard` is a Block without actions so its errors are recorded like a
    rule's; `after` is the timeout measured from the state's entry."""

    source: str
    target: str
    on: str | None
    after: timedelta | None
    after_text: str | None
    guard: Block


@dataclass(frozen=True, slots=True)
class StateSpec:
    name: str
    enter: Block
    edges: tuple[Edge, ...]
    terminal: bool
    timeout: timedelta | None  # the earliest `after` of its transitions


@dataclass(frozen=True, slots=True)
class CompiledWorkflow:
    initial: str
    states: Mapping[str, StateSpec]
    events: frozenset[str]


@dataclass(frozen=True, slots=True)
class CompiledSubscription:
    key: str  # "pubsub/topic"
    event: str
    when: Expr
    object: Expr


def compile_workflow(doc: PolicyDocument, *, block: BlockFactory) -> CompiledWorkflow | None:
    """The compiled workflow, or None without one; raises InvalidPolicy listing every problem."""
    workflow = doc.workflow
    if workflow is None:
        return None
    problems: list[dict[str, str]] = []
    initial = _initial(workflow, problems)
    states = {
        name: _state(name, spec, workflow, block, problems)
        for name, spec in workflow.states.items()
    }
    if initial is not None:
        _check_reachable(initial, states, problems)
    _raise(problems)
    if initial is None:  # unreachable: _initial recorded a problem, so _raise raised
        raise InvalidPolicy("workflow: no initial state; set workflow.initial")
    events = frozenset(e.on for s in states.values() for e in s.edges if e.on is not None)
    return CompiledWorkflow(initial=initial, states=states, events=events)


def _problem(problems: list[dict[str, str]], loc: str, msg: str) -> None:
    problems.append({"loc": loc, "msg": msg})


def _raise(problems: list[dict[str, str]]) -> None:
    if problems:
        listed = "; ".join(f"{p['loc']}: {p['msg']}" for p in problems)
        raise InvalidPolicy(
            f"workflow is invalid ({len(problems)} problem(s)): {listed}", details=problems
        )


def _initial(workflow: Workflow, problems: list[dict[str, str]]) -> str | None:
    flagged = [name for name, spec in workflow.states.items() if spec.initial]
    declared = [workflow.initial] if workflow.initial is not None else []
    named = sorted(set(flagged + declared))
    if len(named) > 1:
        _problem(
            problems,
            "workflow.initial",
            f"more than one initial state ({', '.join(named)}); keep exactly one",
        )
        return None
    if not named:
        _problem(problems, "workflow.initial", "no initial state; set workflow.initial")
        return None
    if named[0] not in workflow.states:
        known = ", ".join(workflow.states)
        _problem(problems, "workflow.initial", f"{named[0]!r} is not a state; states: {known}")
        return None
    return named[0]


def _state(
    name: str,
    spec: WorkflowState,
    workflow: Workflow,
    block: BlockFactory,
    problems: list[dict[str, str]],
) -> StateSpec:
    loc = f"workflow.states.{name}"
    if spec.terminal and spec.transitions:
        _problem(problems, loc, "a terminal state has no transitions; remove them or terminal")
    if not spec.terminal and not spec.transitions:
        _problem(
            problems,
            loc,
            "not terminal and has no transitions: no way out; add one or mark it terminal: true",
        )
    edges = tuple(
        _edge(name, index, t.to, t.on, t.after, t.when, workflow, block, problems)
        for index, t in enumerate(spec.transitions)
    )
    timeouts = [e.after for e in edges if e.after is not None]
    return StateSpec(
        name=name,
        enter=block("state", name, "true", spec.on_enter),
        edges=edges,
        terminal=spec.terminal,
        timeout=min(timeouts) if timeouts else None,
    )


def _edge(
    source: str,
    index: int,
    target: str,
    on: str | None,
    after: str | None,
    when: str | None,
    workflow: Workflow,
    block: BlockFactory,
    problems: list[dict[str, str]],
) -> Edge:
    loc = f"workflow.states.{source}.transitions.{index}"
    if target not in workflow.states:
        known = ", ".join(workflow.states)
        _problem(problems, loc, f"to {target!r} is not a state; states: {known}")
    if on is not None and after is not None:
        _problem(
            problems, loc, "a transition is taken `on` an event or `after` a timeout, not both"
        )
    if after is not None and when is not None:
        _problem(problems, loc, "a timeout has no `when`: it fires at its due time; drop `when`")
    delay = None
    if after is not None:
        try:
            delay = parse_duration(after, field=f"{loc}.after")
        except InvalidPolicy as exc:
            _problem(problems, loc, exc.message)
    guard = block("transition", f"{source}->{target}", when or "true", ())
    return Edge(source, target, on, delay, after, guard)


def _check_reachable(
    initial: str, states: Mapping[str, StateSpec], problems: list[dict[str, str]]
) -> None:
    seen, frontier = {initial}, [initial]
    while frontier:
        state = states.get(frontier.pop())
        for edge in state.edges if state else ():
            if edge.target not in seen and edge.target in states:
                seen.add(edge.target)
                frontier.append(edge.target)
    unreachable = [name for name in states if name not in seen]
    if unreachable:
        _problem(
            problems,
            "workflow.states",
            f"unreachable from initial {initial!r}: {', '.join(unreachable)}; "
            "add a transition to them or remove them",
        )


def compile_subscriptions(
    doc: PolicyDocument, workflow: CompiledWorkflow | None
) -> tuple[CompiledSubscription, ...]:
    """Each `subscribe` entry must name an `on` event of the workflow."""
    problems: list[dict[str, str]] = []
    compiled = []
    for index, sub in enumerate(doc.subscribe):
        loc = f"subscribe.{index}"
        if workflow is None:
            _problem(problems, loc, "subscriptions deliver workflow events; add a workflow")
        elif sub.event not in workflow.events:
            known = ", ".join(sorted(workflow.events)) or "none"
            _problem(
                problems,
                loc,
                f"event {sub.event!r} is not an `on` event of any transition; events: {known}",
            )
        compiled.append(
            CompiledSubscription(
                key=topic_key(sub.topic, sub.pubsub),
                event=sub.event,
                when=compile_expr(sub.when, where=f"{loc} when"),
                object=compile_expr(sub.object, where=f"{loc} object"),
            )
        )
    _raise(problems)
    return tuple(compiled)


def yaml_keys(document: Mapping[str, Any]) -> dict[str, Any]:
    """`document` with YAML 1.1's boolean `on` keys in transitions spelled "on" again, so
    the signed JSON payload is plain JSON with string keys."""
    doc = dict(document)
    workflow = doc.get("workflow")
    if not isinstance(workflow, dict) or not isinstance(workflow.get("states"), dict):
        return doc
    states = {}
    for name, spec in workflow["states"].items():
        if isinstance(spec, dict) and isinstance(spec.get("transitions"), list):
            transitions = [
                {("on" if k is True else k): v for k, v in t.items()} if isinstance(t, dict) else t
                for t in spec["transitions"]
            ]
            spec = {**spec, "transitions": transitions}
        states[name] = spec
    doc["workflow"] = {**workflow, "states": states}
    return doc
