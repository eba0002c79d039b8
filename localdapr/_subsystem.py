"""The seam between the sidecar's server and each API family it serves.

The server owns the HTTP listener, API-token checks, the app channel and start-up (wait for
the app, read /dapr/config and /dapr/subscribe). Each subsystem (actors, key/value state,
pub/sub, bindings, service invocation) contributes routes and background work through this
protocol, so families can be written and tested one at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from starlette.routing import BaseRoute

from ._appchannel import AppChannel
from ._config import SidecarConfig


@dataclass(slots=True)
class SidecarContext:
    """Shared by every subsystem; app_config/app_subscriptions are filled once the app answers."""

    config: SidecarConfig
    app: AppChannel
    app_config: dict[str, Any] = field(default_factory=dict)
    app_subscriptions: list[dict[str, Any]] = field(default_factory=list)


class Subsystem(Protocol):
    """One API family of the sidecar."""

    name: str

    def routes(self) -> list[BaseRoute]:
        """Routes under /v1.0 (and /v1.0-alpha1/localdapr for test-only reads)."""
        ...

    async def start(self, ctx: SidecarContext) -> None:
        """Open storage; called before the listener accepts requests. Must not wait for the app."""
        ...

    async def on_app_ready(self, ctx: SidecarContext) -> None:
        """Start background work (delivery, scheduling) once the app's config has been read."""
        ...

    async def close(self) -> None:
        """Stop background work and close storage."""
        ...

    def metadata(self) -> dict[str, Any]:
        """This family's part of GET /v1.0/metadata."""
        ...
