"""From a validated document to what evaluation runs: compiled CEL, resolved targets,
static capability verdicts, the schema validator and the evaluation period.

Done once per policy digest (the Policy cache), so nothing here is on the per-cycle path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from fnmatch import translate
from typing import Any

import rfc8785

from ._cel import Expr, compile_expr
from ._durations import parse_duration
from ._errors import InvalidPolicy
from ._flowcheck import (
    CompiledSubscription,
    CompiledWorkflow,
    compile_subscriptions,
    compile_workflow,
)
from ._limits import topic_key, topic_keys
from ._model import (
    Action,
    Command,
    InvokeBindingAction,
    InvokeServiceAction,
    PolicyDocument,
    PublishAction,
    SetAction,
    UnsetAction,
)
from ._paths import Path, covers, split
from ._schema import SchemaCheck

DEFAULT_PERIOD = timedelta(seconds=30)


@dataclass(frozen=True, slots=True)
class CompiledAction:
    """One action: `kind`, its data path or target, the value/data expression, static
    extras (binding operation/metadata), and the policy's verdict on it (None = allowed)."""

    kind: str
    target: str
    path: Path
    expr: Expr | None
    extra: Mapping[str, Any]
    policy_denial: str | None


@dataclass(frozen=True, slots=True)
class Block:
    """A rule or a command: a guard and the actions admitted together."""

    kind: str  # "rule" or "command"
    name: str
    when: Expr
    actions: tuple[CompiledAction, ...]
    params: Mapping[str, str]
    returns: Expr | None


@dataclass(frozen=True, slots=True)
class Compiled:
    rules: tuple[Block, ...]
    commands: Mapping[str, Block]
    permissions: Mapping[str, Expr]
    validator: SchemaCheck | None
    objects: re.Pattern[str]
    period: timedelta
    workflow: CompiledWorkflow | None = None
    subscriptions: tuple[CompiledSubscription, ...] = ()


def compile_document(doc: PolicyDocument) -> Compiled:
    """Compile every expression and check the parts pydantic cannot (CEL, schema, period)."""
    caps = _Caps(doc)
    rules = tuple(
        _block("rule", rule.name, rule.when, rule.do, caps, {}, None) for rule in doc.rules
    )
    commands = {name: _command(name, cmd, caps) for name, cmd in doc.commands.items()}
    permissions = {
        name: compile_expr(expr, where=f"permission {name!r}")
        for name, expr in doc.permissions.items()
    }
    period = DEFAULT_PERIOD
    if doc.evaluation.every is not None:
        period = parse_duration(doc.evaluation.every, field="evaluation.every")
    workflow = compile_workflow(
        doc, block=lambda kind, name, when, do: _block(kind, name, when, do, caps, {}, None)
    )
    return Compiled(
        rules=rules,
        commands=commands,
        permissions=permissions,
        validator=_validator(doc),
        objects=re.compile("|".join(f"(?:{translate(p)})" for p in doc.objects)),
        period=period,
        workflow=workflow,
        subscriptions=compile_subscriptions(doc, workflow),
    )


class _Caps:
    """The policy's capabilities in comparable form."""

    def __init__(self, doc: PolicyDocument) -> None:
        caps = doc.capabilities
        self.write = caps.write
        self.publish = topic_keys(caps.publish)
        self.bindings = frozenset(caps.bindings)
        self.services = frozenset(caps.services)

    def writable(self, path: str) -> bool:
        return any(covers(pattern, path) for pattern in self.write)


def _command(name: str, cmd: Command, caps: _Caps) -> Block:
    where = f"command {name!r}"
    returns = None
    if cmd.returns is not None:
        returns = compile_expr(cmd.returns, where=f"{where} returns")
    return _block("command", name, cmd.when, cmd.do, caps, dict(cmd.params), returns)


def _block(
    kind: str,
    name: str,
    when: str,
    actions: tuple[Action, ...],
    caps: _Caps,
    params: Mapping[str, str],
    returns: Expr | None,
) -> Block:
    where = f"{kind} {name!r}"
    compiled: list[CompiledAction] = []
    for index, action in enumerate(actions):
        compiled.extend(_action(action, caps, f"{where} action {index}"))
    guard = compile_expr(when, where=f"{where} when")
    return Block(kind, name, guard, tuple(compiled), params, returns)


def _opt(expr: str | None, where: str) -> Expr | None:
    return None if expr is None else compile_expr(expr, where=where)


def _action(action: Action, caps: _Caps, where: str) -> list[CompiledAction]:
    if isinstance(action, SetAction):
        return [
            CompiledAction(
                "set",
                path,
                split(path),
                compile_expr(expr, where=f"{where} set {path!r}"),
                {},
                None if caps.writable(path) else f"path {path!r} is not in capabilities.write",
            )
            for path, expr in action.set.items()
        ]
    if isinstance(action, UnsetAction):
        return [
            CompiledAction(
                "unset",
                path,
                split(path),
                None,
                {},
                None if caps.writable(path) else f"path {path!r} is not in capabilities.write",
            )
            for path in action.unset
        ]
    return [_effect(action, caps, where)]


def _effect(
    action: PublishAction | InvokeBindingAction | InvokeServiceAction, caps: _Caps, where: str
) -> CompiledAction:
    if isinstance(action, PublishAction):
        spec = action.publish
        key = topic_key(spec.topic, spec.pubsub)
        pubsub, topic = key.split("/", 1)
        denial = None if key in caps.publish else f"topic {key!r} is not in capabilities.publish"
        extra: dict[str, Any] = {"pubsub": pubsub, "topic": topic}
        return CompiledAction("publish", key, (), _opt(spec.data, where), extra, denial)
    if isinstance(action, InvokeBindingAction):
        b = action.invoke_binding
        denial = None if b.name in caps.bindings else f"binding {b.name!r} is not in capabilities"
        extra = {"name": b.name, "operation": b.operation, "metadata": dict(b.metadata)}
        return CompiledAction("invoke_binding", b.name, (), _opt(b.data, where), extra, denial)
    s = action.invoke_service
    key = f"{s.app_id}/{s.method}"
    denial = None if key in caps.services else f"service {key!r} is not in capabilities.services"
    extra = {"app_id": s.app_id, "method": s.method}
    return CompiledAction("invoke_service", key, (), _opt(s.data, where), extra, denial)


def _validator(doc: PolicyDocument) -> SchemaCheck | None:
    try:
        rfc8785.dumps(doc.data)
    except (rfc8785.CanonicalizationError, TypeError) as exc:
        raise InvalidPolicy(f"data: initial data is not canonical JSON ({exc})") from exc
    if doc.schema_ is None:
        return None
    check = SchemaCheck(doc.schema_)
    problem = check.problem(doc.data)
    if problem is not None:
        raise InvalidPolicy(f"data: initial data violates the schema: {problem}")
    return check
