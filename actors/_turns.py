"""The steps of one turn: load, decide (policy engine), stage, commit, deliver; and the turns
that install a policy and run a command. A cycle is in actors._cycle, workflow triggers in
actors._workflow, moving an object in actors._portability.

A Turn is built fresh for each actor call and keeps nothing between calls: the SDK may
activate an id twice, so all that matters lives in the store.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from policies import Decision, Policy, entry_inputs, load_policy, next_entry

from . import _workflow as workflow
from ._auth import who_of
from ._decisions import refusal_of, worth_recording
from ._effects import deliver, outbox_items
from ._errors import ForbiddenError, ObjectMovedError, ObjectNotFoundError
from ._host import HostConfig
from ._meta import Meta, StoredObject
from ._metrics import record_outbox
from ._requests import KeyedRequest
from ._sidecar import SidecarClient
from ._state import ObjectStore

log = logging.getLogger("resident.turn")

REMINDER = "evaluate"


class Reminders(Protocol):
    """The part of the Dapr actor a turn needs to (re)schedule its own cycles."""

    async def register_reminder(
        self, name: str, state: bytes, due_time: timedelta, period: timedelta | None = None
    ) -> None: ...

    async def unregister_reminder(self, name: str) -> None: ...


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass(slots=True)
class Turn:
    object_id: str
    host: HostConfig
    store: ObjectStore
    sidecar: SidecarClient
    reminders: Reminders

    # --- loading --------------------------------------------------------------------------

    async def load_required(self) -> StoredObject:
        stored = await self.store.load()
        if stored is None:
            raise ObjectNotFoundError(f"object {self.object_id!r} does not exist")
        return stored

    def policy_of(self, stored: StoredObject) -> Policy:
        """The stored policy, re-verified against this host's trust store and clock."""
        return load_policy(
            stored.policy_jws,
            self.host.trust,
            object_id=self.object_id,
            now=self.host.clock.now(),
            inputs=self.host.inputs,
        )

    def ensure_active(self, stored: StoredObject) -> None:
        if stored.meta.status == "moved":
            where = f" to {stored.meta.moved_to}" if stored.meta.moved_to else ""
            raise ObjectMovedError(
                f"object {self.object_id!r} has moved{where}; it no longer runs here",
                moved_to=stored.meta.moved_to,
            )

    def summary(self, stored: StoredObject, policy: Policy) -> dict[str, Any]:
        meta = stored.meta
        return {
            "id": self.object_id,
            "data": stored.data,
            "policy": {
                "id": policy.id,
                "version": policy.version,
                "digest": policy.digest,
                "issuer": policy.issuer,
            },
            "status": meta.status,
            "cycles": meta.cycles,
            "last_cycle_at": meta.last_cycle_at,
            "lineage": {"length": meta.seq, "head": meta.head},
            "outbox": len(stored.outbox),
            "workflow": workflow.view(policy, meta),
        }

    # --- persisting -----------------------------------------------------------------------

    def _entry(
        self,
        meta: Meta,
        kind: str,
        *,
        who: Mapping[str, Any],
        policy: Policy,
        data: Any,
        now: datetime,
        inputs: Mapping[str, Any],
        decision: Decision | None = None,
        extra: Mapping[str, Any] | None = None,
        digest: str | None = None,
    ) -> dict[str, Any]:
        """Chain the next lineage entry onto `meta` and advance its head (`digest`: the data
        digest, when the size check computed it already). `now` is the time the engine saw
        and `inputs` what else re-executing the step needs (policies._replay); the entry is
        signed with this host's key."""
        entry = next_entry(
            previous=meta.previous_entry,
            kind=kind,
            time=now,
            who=who,
            policy_digest=policy.digest,
            data=data,
            changes=decision.changes if decision else (),
            effects=decision.effects if decision else (),
            denied=decision.denied if decision else (),
            errors=decision.errors if decision else (),
            extra=extra,
            digest=digest,
            object_id=self.object_id,
            inputs=inputs,
            signer=self.host.entry_signer,
        )
        meta.seq, meta.head = int(entry["seq"]), str(entry["hash"])
        return entry

    def inputs(self, trigger: str, **fields: Any) -> dict[str, Any]:
        """The `inputs` of an entry this host writes (see policies.entry_inputs)."""
        return entry_inputs(trigger, self.host.recorded, **fields)

    async def remember_policy(self, jws: str, *, fresh: bool = False) -> None:
        """Stage `jws` and this host's entry key into the object's provenance (every version
        it ran under, every host key that signed its entries). `fresh`: a new object."""
        provenance = {"policies": [], "hosts": {}} if fresh else await self.store.provenance()
        signer = self.host.entry_signer
        known = jws in provenance["policies"]
        if known and (signer is None or signer.kid in provenance["hosts"]):
            return
        if not known:
            provenance["policies"].append(jws)
        if signer is not None:
            provenance["hosts"][signer.kid] = signer.jwk
        await self.store.stage_provenance(provenance)

    async def schedule(self, policy: Policy, meta: Meta) -> None:
        period = policy.effective_period(self.host.limits)
        await self.reminders.register_reminder(REMINDER, b"", due_time=period, period=period)
        meta.reminder_period_s, meta.reminder_due_at = period.total_seconds(), None

    async def deliver_pending(self, stored: StoredObject) -> int:
        """Deliver the committed outbox now; the number of effects still pending."""
        return len(await self.flush_outbox(stored.outbox, stored.meta))

    async def flush_outbox(self, outbox: list[dict[str, Any]], meta: Meta) -> list[dict[str, Any]]:
        """Deliver what the committed turn left in the outbox; persist and return the rest."""
        if not outbox:
            return []
        pending = await deliver(
            self.sidecar, outbox, object_id=self.object_id, host_id=self.host.host_id
        )
        record_outbox(self.object_id, len(pending))
        if pending != outbox:
            await self.store.stage(meta=meta, outbox=pending)
            await self.store.commit()
        return pending

    async def record(
        self,
        stored: StoredObject,
        decision: Decision,
        *,
        kind: str,
        who: Mapping[str, Any],
        policy: Policy,
        extra: Mapping[str, Any],
        digest: str | None,
        now: datetime,
        inputs: Mapping[str, Any],
    ) -> list[dict[str, Any]]:
        """Stage the decision's lineage entry, data and effects; returns the new outbox."""
        meta = stored.meta
        entry = self._entry(
            meta,
            kind,
            who=who,
            policy=policy,
            data=decision.data,
            now=now,
            inputs=inputs,
            decision=decision,
            extra=extra,
            digest=digest,
        )
        items = outbox_items(entry, decision.effects, default_pubsub=self.host.pubsub)
        outbox = [*stored.outbox, *items]
        await self.store.stage(meta=meta, data=decision.data, entries=[entry], outbox=outbox)
        return outbox

    # --- install --------------------------------------------------------------------------

    async def install(self, jws: str, *, caller: Mapping[str, Any]) -> dict[str, Any]:
        now = self.host.clock.now()
        new = load_policy(
            jws, self.host.trust, object_id=self.object_id, now=now, inputs=self.host.inputs
        )
        stored = await self.store.load()
        who = who_of(caller)
        if stored is None:
            new.check_caller(caller)
            if not new.allows("amend", caller, object_id=self.object_id, data=new.initial_data):
                raise ForbiddenError("creating an object needs the new policy's `amend` permission")
            meta, data = Meta(created_at=iso(now)), new.initial_data
            host = {"host": self.host.host_id}
            created = self.inputs("create", caller=dict(caller))
            entries = [
                self._entry(
                    meta, "created", who=who, policy=new, data=data, now=now, inputs=created,
                    extra=host,
                )
            ]  # fmt: skip
            outbox: list[dict[str, Any]] = []
        else:
            self.ensure_active(stored)
            current = self.policy_of(stored)
            current.check_caller(caller)
            current.admits_successor(
                new, caller, object_id=self.object_id, data=stored.data, now=now
            )
            meta, data, entries, outbox = stored.meta, stored.data, [], stored.outbox
        about = {"policy": {"id": new.id, "version": new.version, "issuer": new.issuer}}
        installed = self.inputs("install", caller=dict(caller))
        entries.append(
            self._entry(
                meta, "policy", who=who, policy=new, data=data, now=now, inputs=installed,
                extra=about,
            )
        )  # fmt: skip
        data, steps, items = await workflow.on_install(self, new, meta, data, who, now)
        entries, outbox = [*entries, *steps], [*outbox, *items]
        await self.schedule(new, meta)
        await workflow.schedule_due(self, new, meta, now)
        await self.remember_policy(jws, fresh=stored is None)
        await self.store.stage(meta=meta, policy_jws=jws, data=data, entries=entries, outbox=outbox)
        await self.store.commit()
        outbox = await self.flush_outbox(outbox, meta)
        final = StoredObject(policy_jws=jws, data=data, meta=meta, outbox=outbox)
        return {"created": stored is None, "object": self.summary(final, new)}

    # --- command --------------------------------------------------------------------------

    async def command(
        self,
        name: str,
        params: dict[str, Any],
        *,
        caller: Mapping[str, Any],
        workflow_events: bool = True,
        request_id: str | None = None,
    ) -> dict[str, Any]:
        """`request_id`: the idempotency key; a repeat gets the first outcome (_requests)."""
        stored = await self.load_required()
        self.ensure_active(stored)
        policy = self.policy_of(stored)
        policy.check_caller(caller)
        now = self.host.clock.now()  # one reading: a keyed request's time is its entry's
        keyed = await self.keyed(
            caller, request_id, meta=stored.meta, command=(name, params), now=now
        )
        if keyed is not None and not keyed.fresh and (earlier := await keyed.replay()):
            return earlier
        if workflow_events and name in policy.workflow_events:
            return await workflow.event_command(
                self, stored, policy, name, params, caller=caller, keyed=keyed
            )
        seq_before = stored.meta.seq
        decision, outbox = await self.stage_command(
            stored, policy, name, params, caller=caller, now=now
        )
        result = self.command_result(decision, stored.meta)
        if keyed is not None and stored.meta.seq != seq_before:
            await keyed.stage(result, meta=stored.meta, stamped=True)
        await self.store.commit()
        await self.flush_outbox(outbox, stored.meta)
        return result

    async def keyed(
        self,
        caller: Mapping[str, Any],
        key: str | None,
        *,
        meta: Meta,
        command: tuple[str, Mapping[str, Any]] | None = None,
        now: datetime | None = None,
    ) -> KeyedRequest | None:
        """The request's record of this turn, when it carries an idempotency key; `meta`: the
        object as this turn loaded it; `command`: its name and params (else: `evaluate`);
        `now`: the turn's clock reading, if it took one."""
        if key is None:
            return None
        store, host = self.store, self.host
        index = store.cached_request_index(meta.requests_tail, max_keys=host.idempotency_max_keys)
        if index is None:
            index = await store.request_index(max_keys=host.idempotency_max_keys)
        return KeyedRequest(
            store,
            index,
            caller,
            key,
            host.clock.now() if now is None else now,
            host.idempotency_window_ms,
            host.idempotency_max_keys,
            command,
        )

    @staticmethod
    def command_result(decision: Decision, meta: Meta) -> dict[str, Any]:
        return {
            "result": decision.result,
            "applied": decision.applied,
            "denied": decision.denied,
            "errors": decision.errors,
            "seq": meta.seq,
        }

    async def stage_command(
        self,
        stored: StoredObject,
        policy: Policy,
        name: str,
        params: dict[str, Any],
        *,
        caller: Mapping[str, Any],
        now: datetime | None = None,
    ) -> tuple[Decision, list[dict[str, Any]]]:
        """Decide a command and stage its record (nothing is committed): the decision and the
        outbox the turn will hold. A command that only reads stages nothing. `now`: the
        turn's clock reading, if it took one."""
        if now is None:
            now = self.host.clock.now()
        decision = policy.command(
            name,
            params,
            caller=dict(caller),
            data=stored.data,
            object_id=self.object_id,
            limits=self.host.limits,
            now=now,
        )
        refusal = refusal_of(decision, name)
        if refusal is not None:
            raise ForbiddenError(f"command {name!r} refused: {refusal}")
        digest = self.host.inputs.measure(decision)  # DataTooLarge/TooDeep: nothing applies
        if not worth_recording(decision):
            return decision, stored.outbox
        outbox = await self.record(
            stored,
            decision,
            kind="command" if decision.applied else "denied",
            who=who_of(caller),
            policy=policy,
            extra={"command": name},
            digest=digest,
            now=now,
            inputs=self.inputs("command", caller=dict(caller), command=name, params=params),
        )
        return decision, outbox
