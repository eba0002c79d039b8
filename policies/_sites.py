"""Every CEL expression and action of a policy document with its location in the file.

`_inputs.expressions` names expressions the way error messages do; lint also needs the
pydantic-style location of each (to find its YAML node) and what its `params` may hold.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ._model import (
    Action,
    InvokeBindingAction,
    InvokeServiceAction,
    PolicyDocument,
    PublishAction,
    SetAction,
)
from ._yamlpos import Loc


@dataclass(frozen=True, slots=True)
class Site:
    """One expression. `params` is what `params` holds there: the declared names (empty
    where nothing is passed), or None where it depends on the event that led there."""

    loc: Loc
    where: str
    source: str
    params: Mapping[str, str] | None
    params_owner: str
    guard: bool = False


@dataclass(frozen=True, slots=True)
class ActionSite:
    loc: Loc
    where: str
    action: Action


def expression_sites(doc: PolicyDocument) -> Iterator[Site]:
    """Every CEL source in `doc` (a command's default `when` included)."""
    loc: Loc
    for i, rule in enumerate(doc.rules):
        owner = "a rule (rules get no params)"
        where = f"rule {rule.name!r}"
        yield Site(("rules", i, "when"), f"{where} when", rule.when, {}, owner, guard=True)
        yield from _action_exprs(("rules", i, "do"), where, rule.do, {}, owner)
    for name, cmd in doc.commands.items():
        loc = ("commands", name)
        where = f"command {name!r}"
        owner = f"command {name!r}"
        yield Site((*loc, "when"), f"{where} when", cmd.when, cmd.params, owner, guard=True)
        if cmd.returns is not None:
            yield Site((*loc, "returns"), f"{where} returns", cmd.returns, cmd.params, owner)
        yield from _action_exprs((*loc, "do"), where, cmd.do, cmd.params, owner)
    for name, expr in doc.permissions.items():
        owner = "a permission (permissions get no params)"
        yield Site(("permissions", name), f"permission {name!r}", expr, {}, owner)
    yield from _workflow_exprs(doc)
    for i, sub in enumerate(doc.subscribe):
        owner = "a subscription (subscriptions get no params)"
        loc = ("subscribe", i)
        yield Site((*loc, "when"), f"subscribe {i} when", sub.when, {}, owner, guard=True)
        yield Site((*loc, "object"), f"subscribe {i} object", sub.object, {}, owner)


def _workflow_exprs(doc: PolicyDocument) -> Iterator[Site]:
    if doc.workflow is None:
        return
    for state, spec in doc.workflow.states.items():
        loc = ("workflow", "states", state)
        where = f"state {state!r} on_enter"
        yield from _action_exprs((*loc, "on_enter"), where, spec.on_enter, None, "")
        for i, t in enumerate(spec.transitions):
            if t.when is None:
                continue
            command = doc.commands.get(t.on) if t.on is not None else None
            params = None if command is None else command.params
            owner = f"command {t.on!r} (the event's params)"
            yield Site(
                (*loc, "transitions", i, "when"),
                f"state {state!r} transition {i} when",
                t.when,
                params,
                owner,
                guard=True,
            )


def action_sites(doc: PolicyDocument) -> Iterator[ActionSite]:
    """Every action of rules, commands and workflow states."""
    for i, rule in enumerate(doc.rules):
        for j, action in enumerate(rule.do):
            yield ActionSite(("rules", i, "do", j), f"rule {rule.name!r} action {j}", action)
    for name, cmd in doc.commands.items():
        for j, action in enumerate(cmd.do):
            yield ActionSite(("commands", name, "do", j), f"command {name!r} action {j}", action)
    if doc.workflow is not None:
        for state, spec in doc.workflow.states.items():
            for j, action in enumerate(spec.on_enter):
                loc = ("workflow", "states", state, "on_enter", j)
                yield ActionSite(loc, f"state {state!r} on_enter action {j}", action)


def _action_exprs(
    loc: Loc,
    where: str,
    actions: tuple[Action, ...],
    params: Mapping[str, str] | None,
    owner: str,
) -> Iterator[Site]:
    for j, action in enumerate(actions):
        at = f"{where} action {j}"
        if isinstance(action, SetAction):
            for path, expr in action.set.items():
                yield Site((*loc, j, "set", path), f"{at} set {path!r}", expr, params, owner)
            continue
        key, spec = _effect_spec(action)
        if spec is not None and spec.data is not None:
            yield Site((*loc, j, key, "data"), f"{at} data", spec.data, params, owner)


def _effect_spec(action: Action) -> tuple[str, Any]:
    if isinstance(action, PublishAction):
        return "publish", action.publish
    if isinstance(action, InvokeBindingAction):
        return "invoke_binding", action.invoke_binding
    if isinstance(action, InvokeServiceAction):
        return "invoke_service", action.invoke_service
    return "", None
