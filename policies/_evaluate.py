"""Running rules and commands on a working copy, admitting each block's actions as a unit.

A block (a rule, or a command's `do`) runs in steps: its guard; the policy's static verdict
on its actions; the host limits; its expressions (all evaluated against the data as it was
when the block started); the `max_actions` budget; the JSON Schema on the would-be data. Any
failure drops the whole block and is recorded; the working copy is untouched because updates
are copy-on-write (`_paths`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ._cel import CelRuntimeError, Expr
from ._compile import Block, Compiled, CompiledAction
from ._decision import Decision
from ._json import NotJson, same, to_json
from ._limits import HostLimits
from ._paths import PathConflict, get_path, set_path, unset_path


class _Failed(Exception):
    """A block was refused; carries the record for `denied` or `errors`."""

    def __init__(self, record: dict[str, Any], *, error: bool) -> None:
        super().__init__(record)
        self.record = record
        self.error = error


class Run:
    """One Decision in the making: the working data, the budget and the records."""

    def __init__(
        self,
        compiled: Compiled,
        data: dict[str, Any],
        *,
        scope: dict[str, Any],
        limits: HostLimits | None,
        max_actions: int,
    ) -> None:
        self.compiled = compiled
        self.data = data
        self.scope = scope
        scope["data"] = data
        self.limits = limits
        self.budget = max_actions
        self.changes: list[dict[str, Any]] = []
        self.effects: list[dict[str, Any]] = []
        self.denied: list[dict[str, Any]] = []
        self.errors: list[dict[str, Any]] = []
        self.fired: list[str] = []

    def rules(self) -> None:
        """One pass over the rules in document order."""
        for block in self.compiled.rules:
            if self.guard(block) and self.apply(block):
                self.fired.append(block.name)

    def guard(self, block: Block) -> bool:
        """The block's `when`; an error or a non-bool result is recorded and counts as false."""
        try:
            verdict = block.when.run(self.scope)
        except CelRuntimeError as exc:
            self.errors.append(_error(block, block.when, str(exc)))
            return False
        if isinstance(verdict, bool):
            return verdict
        message = f"when must be a bool, got {type(verdict).__name__}"
        self.errors.append(_error(block, block.when, message))
        return False

    def apply(self, block: Block) -> bool:
        """Admit and commit the block's actions together, or record why not."""
        try:
            data, changes, effects = self._propose(block)
            self._admit(block, data, changes, effects)
        except _Failed as failed:
            (self.errors if failed.error else self.denied).append(failed.record)
            return False
        self.data = data
        self.scope["data"] = data
        self.changes.extend(changes)
        self.effects.extend(effects)
        self.budget -= len(changes) + len(effects)
        return True

    def _propose(
        self, block: Block
    ) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
        for action in block.actions:
            self._check_authority(block, action)
        data = self.data
        changes: list[dict[str, Any]] = []
        effects: list[dict[str, Any]] = []
        for action in block.actions:
            value = self._value(block, action)
            if action.kind == "set":
                found, old = get_path(data, action.path)
                if not (found and same(old, value)):
                    data = self._set(block, action, data, value)
                    changes.append({"op": "set", "path": action.target, "value": value})
            elif action.kind == "unset":
                updated = unset_path(data, action.path)
                if updated is not None:
                    data = updated
                    changes.append({"op": "unset", "path": action.target})
            else:
                effects.append({"kind": action.kind, **action.extra, "data": value})
        return data, changes, effects

    def _check_authority(self, block: Block, action: CompiledAction) -> None:
        if action.policy_denial is not None:
            why = {"by": "capability", "capability": _CAPABILITY[action.kind]}
            record = _denial(block, action.policy_denial, action.kind, why, action.target)
            raise _Failed(record, error=False)
        reason = self._host_denial(action)
        if reason is not None:
            why = {"by": "host_limit", "limit": _HOST_LIMIT[action.kind]}
            raise _Failed(_denial(block, reason, action.kind, why, action.target), error=False)

    def _host_denial(self, action: CompiledAction) -> str | None:
        limits = self.limits
        if limits is None or action.kind in ("set", "unset"):
            return None
        allowed = {
            "publish": limits.allows_topic,
            "invoke_binding": limits.allows_binding,
            "invoke_service": limits.allows_service,
        }[action.kind](action.target)
        return None if allowed else f"{action.target!r} is not allowed by the host limits"

    def _value(self, block: Block, action: CompiledAction) -> Any:
        if action.expr is None:
            return None
        try:
            return to_json(action.expr.run(self.scope))
        except (CelRuntimeError, NotJson) as exc:
            raise _Failed(_error(block, action.expr, str(exc)), error=True) from exc

    def _set(
        self, block: Block, action: CompiledAction, data: dict[str, Any], value: Any
    ) -> dict[str, Any]:
        try:
            return set_path(data, action.path, value)
        except PathConflict as exc:
            raise _Failed(_error(block, action.expr, str(exc)), error=True) from exc

    def _admit(
        self,
        block: Block,
        data: dict[str, Any],
        changes: list[dict[str, Any]],
        effects: list[dict[str, Any]],
    ) -> None:
        count = len(changes) + len(effects)
        if count > self.budget:
            reason = f"max_actions: {count} action(s) exceed the remaining budget {self.budget}"
            why = {"by": "max_actions", "needed": count, "remaining": self.budget}
            raise _Failed(_denial(block, reason, None, why), error=False)
        validator = self.compiled.validator
        if changes and validator is not None:
            problem = validator.problem(data, {c["path"].split(".", 1)[0] for c in changes})
            if problem is not None:
                reason = f"schema: the result would be invalid: {problem}"
                why = {"by": "schema", "path": problem.split(": ", 1)[0]}
                raise _Failed(_denial(block, reason, None, why), error=False)

    def decision(self, result: Any = None) -> Decision:
        return Decision(
            data=self.data,
            changes=self.changes,
            effects=self.effects,
            denied=self.denied,
            errors=self.errors,
            result=result,
            applied=bool(self.changes or self.effects),
            fired=self.fired,
        )


# What refused an action, for `denied` records (explain): which capability list or host limit.
_CAPABILITY = {
    "set": "write",
    "unset": "write",
    "publish": "publish",
    "invoke_binding": "bindings",
    "invoke_service": "services",
}
_HOST_LIMIT = {"publish": "publish", "invoke_binding": "bindings", "invoke_service": "services"}


def _denial(
    block: Block,
    reason: str,
    action: str | None,
    why: dict[str, Any],
    target: str | None = None,
) -> dict[str, Any]:
    """A `denied` record: the block, the action kind and target, a readable `reason`, and
    `by` (capability, host_limit, max_actions, schema, when, size, workflow) with details."""
    record: dict[str, Any] = {block.kind: block.name}
    if action is not None:
        record["action"] = action
    if target is not None:
        record["target"] = target
    record["reason"] = reason
    record.update(why)
    return record


def _error(block: Block, expr: Expr | None, message: str) -> dict[str, Any]:
    return {block.kind: block.name, "expression": expr.source if expr else "", "error": message}


def make_scope(
    *,
    object_id: str,
    cycle: int,
    now: datetime,
    caller: Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The CEL variables other than `data` (which `Run` keeps current)."""
    return {
        "data": {},
        "params": dict(params or {}),
        "caller": dict(caller or {}),
        "object": {"id": object_id, "cycle": cycle},
        "now": now,
        "event": {},  # a pub/sub message, for subscription and workflow expressions
    }
