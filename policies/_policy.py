"""A loaded, verified, compiled policy and what can be asked of it."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ._cel import CelRuntimeError
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


def utc_now(now: datetime | None) -> datetime:
    """`now`, defaulting to the current time; naive datetimes are taken as UTC."""
    if now is None:
        return datetime.now(UTC)
    return now if now.tzinfo is not None else now.replace(tzinfo=UTC)


def _check_data(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise InvalidData(f"object data must be a JSON object (dict), got {type(data).__name__}")
    return data


def _check_caller(caller: Any) -> Mapping[str, Any]:
    if not isinstance(caller, Mapping):
        raise InvalidData(f"caller must be a mapping of claims, got {type(caller).__name__}")
    return caller


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
            caller=_check_caller(caller),
            params=checked,
        )
        run = self._run(data, scope, limits)
        if not run.guard(block):
            run.denied.append({"command": name, "reason": "when is false for this caller"})
            return run.decision()
        if not run.apply(block):
            return run.decision()
        if self.on_change:
            run.rules()
        return run.decision(self._returns(run, block))

    def _run(self, data: Any, scope: dict[str, Any], limits: HostLimits | None) -> Run:
        return Run(
            self._compiled,
            _check_data(data),
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
