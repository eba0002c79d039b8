"""Forget every activation when the sidecar restarts under a living app.

The SDK keeps an actor instance (and its state cache) until the sidecar sends
`DELETE /actors/{type}/{id}`. When daprd dies under a running app that DELETE never comes;
placement may meanwhile place the object on another replica, which advances its state, and
later send it back here, where the old instance would act on its stale cache (and fork the
lineage). A daprd that starts reads the app's `/dapr/config` first, so the app drops every
activation it holds at that moment, each once its turn is over; the next turn loads from
the store. Cheap: it happens once per sidecar start.
"""

from __future__ import annotations

import logging

from dapr.actor.runtime.runtime import ActorRuntime

from ._turnlock import turn_lock

log = logging.getLogger("resident.activations")


async def forget_activations(actor_type: str) -> int:
    """Deactivate every live instance of `actor_type` in this process; how many there were."""
    manager = await ActorRuntime._get_actor_manager(actor_type)
    if manager is None:
        return 0
    ids = list(manager._active_actors)  # the SDK has no public listing of its activations
    for object_id in ids:
        async with turn_lock(object_id):
            try:
                await ActorRuntime.deactivate(actor_type, object_id)
            except ValueError:
                continue  # deactivated meanwhile (a DELETE raced us)
    if ids:
        log.info("sidecar (re)started: dropped %d cached activations", len(ids))
    return len(ids)
