"""The object as replay rebuilds it, and one step per non-workflow trigger (policies._replay).

`Replayer` holds what the history has built so far (data, policy, workflow status, moved or
not) and checks each entry against what re-running its step produces; the workflow triggers
(policies._replay_workflow) and the legacy prefix (policies._replay_legacy) work on it too.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ._decision import Decision
from ._errors import PolicyError
from ._inputs import InputLimits
from ._limits import HostLimits
from ._lineage import canonical_json, data_digest
from ._policy import Policy
from ._workflow import WorkflowStatus


class Mismatch(Exception):
    """An entry that replay does not reproduce; `reason` says how."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def same(a: Any, b: Any) -> bool:
    """JSON equality: numbers by value (35 == 35.0, as JSON has one number type), but a bool
    is never a number and a string never anything else. Replay compares every recorded
    field, so this is on its hot path: dispatch on exact types, strings compared inline."""
    ta, tb = type(a), type(b)
    if ta is dict:
        if tb is not dict or a.keys() != b.keys():
            return False
        for key, value in a.items():
            other = b[key]
            if type(value) is str:
                if type(other) is not str or value != other:
                    return False
            elif not same(value, other):
                return False
        return True
    if ta is list:
        return tb is list and len(a) == len(b) and all(map(same, a, b))
    if ta is str or tb is str or ta is bool or tb is bool or a is None or b is None:
        return ta is tb and a == b
    if (ta is int or ta is float) and (tb is int or tb is float):
        return bool(a == b)
    return False  # anything else is not JSON


class Replayer:
    """The object as replay rebuilds it: data, policy, workflow status, moved or not."""

    def __init__(self, object_id: str, policies: Mapping[str, Policy]) -> None:
        self.object_id = object_id
        self.policies = policies
        self.data: dict[str, Any] = {}
        self.digest: str | None = None
        self.policy: Policy | None = None
        self.status: WorkflowStatus | None = None
        self.moved = False
        self.seen_inputs = False
        self._hosts: dict[str, tuple[HostLimits | None, InputLimits]] = {}
        self._last_host: tuple[dict[str, Any], tuple[HostLimits | None, InputLimits]] | None = None

    # --- shared helpers -------------------------------------------------------------------

    def policy_for(self, entry: Mapping[str, Any]) -> Policy:
        policy = self.policies.get(str(entry.get("policy")))
        if policy is None:
            raise Mismatch(
                f"it was made under policy {str(entry.get('policy'))[:80]}, which the history "
                "does not carry (or which does not verify with this host's trust)"
            )
        return policy

    def current(self, entry: Mapping[str, Any]) -> Policy:
        if self.policy is None:
            raise Mismatch("no policy was installed before it")
        if entry.get("policy") != self.policy.digest:
            raise Mismatch(
                f"it names policy {str(entry.get('policy'))[:80]} but the object ran "
                f"{self.policy.digest} at that point"
            )
        return self.policy

    def host(self, inputs: Mapping[str, Any]) -> tuple[HostLimits | None, InputLimits]:
        raw = inputs.get("host")
        if not isinstance(raw, Mapping):
            raise Mismatch("its inputs lack the host's limits")
        if self._last_host is not None and raw == self._last_host[0]:
            return self._last_host[1]  # (plain ==: a lookalike, e.g. true for 1, parses alike)
        key = canonical_json(raw).decode()
        cached = self._hosts.get(key)
        if cached is None:
            try:
                limits_raw = raw.get("limits")
                limits = None if limits_raw is None else HostLimits.from_mapping(limits_raw)
                bounds = InputLimits(
                    max_data_bytes=raw.get("max_data_bytes"),
                    max_json_depth=raw.get("max_json_depth"),
                )
            except PolicyError as exc:
                raise Mismatch(f"its recorded host limits are invalid: {exc.message}") from exc
            cached = self._hosts.setdefault(key, (limits, bounds))
            if len(self._hosts) > 64:  # bounded: a hostile history may vary them per entry
                self._hosts.clear()
        self._last_host = (dict(raw), cached)
        return cached

    @staticmethod
    def now(entry: Mapping[str, Any]) -> datetime:
        try:
            return datetime.fromisoformat(str(entry.get("time")))
        except ValueError as exc:
            raise Mismatch("its time is not an RFC 3339 timestamp") from exc

    @staticmethod
    def caller(inputs: Mapping[str, Any]) -> dict[str, Any]:
        caller = inputs.get("caller")
        if not isinstance(caller, dict):
            raise Mismatch("its inputs lack the caller's claims")
        return caller

    def check_who(self, entry: Mapping[str, Any], caller: Mapping[str, Any]) -> None:
        who = entry.get("who")
        if (
            not isinstance(who, dict)
            or len(who) != 2
            or type(who.get("iss")) is not type(caller.get("iss"))
            or type(who.get("sub")) is not type(caller.get("sub"))
            or who.get("iss") != caller.get("iss")
            or who.get("sub") != caller.get("sub")
        ):
            raise Mismatch("`who` is not the caller its inputs record")

    def expect(
        self,
        entry: Mapping[str, Any],
        kind: str,
        decision: Decision,
        extra: Mapping[str, Any] | None,
        digest: str | None = None,
    ) -> None:
        """The entry must be exactly what the step produces; then the step applies."""
        if entry.get("kind") != kind:
            raise Mismatch(f"re-executing it makes a {kind!r} entry, not {entry.get('kind')!r}")
        for name in ("changes", "effects", "denied", "errors"):
            if not same(entry.get(name), getattr(decision, name)):
                raise Mismatch(f"re-executing it produces different {name}")
        if extra is not None and not same(entry.get("extra"), extra):
            raise Mismatch("re-executing it produces a different record (extra)")
        if not decision.changes:
            digest = self.digest
        elif digest is None:
            digest = data_digest(decision.data)
        if entry.get("data_digest") != digest:
            raise Mismatch("re-executing it leaves different data (data_digest)")
        self.data, self.digest = decision.data, digest

    def unchanged(self, entry: Mapping[str, Any]) -> None:
        if entry.get("changes") or entry.get("effects") or entry.get("denied"):
            raise Mismatch(f"a {entry.get('kind')!r} entry changes, emits or denies nothing")
        if entry.get("data_digest") != self.digest:
            raise Mismatch("the data digest changed where no step could change the data")

    # --- one step per trigger -------------------------------------------------------------

    def create(self, entry: Mapping[str, Any], inputs: Mapping[str, Any]) -> None:
        if self.policy is not None:
            raise Mismatch("an object is created only once, at seq 1")
        policy = self.policy_for(entry)
        caller = self.caller(inputs)
        self.check_who(entry, caller)
        data = policy.initial_data
        if not policy.accepts_caller(caller) or not policy.allows(
            "amend", caller, object_id=self.object_id, data=data, now=self.now(entry)
        ):
            raise Mismatch("its caller does not pass the policy's `amend` permission")
        self.policy, self.data, self.digest = policy, data, data_digest(data)
        if entry.get("kind") != "created":
            raise Mismatch("a create makes a `created` entry")
        self.unchanged(entry)

    def install(self, entry: Mapping[str, Any], inputs: Mapping[str, Any]) -> None:
        if entry.get("kind") != "policy":
            raise Mismatch("an install makes a `policy` entry")
        new, caller = self.policy_for(entry), self.caller(inputs)
        self.check_who(entry, caller)
        current = self.policy
        if current is None:
            raise Mismatch("a policy was installed before the object was created")
        first = entry.get("seq") == 2 and new.digest == current.digest
        if not first:
            if not current.accepts_caller(caller):
                raise Mismatch("its caller is not one the policy accepts (`callers`)")
            try:
                current.admits_successor(
                    new, caller, object_id=self.object_id, data=self.data, now=self.now(entry)
                )
            except PolicyError as exc:
                raise Mismatch(f"the policy in force refuses this successor: {exc}") from exc
        if self.status is not None and self.status.state not in new.workflow_states:
            raise Mismatch(f"the new policy has no workflow state {self.status.state!r}")
        about = {"policy": {"id": new.id, "version": new.version, "issuer": new.issuer}}
        self.unchanged(entry)
        if not same(entry.get("extra"), about):
            raise Mismatch("the policy entry does not describe the policy it installs")
        self.policy = new

    def command(self, entry: Mapping[str, Any], inputs: Mapping[str, Any]) -> None:
        policy, caller = self.current(entry), self.caller(inputs)
        self.check_who(entry, caller)
        if not policy.accepts_caller(caller):
            raise Mismatch("its caller is not one the policy accepts (`callers`)")
        name, params = inputs.get("command"), inputs.get("params")
        if not isinstance(name, str) or not isinstance(params, dict):
            raise Mismatch("its inputs lack the command's name and params")
        limits, bounds = self.host(inputs)
        try:
            decision = policy.command(
                name, params, caller=caller, data=self.data, object_id=self.object_id,
                now=self.now(entry), limits=limits,
            )  # fmt: skip
            digest = bounds.measure(decision)
        except PolicyError as exc:
            raise Mismatch(f"the command is refused when re-executed ({exc.code})") from exc
        if any(d.get("command") == name and "action" not in d for d in decision.denied):
            raise Mismatch("the command's `when` refuses this caller: it never ran")
        kind = "command" if decision.applied else "denied"
        self.expect(entry, kind, decision, {"command": name}, digest)

    def cycle(self, entry: Mapping[str, Any], inputs: Mapping[str, Any]) -> None:
        policy, cycle = self.current(entry), inputs.get("cycle")
        if not isinstance(cycle, int) or isinstance(cycle, bool):
            raise Mismatch("its inputs lack the cycle number")
        limits, bounds = self.host(inputs)
        decision = policy.evaluate(
            self.data, object_id=self.object_id, cycle=cycle, now=self.now(entry), limits=limits
        )
        decision, digest = bounds.bound_cycle(decision, data=self.data)
        self.expect(entry, "cycle", decision, {"cycle": cycle}, digest)

    def export(self, entry: Mapping[str, Any]) -> None:
        self.current(entry)
        if entry.get("kind") != "export":
            raise Mismatch("an export makes an `export` entry")
        self.unchanged(entry)
        extra = entry.get("extra")
        if not isinstance(extra, dict):
            raise Mismatch("an export entry records what was exported (extra)")
        if self.status is not None:  # the receiver resumes the workflow from this record
            recorded = extra.get("workflow")
            state = recorded.get("state") if isinstance(recorded, dict) else None
            try:
                entered = datetime.fromisoformat(str(recorded.get("entered_at")))  # type: ignore[union-attr]
            except (ValueError, AttributeError) as exc:
                raise Mismatch("the exported workflow state has no valid entered_at") from exc
            if (state, entered) != (self.status.state, self.status.entered_at):
                raise Mismatch(
                    f"the exported workflow state {str(state)[:40]!r} is not where the "
                    f"history leaves it ({self.status.state!r})"
                )
        self.moved = extra.get("move") is True

    def import_(self, entry: Mapping[str, Any]) -> None:
        self.current(entry)
        if entry.get("kind") != "import":
            raise Mismatch("an import makes an `import` entry")
        self.unchanged(entry)
        self.moved = False
