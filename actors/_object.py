"""`ResidentObject`: the one generic Dapr actor type behind every Resident object.

It has no per-object code. Each turn loads the object's signed policy from its own state, asks
the policy engine for a Decision, and persists the Decision, its lineage entry and its outbox
in one state transaction. Dapr's per-actor turn lock makes that evaluate-admit-apply atomic.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from dapr.actor import Actor, ActorId, Remindable
from dapr.actor.runtime.context import ActorRuntimeContext

from policies import NumberOutOfRange, Policy, PolicyError, TooDeep, load_policy

from ._auth import authenticate, who_of
from ._calls import sidecar_generation
from ._cycle import run_cycle
from ._delivery import check_mark
from ._describe import describe
from ._errors import BadRequestError, ForbiddenError, ObjectError, error_envelope
from ._history import dry_run, verify_object
from ._host import HostConfig
from ._index import ObjectIndex
from ._interface import ResidentObjectInterface
from ._messages import method_body
from ._meta import StoredObject
from ._metrics import COMMANDS, CYCLES, REFUSALS, record_actions, record_activation
from ._portability import ExportRequest, export_object, import_object
from ._requests import key_of
from ._serializer import OutOfRangeBody, TooDeepBody
from ._sidecar import SidecarClient, SidecarError
from ._state import ObjectStore
from ._turnlock import turn_lock
from ._turns import Turn
from ._workflow import deliver_message

log = logging.getLogger("resident.object")

REMINDER = "evaluate"
MAX_LINEAGE_PAGE = 1000

Request = dict[str, Any]
# Handler name -> the Dapr method name callers use, for messages that name the method.
_METHOD_NAMES = {
    "install": "InstallPolicy",
    "command": "Command",
    "snapshot": "Snapshot",
    "lineage": "Lineage",
    "evaluate": "Evaluate",
    "deliver": "Deliver",
    "export": "Export",
    "import": "Import",
}


class ResidentObject(Actor, ResidentObjectInterface, Remindable):
    """A Dapr actor whose behaviour is entirely the policy it carries."""

    def __init__(
        self,
        ctx: ActorRuntimeContext,
        actor_id: ActorId,
        *,
        host: HostConfig,
        sidecar: SidecarClient,
    ) -> None:
        super().__init__(ctx, actor_id)
        self._host = host
        self._sidecar = sidecar
        self._store = ObjectStore(self._state_manager, object_id=self.object_id)
        # The sidecar generation this instance's cache belongs to (actors._calls).
        self.sidecar_generation = sidecar_generation()

    @property
    def object_id(self) -> str:
        return str(self.id.id)

    async def _on_activate(self) -> None:
        record_activation(self.object_id, active=True)

    async def _on_deactivate(self) -> None:
        record_activation(self.object_id, active=False)

    # --- actor methods ------------------------------------------------------------------

    async def install_policy(self, request: Request) -> Request:
        return await self._guard(self._install, request)

    async def command(self, request: Request) -> Request:
        return await self._guard(self._command, request)

    async def snapshot(self, request: Request) -> Request:
        return await self._guard(self._snapshot, request)

    async def lineage(self, request: Request) -> Request:
        return await self._guard(self._lineage, request)

    async def evaluate(self, request: Request) -> Request:
        return await self._guard(self._evaluate, request)

    async def describe(self, request: Request) -> Request:
        return await self._guard(self._describe, request)

    async def deliver(self, request: Request) -> Request:
        return await self._guard(self._deliver, request)

    async def export(self, request: Request) -> Request:
        return await self._guard(self._export, request)

    async def import_object(self, request: Request) -> Request:
        return await self._guard(self._import, request)

    async def verify_lineage(self, request: Request) -> Request:
        return await self._guard(self._verify_lineage, request)

    async def dry_run(self, request: Request) -> Request:
        return await self._guard(self._dry_run, request)

    async def receive_reminder(
        self,
        name: str,
        state: bytes,
        due_time: timedelta,
        period: timedelta,
        ttl: timedelta | None = None,
    ) -> None:
        """A reminder fire is one cycle; a failure is raised so the sidecar retries it."""
        if name != REMINDER:
            return
        async with turn_lock(self.object_id):
            await self._forget_if_stale()
            try:
                result = await run_cycle(self._turn(), who={"reminder": REMINDER}, forced=False)
            except BaseException:
                await self._store.discard()
                CYCLES.labels(outcome="failed").inc()
                raise
        CYCLES.labels(outcome=str(result.get("skipped") or "run")).inc()
        record_actions(result)

    # --- the turn wrapper -----------------------------------------------------------------

    async def _guard(
        self, handler: Callable[[Request], Awaitable[Request]], request: object
    ) -> Request:
        """Run one method as one turn; on any failure forget staged state (inside the turn)."""
        async with turn_lock(self.object_id):
            await self._forget_if_stale()
            return await self._run(handler, request)

    async def _forget_if_stale(self) -> None:
        """A sidecar restarted since this instance cached state: read it afresh this turn."""
        if self.sidecar_generation != sidecar_generation():
            await self._store.discard()
            self.sidecar_generation = sidecar_generation()

    async def _run(
        self, handler: Callable[[Request], Awaitable[Request]], request: object
    ) -> Request:
        method = handler.__name__.lstrip("_")
        started = time.perf_counter()
        try:
            if isinstance(request, TooDeepBody):
                raise TooDeep(f"the {method} request body nests too deep to parse")
            if isinstance(request, OutOfRangeBody):
                raise NumberOutOfRange(f"the {method} request: {request.reason}")
            result = await handler(method_body(request, method=_METHOD_NAMES.get(method, method)))
        except (PolicyError, ObjectError) as exc:
            await self._store.discard()
            log.info(
                "refused",
                extra={"object_id": self.object_id, "code": exc.code, "reason": str(exc)},
            )
            REFUSALS.labels(method=method, code=exc.code).inc()
            if method == "command":
                COMMANDS.labels(outcome="refused").observe(time.perf_counter() - started)
            return error_envelope(exc)
        except BaseException:
            await self._store.discard()
            raise
        if method in {"command", "evaluate"}:
            record_actions(result)
        if method == "command":
            COMMANDS.labels(outcome="ok").observe(time.perf_counter() - started)
        return result

    def _turn(self) -> Turn:
        return Turn(
            object_id=self.object_id,
            host=self._host,
            store=self._store,
            sidecar=self._sidecar,
            reminders=self,
        )

    # --- handlers -------------------------------------------------------------------------

    async def _install(self, request: Request) -> Request:
        caller = authenticate(request, self._host)
        jws = request.get("policy")
        if not isinstance(jws, str):
            raise BadRequestError("`policy` must be the compact JWS string of a signed policy")
        result = await self._turn().install(jws, caller=caller)
        if result["created"]:
            await self._index_add()
        return result

    async def _index_add(self, *, present: bool = True) -> None:
        """Best effort: the object exists whether or not the listing knows it yet."""
        index = ObjectIndex(self._sidecar, store=self._host.statestore)
        try:
            await (index.add if present else index.remove)(self.object_id)
        except SidecarError as exc:
            log.warning(
                "object not indexed", extra={"object_id": self.object_id, "error": str(exc)}
            )

    async def _command(self, request: Request) -> Request:
        caller = authenticate(request, self._host)
        name = request.get("name")
        params = request.get("params", {})
        if not isinstance(name, str) or not isinstance(params, dict):
            raise BadRequestError("`name` must be a string and `params` a JSON object")
        self._host.inputs.check_depth(params, what=f"params of command {name!r}")
        key = key_of(request)
        return await self._turn().command(name, params, caller=caller, request_id=key)

    async def _readable(self, request: Request) -> tuple[StoredObject, Policy, datetime]:
        caller = authenticate(request, self._host)
        turn = self._turn()
        stored = await turn.load_required()
        now = self._host.clock.now()
        policy = load_policy(
            stored.policy_jws,
            self._host.trust,
            object_id=self.object_id,
            now=now,
            inputs=self._host.inputs,
        )
        policy.check_caller(caller)
        if not policy.allows("read", caller, object_id=self.object_id, data=stored.data):
            raise ForbiddenError("the policy's `read` permission denies this caller")
        return stored, policy, now

    async def _snapshot(self, request: Request) -> Request:
        stored, policy, _ = await self._readable(request)
        return self._turn().summary(stored, policy)

    async def _describe(self, request: Request) -> Request:
        stored, policy, _ = await self._readable(request)
        caller = authenticate(request, self._host)
        provenance = await self._store.provenance()
        return describe(
            stored,
            policy,
            caller=caller,
            object_id=self.object_id,
            limits=self._host.limits,
            history=provenance["policies"],
        )

    async def _lineage(self, request: Request) -> Request:
        stored, _, _ = await self._readable(request)
        after, limit = request.get("after", 0), request.get("limit", 100)
        if not isinstance(after, int) or not isinstance(limit, int) or after < 0 or limit < 1:
            raise BadRequestError("`after` must be an integer >= 0 and `limit` >= 1")
        limit = min(limit, MAX_LINEAGE_PAGE)
        last = min(stored.meta.seq, after + limit)
        entries = await self._store.read_entries(after + 1, last)
        return {"entries": entries, "length": stored.meta.seq, "head": stored.meta.head}

    async def _verify_lineage(self, request: Request) -> Request:
        stored, _, _ = await self._readable(request)
        return await verify_object(self._turn(), stored)

    async def _dry_run(self, request: Request) -> Request:
        caller = authenticate(request, self._host)
        turn = self._turn()
        stored = await turn.load_required()
        turn.ensure_active(stored)
        return await dry_run(turn, stored, caller, request)

    async def _deliver(self, request: Request) -> Request:
        check_mark(self._host.delivery_key, request)
        self._host.inputs.check_depth(request.get("event"), what="pub/sub message", envelope=True)
        return await deliver_message(self._turn(), request)

    async def _evaluate(self, request: Request) -> Request:
        caller = authenticate(request, self._host)
        turn = self._turn()
        stored = await turn.load_required()
        turn.ensure_active(stored)
        policy = turn.policy_of(stored)
        policy.check_caller(caller)
        if not policy.allows("evaluate", caller, object_id=self.object_id, data=stored.data):
            raise ForbiddenError("the policy's `evaluate` permission denies this caller")
        keyed = await turn.keyed(caller, key_of(request), meta=stored.meta)
        if keyed is not None and not keyed.fresh and (earlier := await keyed.replay()):
            return earlier
        return await run_cycle(turn, who=who_of(caller), forced=True, keyed=keyed)

    async def _export(self, request: Request) -> Request:
        caller = authenticate(request, self._host)
        options = ExportRequest.from_request(request)
        bundle = await export_object(self._turn(), caller=caller, request=options)
        if options.move:
            await self._index_add(present=False)
        return bundle

    async def _import(self, request: Request) -> Request:
        caller = authenticate(request, self._host)
        result = await import_object(self._turn(), request.get("bundle"), caller=caller)
        await self._index_add()
        return result
