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

Here: the inputs' shape, the walk over a history and its report. The rebuilt object and the
steps of the other triggers are in policies._replayer, workflow triggers in
policies._replay_workflow, the legacy prefix in policies._replay_legacy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ._errors import PolicyError, ReplayMismatch
from ._inputs import InputLimits
from ._limits import HostLimits
from ._lineage import data_digest
from ._policy import Policy
from ._replay_legacy import replay_legacy
from ._replay_workflow import replay_workflow
from ._replayer import Mismatch, Replayer

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


def replay_lineage(
    entries: Sequence[Mapping[str, Any]],
    *,
    object_id: str,
    policies: Mapping[str, Policy],
    data: Mapping[str, Any] | None = None,
) -> ReplayReport:
    """Re-execute `entries` (already verified as a chain) under `policies` ({digest: Policy},
    every version the object ran under). Given `data`, the result must also equal it."""
    replayer = Replayer(object_id, policies)
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
                replay_legacy(replayer, entry)
                legacy, at = legacy + 1, at + 1
                continue
            replayer.seen_inputs = True
            trigger = _check_inputs(inputs)
            if replayer.moved and trigger != "import":
                raise Mismatch("the object had moved away; only an import may follow")
            if trigger in ("start", "timeout", "event"):
                count = replay_workflow(replayer, entries, at, inputs)
            else:
                if trigger == "export":
                    replayer.export(entry)
                elif trigger == "import":
                    replayer.import_(entry)
                else:
                    steps[trigger](entry, inputs)
                count = 1
            replayed, at = replayed + count, at + count
        except Mismatch as exc:
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
        raise Mismatch("its inputs are not an object")
    unknown = set(inputs) - _INPUT_KEYS
    if unknown:
        raise Mismatch(f"its inputs have unknown fields {sorted(unknown)[:5]}")
    trigger = inputs.get("trigger")
    if trigger not in TRIGGERS:
        raise Mismatch(f"its trigger {str(trigger)[:40]!r} is not one replay knows")
    step = inputs.get("step", 0)
    if step != 0 and trigger not in ("start", "timeout", "event"):
        raise Mismatch("only workflow steps have a step index")
    if step != 0:
        raise Mismatch("a workflow step appears without the steps before it")
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
