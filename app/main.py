"""The Resident service: Dapr actor routes for `ResidentObject` plus the HTTP API.

`uvicorn app.main:app` under a Dapr sidecar (real daprd or localdapr). Settings come from the
environment; see `app.settings.Settings`.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from dapr.ext.fastapi import DaprActor
from fastapi import FastAPI

from actors import (
    ACTOR_TYPE,
    HostConfig,
    ObjectIndex,
    ResidentObjectClient,
    SidecarClient,
    delivery_key,
    register_resident_object,
)

from .actor_fastpath import ActorFastPath
from .errors import install_error_handlers
from .guard import SidecarTokenGuard
from .hostkey import ensure_host_key, host_jwks
from .observability import TraceContextCapture, configure_logging
from .ratelimit import RateLimiter
from .routes import events, health, history, metrics, objects, transfer
from .routes.console import install_console
from .settings import Settings

log = logging.getLogger("resident.app")


def host_config(settings: Settings) -> HostConfig:
    host_key = ensure_host_key(settings.host_key_path, generate=settings.generate_host_key)
    return HostConfig(
        trust=settings.load_trust(),
        limits=settings.load_limits(),
        inputs=settings.input_limits(),
        host_id=settings.host_id,
        pubsub=settings.pubsub,
        statestore=settings.statestore,
        audience=settings.audience,
        max_token_lifetime=timedelta(seconds=settings.max_token_lifetime),
        host_key=host_key,
        delivery_key=delivery_key(host_key),
        trusted_hosts=settings.load_trusted_hosts(),
        require_trusted_hosts=settings.require_trusted_hosts,
        idempotency_window=settings.idempotency_window_delta(),
        idempotency_max_keys=settings.idempotency_max_keys,
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the service; host config is read at start-up so a bad setting fails loudly."""
    settings = settings or Settings()
    configure_logging(level=settings.log_level, fmt=settings.log_format)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        sidecar = SidecarClient()
        host = host_config(settings)
        await register_resident_object(host, sidecar)
        app.state.settings = settings
        app.state.host = host
        app.state.sidecar = sidecar
        app.state.inputs = host.inputs
        app.state.delivery_key = host.delivery_key
        app.state.objects = ResidentObjectClient(sidecar)
        app.state.index = ObjectIndex(sidecar, store=settings.statestore)
        app.state.rate_limiter = RateLimiter(
            rate=settings.command_rate, burst=settings.command_burst
        )
        app.state.host_jwks = host_jwks(host.host_key) if host.host_key else {"keys": []}
        log.info("resident host %s serving; sidecar %s", settings.host_id, sidecar.base_url)
        # Everything loaded so far (modules, the engine's compiled rules, FastAPI's routes)
        # lives as long as the process: kept out of the collector's full passes, which
        # otherwise walk it every few thousand turns (~0.1 s each, measured).
        gc.freeze()
        if settings.app_api_token is None:
            log.warning(
                "APP_API_TOKEN is not set: actor and subscription routes answer only on loopback%s",
                " (and beyond: RESIDENT_ALLOW_UNAUTHENTICATED_SIDECAR)"
                if settings.allow_unauthenticated_sidecar
                else "",
            )
        try:
            yield
        finally:
            await sidecar.close()

    app = FastAPI(
        title="Resident",
        summary="Self-governing state on Dapr: objects that carry their own signed policy.",
        version="0.1.0",
        lifespan=lifespan,
    )
    DaprActor(app)
    app.include_router(history.router)
    app.include_router(objects.router)
    app.include_router(metrics.router)
    app.include_router(health.router)
    app.include_router(transfer.router)
    app.include_router(events.router)
    install_console(app, settings)
    install_error_handlers(app)
    # Added first, so it runs inside the token guard (Starlette wraps later additions outside).
    app.add_middleware(ActorFastPath, actor_types=frozenset({ACTOR_TYPE}))
    app.add_middleware(
        SidecarTokenGuard,
        token=settings.app_api_token,
        allow_unauthenticated=settings.allow_unauthenticated_sidecar,
    )
    app.add_middleware(TraceContextCapture)
    return app


app = create_app()
