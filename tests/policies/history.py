"""Writes replayable histories with the real engine, as a host does, for the pure tier's tests.

The actor tier's tests check that the real object writes what replay accepts; this builder lets
bundle and replay tests make histories without Dapr: every step runs the real policy engine and
records its inputs exactly as `actors._turns` does.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from policies import (
    EntrySigner,
    HostLimits,
    InputLimits,
    Policy,
    SigningKey,
    entry_inputs,
    host_inputs,
    next_entry,
)
from policies._lineage import entry_hash


class History:
    """One object's history on one host; `entries` grow with every step."""

    def __init__(
        self,
        object_id: str,
        *,
        host_key: SigningKey | None = None,
        limits: HostLimits | None = None,
        start: datetime,
    ) -> None:
        self.object_id = object_id
        self.signer = None if host_key is None else EntrySigner(host_key)
        self.limits = limits
        self.host = host_inputs(limits, InputLimits())
        self.entries: list[dict[str, Any]] = []
        self.data: dict[str, Any] = {}
        self.policy: Policy | None = None
        self.cycles = 0
        self.now = start

    def tick(self, seconds: float = 1.0) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now

    def _append(
        self, kind: str, inputs: dict[str, Any], *, who: dict[str, Any], **fields: Any
    ) -> dict[str, Any]:
        assert self.policy is not None
        entry = next_entry(
            previous=self.entries[-1] if self.entries else None,
            kind=kind,
            time=self.now,
            who=who,
            policy_digest=self.policy.digest,
            data=self.data,
            object_id=self.object_id,
            inputs=inputs,
            signer=self.signer,
            **fields,
        )
        self.entries.append(entry)
        return entry

    def create(self, policy: Policy, caller: dict[str, Any]) -> None:
        self.policy, self.data = policy, policy.initial_data
        who = {"iss": caller.get("iss"), "sub": caller.get("sub")}
        create = entry_inputs("create", self.host, caller=caller)
        self._append("created", create, who=who, extra={"host": "host-a"})
        self.install(policy, caller)

    def install(self, policy: Policy, caller: dict[str, Any]) -> None:
        self.policy = policy
        who = {"iss": caller.get("iss"), "sub": caller.get("sub")}
        about = {"policy": {"id": policy.id, "version": policy.version, "issuer": policy.issuer}}
        self._append(
            "policy", entry_inputs("install", self.host, caller=caller), who=who, extra=about
        )

    def command(self, name: str, params: dict[str, Any], caller: dict[str, Any]) -> None:
        assert self.policy is not None
        decision = self.policy.command(
            name, params, caller=caller, data=self.data, object_id=self.object_id,
            now=self.now, limits=self.limits,
        )  # fmt: skip
        if not (decision.changes or decision.effects or decision.denied or decision.errors):
            return
        self.data = decision.data
        inputs = entry_inputs("command", self.host, caller=caller, command=name, params=params)
        self._append(
            "command" if decision.applied else "denied",
            inputs,
            who={"iss": caller.get("iss"), "sub": caller.get("sub")},
            changes=decision.changes, effects=decision.effects, denied=decision.denied,
            errors=decision.errors, extra={"command": name},
        )  # fmt: skip

    def cycle(self) -> None:
        assert self.policy is not None
        self.cycles += 1
        decision = self.policy.evaluate(
            self.data, object_id=self.object_id, cycle=self.cycles, now=self.now,
            limits=self.limits,
        )  # fmt: skip
        if not (decision.changes or decision.effects or decision.denied or decision.errors):
            return
        self.data = decision.data
        self._append(
            "cycle",
            entry_inputs("cycle", self.host, cycle=self.cycles),
            who={"reminder": "evaluate"},
            changes=decision.changes, effects=decision.effects, denied=decision.denied,
            errors=decision.errors, extra={"cycle": self.cycles},
        )  # fmt: skip

    def export(self, caller: dict[str, Any], *, move: bool = True) -> None:
        extra = {"host": "host-a", "move": move, "to": None, "cycles": self.cycles}
        who = {"iss": caller.get("iss"), "sub": caller.get("sub")}
        self._append(
            "export", entry_inputs("export", self.host, caller=caller), who=who, extra=extra
        )


def rechain(
    entries: list[dict[str, Any]], *, start: int, signer: EntrySigner | None
) -> list[dict[str, Any]]:
    """What a forger does after editing entries from index `start` on: recompute every hash,
    `prev` and signature after it, so the chain (and, with the key, the signatures) verify."""
    fixed = [dict(e) for e in entries[:start]]
    for raw in entries[start:]:
        entry = {k: v for k, v in raw.items() if k not in ("hash", "id", "sig")}
        entry["prev"] = fixed[-1]["hash"] if fixed else None
        if signer is not None:
            entry["host"] = signer.kid
        entry["hash"] = entry_hash(entry)
        entry["id"] = entry["hash"].removeprefix("sha256:")
        if signer is not None:
            entry["sig"] = signer.sign(entry["hash"])
        fixed.append(entry)
    return fixed
