"""Registering `ResidentObject` with the Dapr actor runtime, bound to one host's config."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from dapr.actor import ActorId
from dapr.actor.runtime.config import ActorRuntimeConfig
from dapr.actor.runtime.context import ActorRuntimeContext
from dapr.actor.runtime.runtime import ActorRuntime

from ._host import HostConfig
from ._metrics import label_replica
from ._object import ResidentObject
from ._serializer import PlainJSONSerializer, StateJSONSerializer
from ._sidecar import SidecarClient


def actor_factory(
    host: HostConfig, sidecar: SidecarClient
) -> Callable[[ActorRuntimeContext, ActorId], ResidentObject]:
    """Objects get the host's config by construction, not through module globals."""

    def make(ctx: ActorRuntimeContext, actor_id: ActorId) -> ResidentObject:
        return ResidentObject(ctx, actor_id, host=host, sidecar=sidecar)

    return make


async def register_resident_object(
    host: HostConfig,
    sidecar: SidecarClient,
    *,
    idle_timeout: timedelta = timedelta(minutes=10),
    scan_interval: timedelta = timedelta(seconds=30),
) -> None:
    """Register the actor type; call once per process, before the app serves Dapr's calls."""
    label_replica(host.host_id)
    ActorRuntime.set_actor_config(
        ActorRuntimeConfig(actor_idle_timeout=idle_timeout, actor_scan_interval=scan_interval)
    )
    await ActorRuntime.register_actor(
        ResidentObject,
        message_serializer=PlainJSONSerializer(),
        state_serializer=StateJSONSerializer(),
        actor_factory=actor_factory(host, sidecar),
        actor_client=sidecar,
    )
