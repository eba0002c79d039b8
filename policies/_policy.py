"""A loaded, verified, compiled policy and what can be asked of it."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ._arguments import checked_caller, checked_data
from ._cel import CelRuntimeError
from ._clock import utc_now
from ._compile import Block, Compiled
from ._decision import Decision
from ._errors import (
    Forbidden,
    InvalidData,
    ObjectNotGoverned,
    Rollback,
    UnknownCommand,
    UntrustedSuccessor,
)
from ._evaluate import Run, make_scope
from ._json import NotJson, to_json
from ._limits import HostLimits
from ._model import PolicyDocument
from ._params import check_params
from ._workflow import (
    Engine,
    WorkflowOutcome,
    WorkflowStatus,
    event_params,
    handle_event,
    handle_timeouts,
    next_due,
    start,
    subscribed_event,
    view,
)


@dataclass(frozen=True, slots=True, eq=False)
class Policy:
    """A verified policy, ready to evaluate. Immutable and shared between objects.

    `digest` is "sha256:" + hex of the JWS bytes; `jws` is the compact form it came from.
    """

    jws: str = field(repr=False)
    digest: str
    document: PolicyDocument = field(repr=False)
    _compiled: Compiled = field(repr=False)

    @property
    def id(self) -> str:
        return self.document.id

    @property
    def version(self) -> int:
        return self.document.version

    @property
    def issuer(self) -> str:
        return self.document.iss

    @property
    def callers(self) -> tuple[str, ...]:
        """The issuers whose caller tokens this policy hears: `callers`, else its own `iss`."""
        return self.document.callers or (self.document.iss,)

    def accepts_caller(self, caller: object) -> bool:
        """Whether `caller`'s claims come from one of `callers` (checked before any CEL: a
        permission need not mention the issuer, and every trusted issuer's tokens verify)."""
        return isinstance(caller, Mapping) and any(caller.get("iss") == i for i in self.callers)

    def check_caller(self, caller: object) -> None:
        """Raise `Forbidden` (reason "callers") unless `accepts_caller(caller)`."""
        if not self.accepts_caller(caller):
            iss = caller.get("iss") if isinstance(caller, Mapping) else None
            raise Forbidden(
                f"policy {self.id!r} accepts callers only from {', '.join(map(repr, self.callers))}"
                f"; this token is from {iss!r}: use a token from one of those issuers",
                reason="callers",
            )

    @property
    def claims(self) -> dict[str, int | None]:
        doc = self.document
        return {"iat": doc.iat, "exp": doc.exp, "nbf": doc.nbf}

    @property
    def initial_data(self) -> dict[str, Any]:
        """A fresh deep copy of the document's `data`, safe to mutate."""
        return copy.deepcopy(self.document.data)

    @property
    def period(self) -> timedelta:
        """`evaluation.every` (30 s when omitted)."""
        return self._compiled.period

    @property
    def on_change(self) -> bool:
        return self.document.evaluation.on_change

    @property
    def max_actions(self) -> int:
        return self.document.evaluation.max_actions

    @property
    def commands(self) -> tuple[str, ...]:
        return tuple(self.document.commands)

    def effective_period(self, limits: HostLimits | None) -> timedelta:
        """The period the host schedules: never shorter than `limits.min_period`."""
        return self.period if limits is None else max(self.period, limits.min_period)

    def effective_max_actions(self, limits: HostLimits | None) -> int:
        if limits is None or limits.max_actions is None:
            return self.max_actions
        return min(self.max_actions, limits.max_actions)

    def governs(self, object_id: str) -> bool:
        """Whether `object_id` matches one of the `objects` glob patterns."""
        return (
            isinstance(object_id, str) and self._compiled.objects.fullmatch(object_id) is not None
        )

    def check_object(self, object_id: str) -> None:
        if not self.governs(object_id):
            raise ObjectNotGoverned(
                f"object {object_id!r} is not governed by policy {self.id!r} "
                f"(objects: {', '.join(self.document.objects)}); use a policy that covers it",
                object_id=str(object_id),
            )

    def evaluate(
        self,
        data: dict[str, Any],
        *,
        object_id: str,
        cycle: int = 0,
        now: datetime | None = None,
        limits: HostLimits | None = None,
    ) -> Decision:
        """One pass of the rules over `data` (not modified)."""
        self.check_object(object_id)
        scope = make_scope(object_id=object_id, cycle=cycle, now=utc_now(now))
        run = self._run(data, scope, limits)
        run.rules()
        return run.decision()

    def command(
        self,
        name: str,
        params: Mapping[str, Any],
        *,
        caller: Mapping[str, Any],
        data: dict[str, Any],
        object_id: str,
        cycle: int = 0,
        now: datetime | None = None,
        limits: HostLimits | None = None,
    ) -> Decision:
        """Run command `name`; then, with `evaluation.on_change`, the rules, if it was admitted.

        Raises UnknownCommand or InvalidParams; a false or failing `when` is a denial in the
        returned Decision, with data unchanged.
        """
        block = self._compiled.commands.get(name)
        if block is None:
            known = ", ".join(self.commands) or "none"
            raise UnknownCommand(
                f"policy {self.id!r} has no command {name!r}; commands: {known}", command=name
            )
        self.check_object(object_id)
        checked = check_params(name, block.params, params)
        scope = make_scope(
            object_id=object_id,
            cycle=cycle,
            now=utc_now(now),
            caller=checked_caller(caller),
            params=checked,
        )
        run = self._run(data, scope, limits)
        if not run.guard(block):
            run.denied.append(
                {"command": name, "reason": "when is false for this caller", "by": "when"}
            )
            return run.decision()
        if not run.apply(block):
            return run.decision()
        if self.on_change:
            run.rules()
        return run.decision(self._returns(run, block))

    def _run(self, data: Any, scope: dict[str, Any], limits: HostLimits | None) -> Run:
        return Run(
            self._compiled,
            checked_data(data),
            scope=scope,
            limits=limits,
            max_actions=self.effective_max_actions(limits),
        )

    def _returns(self, run: Run, block: Block) -> Any:
        if block.returns is None:
            return None
        try:
            return to_json(block.returns.run(run.scope))
        except (CelRuntimeError, NotJson) as exc:
            run.errors.append(
                {"command": block.name, "expression": block.returns.source, "error": str(exc)}
            )
            return None

    def allows(
        self,
        operation: str,
        caller: Mapping[str, Any],
        *,
        object_id: str,
        data: dict[str, Any] | None = None,
        now: datetime | None = None,
    ) -> bool:
        """Whether permission `operation` holds for `caller`; absent or failing denies."""
        expr = self._compiled.permissions.get(operation)
        if expr is None or not isinstance(caller, Mapping):
            return False
        scope = make_scope(object_id=object_id, cycle=0, now=utc_now(now), caller=caller)
        scope["data"] = data if isinstance(data, dict) else {}
        try:
            return expr.run(scope) is True
        except CelRuntimeError:
            return False

    def admits_successor(
        self,
        new: Policy,
        caller: Mapping[str, Any],
        *,
        object_id: str | None = None,
        data: dict[str, Any] | None = None,
        now: datetime | None = None,
    ) -> None:
        """Raise unless `new` may replace this policy for `caller`: `amend` permission,
        a higher version, an issuer in `successors` (when set), and — given `object_id` —
        `new` governs the object. Without `object_id` the amend check sees object.id ""."""
        oid = object_id if object_id is not None else ""
        if not self.allows("amend", caller, object_id=oid, data=data, now=now):
            raise Forbidden(
                f"caller may not amend policy {self.id!r}: the 'amend' permission "
                "is absent, false or failed for this caller",
                reason="amend",
            )
        if new.version <= self.version:
            raise Rollback(
                f"successor version {new.version} is not higher than current {self.version}; "
                "sign the successor with a higher version"
            )
        successors = self.document.successors
        if successors is not None and new.issuer not in successors:
            raise UntrustedSuccessor(
                f"successor issuer {new.issuer!r} is not in successors "
                f"({', '.join(successors) or 'none'})"
            )
        if object_id is not None:
            new.check_object(object_id)

    # --- workflow (see _workflow) ---------------------------------------------------------

    @property
    def has_workflow(self) -> bool:
        return self._compiled.workflow is not None

    @property
    def workflow_events(self) -> frozenset[str]:
        """The `on` events of the workflow's transitions (empty without a workflow)."""
        workflow = self._compiled.workflow
        return frozenset() if workflow is None else workflow.events

    @property
    def workflow_states(self) -> tuple[str, ...]:
        workflow = self._compiled.workflow
        return () if workflow is None else tuple(workflow.states)

    def _engine(
        self,
        status: WorkflowStatus | None,
        *,
        object_id: str,
        now: datetime | None,
        limits: HostLimits | None,
        cycle: int = 0,
    ) -> Engine:
        workflow = self._compiled.workflow
        if workflow is None:
            raise InvalidData(f"policy {self.id!r} has no workflow")
        if status is not None and status.state not in workflow.states:
            raise InvalidData(
                f"workflow state {status.state!r} is not a state of policy {self.id!r} "
                f"v{self.version}; states: {', '.join(workflow.states)}"
            )
        self.check_object(object_id)
        return Engine(
            self._compiled,
            workflow,
            object_id,
            utc_now(now),
            limits,
            self.effective_max_actions(limits),
            cycle,
        )

    def workflow_start(
        self,
        data: dict[str, Any],
        *,
        object_id: str,
        now: datetime | None = None,
        limits: HostLimits | None = None,
    ) -> WorkflowOutcome:
        """Enter the initial state, running its `on_enter` (refused = it was blocked)."""
        engine = self._engine(None, object_id=object_id, now=now, limits=limits)
        return start(engine, checked_data(data))

    def workflow_event(
        self,
        name: str,
        params: Mapping[str, Any],
        *,
        status: WorkflowStatus,
        caller: Mapping[str, Any],
        data: dict[str, Any],
        object_id: str,
        message: Mapping[str, Any] | None = None,
        now: datetime | None = None,
        limits: HostLimits | None = None,
    ) -> WorkflowOutcome:
        """Handle event `name`; guards see `params`, `caller` and `event` (a pub/sub
        message). `refused` says why no transition took it (terminal, wrong state, guard)."""
        engine = self._engine(status, object_id=object_id, now=now, limits=limits)
        engine.caller = checked_caller(caller)
        engine.params = event_params(self._compiled, name, params)
        engine.event = dict(message or {})
        return handle_event(engine, checked_data(data), status, name)

    def workflow_timeouts(
        self,
        data: dict[str, Any],
        *,
        status: WorkflowStatus,
        object_id: str,
        cycle: int = 0,
        now: datetime | None = None,
        limits: HostLimits | None = None,
    ) -> WorkflowOutcome:
        """Fire the due `after` transition (if any) and the eventless ones that hold."""
        engine = self._engine(status, object_id=object_id, now=now, limits=limits, cycle=cycle)
        return handle_timeouts(engine, checked_data(data), status)

    def workflow_due(self, status: WorkflowStatus) -> datetime | None:
        """When the state's earliest timeout falls due; None for no timeout (or workflow)."""
        workflow = self._compiled.workflow
        return None if workflow is None else next_due(workflow, status)

    def workflow_view(self, status: WorkflowStatus) -> dict[str, Any]:
        """{state, entered_at, due_at, terminal, events} for readers."""
        workflow = self._compiled.workflow
        if workflow is None:
            return {"state": status.state, "entered_at": None, "due_at": None}
        return view(workflow, status)

    def subscribed_event(
        self,
        *,
        pubsub: str,
        topic: str,
        message: Mapping[str, Any],
        object_id: str,
        data: dict[str, Any],
        now: datetime | None = None,
    ) -> str:
        """The event a pub/sub message is for this object, per `subscribe`; else Forbidden."""
        self.check_object(object_id)
        return subscribed_event(
            self._compiled,
            pubsub=pubsub,
            topic=topic,
            message=message,
            object_id=object_id,
            data=checked_data(data),
            now=utc_now(now),
        )
