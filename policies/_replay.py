"""Replay: re-execute an object's history under its own policies and check every step.

A hash chain proves a history is intact, not that it is *legitimate*: anyone can append an entry
no command could have made and recompute the chain. Replay closes that gap. Each entry records
its inputs (`inputs`, see `entry_inputs`); starting from the first policy's initial data, every
step is run again with the real engine under the policy version it names, and must produce
exactly the recorded kind, changes, effects, denials, errors and data digest. What comes from
outside the object is taken as recorded: the caller's verified claims, event payloads, the time
(`time`), the cycle number and the host's limits (which can only narrow what a step does).
Everything else is recomputed, including who may do what: a command needs its caller to pass
the policy's `callers`, a new policy needs the old one's `amend`, an event its `subscribe` entry
or `event` permission.

Entries written before inputs were recorded (no `inputs`) can only be checked by applying their
recorded changes; they are reported as not replayable, and only as a prefix: once a history
records inputs, every later entry must.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ._decision import Decision
from ._errors import PolicyError, ReplayMismatch
from ._inputs import InputLimits
from ._limits import HostLimits
from ._lineage import canonical_json, data_digest
from ._paths import PathConflict, set_path, split, unset_path
from ._policy import Policy
from ._workflow import WorkflowOutcome, WorkflowStatus

TRIGGERS = frozenset(
    {"create", "install", "command", "cycle", "event", "timeout", "start", "export", "import"}
)
# Inputs keys a host may record; anything else is refused (an entry is hostile input).
_INPUT_KEYS = frozenset(
    {"trigger", "caller", "command", "params", "event", "message", "pubsub", "topic", "cycle",
     "step", "host"}
)  # fmt: skip


def host_inputs(limits: HostLimits | None, inputs: InputLimits) -> dict[str, Any]:
    """What of a host's configuration a step's outcome depends on: recorded in every entry."""
    return {
        "limits": None if limits is None else limits.model_dump(mode="json", exclude_defaults=True),
        "max_data_bytes": inputs.max_data_bytes,
        "max_json_depth": inputs.max_json_depth,
    }


def entry_inputs(trigger: str, host: Mapping[str, Any], **fields: Any) -> dict[str, Any]:
    """The `inputs` of a lineage entry: the trigger, the host's part and the given fields."""
    return {"trigger": trigger, "host": dict(host), **fields}


@dataclass(frozen=True, slots=True)
class ReplayReport:
    """`ok`: every entry checked out. `replayable`: every entry was re-executed (none predates
    recorded inputs). `first_bad`/`reason`: the first entry that did not reproduce, and why."""

    ok: bool
    replayable: bool
    entries: int
    replayed: int
    legacy: int
    first_bad: int | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "replayable": self.replayable,
            "entries": self.entries,
            "replayed": self.replayed,
            "legacy": self.legacy,
            "first_bad": self.first_bad,
            "reason": self.reason,
        }


class _Mismatch(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _same(a: Any, b: Any) -> bool:
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
            elif not _same(value, other):
                return False
        return True
    if ta is list:
        return tb is list and len(a) == len(b) and all(map(_same, a, b))
    if ta is str or tb is str or ta is bool or tb is bool or a is None or b is None:
        return ta is tb and a == b
    if (ta is int or ta is float) and (tb is int or tb is float):
        return bool(a == b)
    return False  # anything else is not JSON


class _Replayer:
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
            raise _Mismatch(
                f"it was made under policy {str(entry.get('policy'))[:80]}, which the history "
                "does not carry (or which does not verify with this host's trust)"
            )
        return policy

    def current(self, entry: Mapping[str, Any]) -> Policy:
        if self.policy is None:
            raise _Mismatch("no policy was installed before it")
        if entry.get("policy") != self.policy.digest:
            raise _Mismatch(
                f"it names policy {str(entry.get('policy'))[:80]} but the object ran "
                f"{self.policy.digest} at that point"
            )
        return self.policy

    def host(self, inputs: Mapping[str, Any]) -> tuple[HostLimits | None, InputLimits]:
        raw = inputs.get("host")
        if not isinstance(raw, Mapping):
            raise _Mismatch("its inputs lack the host's limits")
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
                raise _Mismatch(f"its recorded host limits are invalid: {exc.message}") from exc
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
            raise _Mismatch("its time is not an RFC 3339 timestamp") from exc

    @staticmethod
    def caller(inputs: Mapping[str, Any]) -> dict[str, Any]:
        caller = inputs.get("caller")
        if not isinstance(caller, dict):
            raise _Mismatch("its inputs lack the caller's claims")
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
            raise _Mismatch("`who` is not the caller its inputs record")

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
            raise _Mismatch(f"re-executing it makes a {kind!r} entry, not {entry.get('kind')!r}")
        for name in ("changes", "effects", "denied", "errors"):
            if not _same(entry.get(name), getattr(decision, name)):
                raise _Mismatch(f"re-executing it produces different {name}")
        if extra is not None and not _same(entry.get("extra"), extra):
            raise _Mismatch("re-executing it produces a different record (extra)")
        if not decision.changes:
            digest = self.digest
        elif digest is None:
            digest = data_digest(decision.data)
        if entry.get("data_digest") != digest:
            raise _Mismatch("re-executing it leaves different data (data_digest)")
        self.data, self.digest = decision.data, digest

    def unchanged(self, entry: Mapping[str, Any]) -> None:
        if entry.get("changes") or entry.get("effects") or entry.get("denied"):
            raise _Mismatch(f"a {entry.get('kind')!r} entry changes, emits or denies nothing")
        if entry.get("data_digest") != self.digest:
            raise _Mismatch("the data digest changed where no step could change the data")

    # --- one step per trigger -------------------------------------------------------------

    def create(self, entry: Mapping[str, Any], inputs: Mapping[str, Any]) -> None:
        if self.policy is not None:
            raise _Mismatch("an object is created only once, at seq 1")
        policy = self.policy_for(entry)
        caller = self.caller(inputs)
        self.check_who(entry, caller)
        data = policy.initial_data
        if not policy.accepts_caller(caller) or not policy.allows(
            "amend", caller, object_id=self.object_id, data=data, now=self.now(entry)
        ):
            raise _Mismatch("its caller does not pass the policy's `amend` permission")
        self.policy, self.data, self.digest = policy, data, data_digest(data)
        if entry.get("kind") != "created":
            raise _Mismatch("a create makes a `created` entry")
        self.unchanged(entry)

    def install(self, entry: Mapping[str, Any], inputs: Mapping[str, Any]) -> None:
        if entry.get("kind") != "policy":
            raise _Mismatch("an install makes a `policy` entry")
        new, caller = self.policy_for(entry), self.caller(inputs)
        self.check_who(entry, caller)
        current = self.policy
        if current is None:
            raise _Mismatch("a policy was installed before the object was created")
        first = entry.get("seq") == 2 and new.digest == current.digest
        if not first:
            if not current.accepts_caller(caller):
                raise _Mismatch("its caller is not one the policy accepts (`callers`)")
            try:
                current.admits_successor(
                    new, caller, object_id=self.object_id, data=self.data, now=self.now(entry)
                )
            except PolicyError as exc:
                raise _Mismatch(f"the policy in force refuses this successor: {exc}") from exc
        if self.status is not None and self.status.state not in new.workflow_states:
            raise _Mismatch(f"the new policy has no workflow state {self.status.state!r}")
        about = {"policy": {"id": new.id, "version": new.version, "issuer": new.issuer}}
        self.unchanged(entry)
        if not _same(entry.get("extra"), about):
            raise _Mismatch("the policy entry does not describe the policy it installs")
        self.policy = new

    def command(self, entry: Mapping[str, Any], inputs: Mapping[str, Any]) -> None:
        policy, caller = self.current(entry), self.caller(inputs)
        self.check_who(entry, caller)
        if not policy.accepts_caller(caller):
            raise _Mismatch("its caller is not one the policy accepts (`callers`)")
        name, params = inputs.get("command"), inputs.get("params")
        if not isinstance(name, str) or not isinstance(params, dict):
            raise _Mismatch("its inputs lack the command's name and params")
        limits, bounds = self.host(inputs)
        try:
            decision = policy.command(
                name, params, caller=caller, data=self.data, object_id=self.object_id,
                now=self.now(entry), limits=limits,
            )  # fmt: skip
            digest = bounds.measure(decision)
        except PolicyError as exc:
            raise _Mismatch(f"the command is refused when re-executed ({exc.code})") from exc
        if any(d.get("command") == name and "action" not in d for d in decision.denied):
            raise _Mismatch("the command's `when` refuses this caller: it never ran")
        kind = "command" if decision.applied else "denied"
        self.expect(entry, kind, decision, {"command": name}, digest)

    def cycle(self, entry: Mapping[str, Any], inputs: Mapping[str, Any]) -> None:
        policy, cycle = self.current(entry), inputs.get("cycle")
        if not isinstance(cycle, int) or isinstance(cycle, bool):
            raise _Mismatch("its inputs lack the cycle number")
        limits, bounds = self.host(inputs)
        decision = policy.evaluate(
            self.data, object_id=self.object_id, cycle=cycle, now=self.now(entry), limits=limits
        )
        decision, digest = bounds.bound_cycle(decision, data=self.data)
        self.expect(entry, "cycle", decision, {"cycle": cycle}, digest)

    def export(self, entry: Mapping[str, Any]) -> None:
        self.current(entry)
        if entry.get("kind") != "export":
            raise _Mismatch("an export makes an `export` entry")
        self.unchanged(entry)
        extra = entry.get("extra")
        if not isinstance(extra, dict):
            raise _Mismatch("an export entry records what was exported (extra)")
        if self.status is not None:  # the receiver resumes the workflow from this record
            recorded = extra.get("workflow")
            state = recorded.get("state") if isinstance(recorded, dict) else None
            try:
                entered = datetime.fromisoformat(str(recorded.get("entered_at")))  # type: ignore[union-attr]
            except (ValueError, AttributeError) as exc:
                raise _Mismatch("the exported workflow state has no valid entered_at") from exc
            if (state, entered) != (self.status.state, self.status.entered_at):
                raise _Mismatch(
                    f"the exported workflow state {str(state)[:40]!r} is not where the "
                    f"history leaves it ({self.status.state!r})"
                )
        self.moved = extra.get("move") is True

    def import_(self, entry: Mapping[str, Any]) -> None:
        self.current(entry)
        if entry.get("kind") != "import":
            raise _Mismatch("an import makes an `import` entry")
        self.unchanged(entry)
        self.moved = False

    # --- workflow groups ------------------------------------------------------------------

    def workflow(
        self, entries: Sequence[Mapping[str, Any]], at: int, inputs: Mapping[str, Any]
    ) -> int:
        """Re-run one workflow trigger (start, event, timeout) and match the entries it made,
        which share its inputs; returns how many entries it covered."""
        entry = entries[at]
        policy, trigger = self.current(entry), inputs["trigger"]
        limits, bounds = self.host(inputs)
        now = self.now(entry)
        event: str | None = None
        if trigger == "start":
            if self.status is not None:
                raise _Mismatch("the workflow had started already")
            outcome = policy.workflow_start(
                self.data, object_id=self.object_id, now=now, limits=limits
            )
        elif trigger == "timeout":
            cycle = inputs.get("cycle")
            if self.status is None or not isinstance(cycle, int):
                raise _Mismatch("a timeout needs a started workflow and a cycle number")
            outcome = policy.workflow_timeouts(
                self.data, status=self.status, object_id=self.object_id, cycle=cycle, now=now,
                limits=limits,
            )  # fmt: skip
        else:
            event = inputs.get("event") if isinstance(inputs.get("event"), str) else None
            if event is None or self.status is None:
                raise _Mismatch("an event needs its name and a started workflow")
            outcome = self._event(policy, event, inputs, limits, now)
        records, size_refused = self._records(outcome, bounds, trigger, event)
        if not records:
            raise _Mismatch("re-executing this trigger makes no entry; the history has one")
        for offset, (kind, decision, extra) in enumerate(records):
            if at + offset >= len(entries):
                raise _Mismatch(f"the workflow step makes {len(records)} entries; some are missing")
            step = entries[at + offset]
            if not _same(step.get("inputs"), {**inputs, "step": offset}):
                raise _Mismatch(f"entry {step.get('seq')} should be step {offset} of this trigger")
            self.current(step)
            self.expect(step, kind, decision, extra)
        if not size_refused:
            self.status = outcome.status
        return len(records)

    def _event(
        self,
        policy: Policy,
        event: str,
        inputs: Mapping[str, Any],
        limits: HostLimits | None,
        now: datetime,
    ) -> WorkflowOutcome:
        caller, params = self.caller(inputs), inputs.get("params")
        if not isinstance(params, dict):
            raise _Mismatch("its inputs lack the event's params")
        message = inputs.get("message")
        assert self.status is not None
        try:
            if message is not None:
                pubsub, topic = inputs.get("pubsub"), inputs.get("topic")
                if (
                    not isinstance(message, dict)
                    or not isinstance(pubsub, str)
                    or not isinstance(topic, str)
                ):
                    raise _Mismatch("a delivered event records its message, pubsub and topic")
                named = policy.subscribed_event(
                    pubsub=pubsub, topic=topic, message=message, object_id=self.object_id,
                    data=self.data, now=now,
                )  # fmt: skip
                if named != event:
                    raise _Mismatch(f"the policy maps that message to {named!r}, not {event!r}")
            elif event not in policy.commands and not policy.allows(
                "event", caller, object_id=self.object_id, data=self.data, now=now
            ):
                raise _Mismatch("the policy's `event` permission refuses its caller")
            return policy.workflow_event(
                event, params, status=self.status, caller=caller, data=self.data,
                object_id=self.object_id, message=message, now=now, limits=limits,
            )  # fmt: skip
        except PolicyError as exc:
            raise _Mismatch(f"the event is refused when re-executed ({exc.code})") from exc

    def _records(
        self, outcome: WorkflowOutcome, bounds: InputLimits, trigger: str, event: str | None
    ) -> tuple[list[tuple[str, Decision, dict[str, Any]]], bool]:
        """What the host records for an outcome (and whether its data was refused as too
        large, which a fire records as one denial and an event refuses outright)."""
        if any(step.decision.changes for step in outcome.steps):
            try:
                bounds.check_data(outcome.data, what="the data after the workflow step")
            except PolicyError as exc:
                if trigger == "event":
                    raise _Mismatch("the host refuses this event's data as too large") from exc
                reason = f"{exc.code}: {exc.message}"
                state = None if self.status is None else self.status.state
                denial = Decision(
                    data=self.data, denied=[{"state": state, "reason": reason, "by": "size"}]
                )
                kind = "timeout" if trigger == "timeout" else "start"
                return [("denied", denial, {"state": state, "trigger": kind})], True
        return outcome.records(event), False


def _apply_changes(replayer: _Replayer, entry: Mapping[str, Any]) -> None:
    """A legacy entry (no inputs): apply its recorded changes and check the digest."""
    data = replayer.data
    changes = entry.get("changes")
    if not isinstance(changes, list):
        raise _Mismatch("its changes are not a list")
    try:
        for change in changes:
            path = split(str(change.get("path")))
            if change.get("op") == "set":
                data = set_path(data, path, change.get("value"))
            elif change.get("op") == "unset":
                data = unset_path(data, path) or data
            else:
                raise _Mismatch(f"unknown change op {str(change.get('op'))[:40]!r}")
    except (PathConflict, PolicyError, AttributeError) as exc:
        raise _Mismatch(f"its changes do not apply: {exc}") from exc
    digest = data_digest(data) if changes else replayer.digest
    if entry.get("data_digest") != digest:
        raise _Mismatch("applying its recorded changes does not give its data digest")
    replayer.data, replayer.digest = data, digest


def _legacy(replayer: _Replayer, entry: Mapping[str, Any]) -> None:
    if replayer.seen_inputs:
        raise _Mismatch("it records no inputs, though earlier entries do: it cannot be re-run")
    kind = entry.get("kind")
    if kind == "created":
        replayer.policy = replayer.policy_for(entry)
        replayer.data = replayer.policy.initial_data
        replayer.digest = data_digest(replayer.data)
        if entry.get("data_digest") != replayer.digest:
            raise _Mismatch("the created entry does not hold the policy's initial data")
        return
    if kind == "policy":
        replayer.policy = replayer.policy_for(entry)
    _apply_changes(replayer, entry)
    extra = entry.get("extra")
    if kind == "transition" and isinstance(extra, dict) and isinstance(extra.get("to"), str):
        replayer.status = WorkflowStatus(extra["to"], replayer.now(entry))


def replay_lineage(
    entries: Sequence[Mapping[str, Any]],
    *,
    object_id: str,
    policies: Mapping[str, Policy],
    data: Mapping[str, Any] | None = None,
) -> ReplayReport:
    """Re-execute `entries` (already verified as a chain) under `policies` ({digest: Policy},
    every version the object ran under). Given `data`, the result must also equal it."""
    replayer = _Replayer(object_id, policies)
    steps: dict[str, Callable[[Mapping[str, Any], Mapping[str, Any]], None]] = {
        "create": replayer.create,
        "install": replayer.install,
        "command": replayer.command,
        "cycle": replayer.cycle,
    }
    replayed = legacy = 0
    at = 0
    while at < len(entries):
        entry = entries[at]
        seq = entry.get("seq")
        try:
            inputs = entry.get("inputs")
            if inputs is None:
                _legacy(replayer, entry)
                legacy, at = legacy + 1, at + 1
                continue
            replayer.seen_inputs = True
            trigger = _check_inputs(inputs)
            if replayer.moved and trigger != "import":
                raise _Mismatch("the object had moved away; only an import may follow")
            if trigger in ("start", "timeout", "event"):
                count = replayer.workflow(entries, at, inputs)
            else:
                if trigger == "export":
                    replayer.export(entry)
                elif trigger == "import":
                    replayer.import_(entry)
                else:
                    steps[trigger](entry, inputs)
                count = 1
            replayed, at = replayed + count, at + count
        except _Mismatch as exc:
            return _report(entries, replayed, legacy, seq, exc.reason)
        except (PolicyError, TypeError, ValueError, KeyError, AttributeError) as exc:
            return _report(entries, replayed, legacy, seq, f"it cannot be re-executed: {exc}")
    if data is not None and entries and replayer.digest != data_digest(dict(data)):
        return _report(entries, replayed, legacy, entries[-1].get("seq"), "the data differs")
    return ReplayReport(
        ok=True, replayable=legacy == 0, entries=len(entries), replayed=replayed, legacy=legacy
    )


def _check_inputs(inputs: Any) -> str:
    if not isinstance(inputs, Mapping):
        raise _Mismatch("its inputs are not an object")
    unknown = set(inputs) - _INPUT_KEYS
    if unknown:
        raise _Mismatch(f"its inputs have unknown fields {sorted(unknown)[:5]}")
    trigger = inputs.get("trigger")
    if trigger not in TRIGGERS:
        raise _Mismatch(f"its trigger {str(trigger)[:40]!r} is not one replay knows")
    step = inputs.get("step", 0)
    if step != 0 and trigger not in ("start", "timeout", "event"):
        raise _Mismatch("only workflow steps have a step index")
    if step != 0:
        raise _Mismatch("a workflow step appears without the steps before it")
    return str(trigger)


def _report(
    entries: Sequence[Mapping[str, Any]], replayed: int, legacy: int, seq: Any, reason: str
) -> ReplayReport:
    first_bad = seq if isinstance(seq, int) and not isinstance(seq, bool) else None
    return ReplayReport(
        ok=False,
        replayable=False,
        entries=len(entries),
        replayed=replayed,
        legacy=legacy,
        first_bad=first_bad,
        reason=f"entry {first_bad}: {reason}",
    )


def check_replay(
    entries: Sequence[Mapping[str, Any]],
    *,
    object_id: str,
    policies: Mapping[str, Policy],
    data: Mapping[str, Any] | None = None,
    allow_legacy: bool = False,
) -> ReplayReport:
    """`replay_lineage`, raising `ReplayMismatch` unless every entry reproduces (and, unless
    `allow_legacy`, every entry was re-executed rather than only re-applied)."""
    report = replay_lineage(entries, object_id=object_id, policies=policies, data=data)
    if not report.ok:
        raise ReplayMismatch(str(report.reason), seq=report.first_bad or 0)
    if report.legacy and not allow_legacy:
        raise ReplayMismatch(
            f"entries 1..{report.legacy} were written before entries recorded their inputs; "
            "they cannot be re-executed, so this history cannot be verified",
            seq=1,
        )
    return report
