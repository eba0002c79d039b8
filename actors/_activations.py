"""Forget every activation when the sidecar restarts under a living app.

The SDK keeps an actor instance (and its state cache) until the sidecar sends
`DELETE /actors/{type}/{id}`. When daprd dies under a running app that DELETE never comes;
placement may meanwhile place the object on another replica, which advances its state, and
later send it back here, where the old instance would act on its stale cache (and fork the
lineage). A daprd that starts reads the app's `/dapr/config` first: the app then starts a new
*sidecar generation*. An instance from an older generation forgets its cache at the start of
its next turn (so it reloads from the store), and a background task drops the old instances
once their turns are over (so the hosted-objects gauge does not count objects that moved).

`/dapr/config` must not wait for those turns: a turn that was running when daprd died may be
blocked on the new daprd, which finishes starting only after `/dapr/config` answers.
"""

from __future__ import annotations

import asyncio
import logging

from dapr.actor.runtime.runtime import ActorRuntime

from ._calls import new_sidecar_generation
from ._turnlock import turn_lock

log = logging.getLogger("resident.activations")

_background: set[asyncio.Task[int]] = set()


def sidecar_restarted(actor_types: list[str]) -> None:
    """Start a new generation now (actors._calls); drop the older instances in the background."""
    generation = new_sidecar_generation()
    for actor_type in actor_types:
        task = asyncio.get_running_loop().create_task(_drop_stale(actor_type, generation))
        _background.add(task)
        task.add_done_callback(_background.discard)


async def _drop_stale(actor_type: str, generation: int) -> int:
    """Deactivate each instance of `actor_type` older than `generation`, in its turn."""
    manager = await ActorRuntime._get_actor_manager(actor_type)
    if manager is None:
        return 0
    dropped = 0
    for object_id in list(manager._active_actors):  # the SDK has no public listing
        async with turn_lock(object_id):
            actor = manager._active_actors.get(object_id)
            if actor is None or getattr(actor, "sidecar_generation", generation) >= generation:
                continue  # gone meanwhile, or already refreshed by a turn of the new one
            try:
                await ActorRuntime.deactivate(actor_type, object_id)
            except ValueError:
                continue  # deactivated meanwhile (a DELETE raced us)
            dropped += 1
    if dropped:
        log.info("sidecar (re)started: dropped %d cached activations", dropped)
    return dropped
