"""Assembles the sidecar: the ASGI app, the API-token gate, health, metadata and start-up.

Start-up follows daprd's order. The listener answers `/v1.0/healthz/outbound` at once, because
the Dapr SDK polls it synchronously while the app is still starting (waiting for the app
first would deadlock both). Meanwhile one background task waits for the app's `/healthz`,
reads `/dapr/config` and `/dapr/subscribe`, and hands the app to every subsystem.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ._actors import ActorSubsystem
from ._appchannel import AppChannel, AppUnreachableError
from ._bindings import BindingsSubsystem
from ._config import SidecarConfig
from ._errors import JSON, DaprError, error_response, handle_dapr_error
from ._grpc import GrpcServer
from ._invoke import InvokeSubsystem
from ._kvstate import KeyValueStateSubsystem
from ._pubsub import PubSubSubsystem
from ._subsystem import SidecarContext, Subsystem

log = logging.getLogger("localdapr")

TOKEN_HEADER = b"dapr-api-token"
_OPEN_PATHS = frozenset({"/v1.0/healthz", "/v1.0/healthz/outbound"})
_GUARDED_PREFIXES = ("/v1.0/", "/v1.0-alpha1/")


def default_subsystems(config: SidecarConfig) -> list[Subsystem]:
    """Every API family a `python -m localdapr` sidecar serves, in start-up order."""
    subsystems: list[Subsystem] = [ActorSubsystem(config)]
    # --- other API families (key/value state, pub/sub, bindings, invoke) go below ---
    subsystems += [
        KeyValueStateSubsystem(config),
        PubSubSubsystem(config),
        BindingsSubsystem(config),
        InvokeSubsystem(config),
    ]
    return subsystems


class ApiTokenGate:
    """Pure ASGI middleware doing daprd's DAPR_API_TOKEN check (cheaper than BaseHTTPMiddleware).

    daprd answers a plain-text 401; we answer the Dapr JSON error shape so SDK errors parse.
    """

    def __init__(self, app: ASGIApp, *, token: str) -> None:
        self.app = app
        self._token = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self._guarded(scope):
            presented = dict(scope["headers"]).get(TOKEN_HEADER)
            if presented != self._token:
                resp = error_response(401, "ERR_UNAUTHORIZED", "invalid api token")
                await resp(scope, receive, send)
                return
        await self.app(scope, receive, send)

    @staticmethod
    def _guarded(scope: Scope) -> bool:
        path: str = scope["path"].rstrip("/") or "/"
        if path in _OPEN_PATHS and scope["method"] == "GET":
            return False
        return path.startswith(_GUARDED_PREFIXES) or path in ("/v1.0", "/v1.0-alpha1")


class Sidecar:
    """The running sidecar: its context, subsystems and the app-connection task."""

    def __init__(self, config: SidecarConfig, subsystems: Sequence[Subsystem]) -> None:
        self.config = config
        self.subsystems = list(subsystems)
        self.ctx = SidecarContext(config=config, app=AppChannel(config))
        self.app_ready = asyncio.Event()
        self._connector: asyncio.Task[None] | None = None

    async def start(self) -> None:
        for sub in self.subsystems:
            await sub.start(self.ctx)
        self._connector = asyncio.create_task(self._connect_app(), name="localdapr-connect-app")

    async def close(self) -> None:
        if self._connector is not None:
            self._connector.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connector
        for sub in reversed(self.subsystems):
            try:
                await sub.close()
            except Exception:
                log.exception("closing subsystem %s failed", sub.name)
        await self.ctx.app.close()

    async def _connect_app(self) -> None:
        """Wait for the app, read its config and subscriptions, then start each subsystem."""
        await self._wait_for_app()
        self.ctx.app_config = await self._read_json("/dapr/config", default={})
        subs = await self._read_json("/dapr/subscribe", default=[])
        self.ctx.app_subscriptions = subs if isinstance(subs, list) else []
        log.info(
            "app %s reachable on port %d; entities=%s",
            self.config.app_id,
            self.config.app_port,
            self.ctx.app_config.get("entities", []),
        )
        for sub in self.subsystems:
            try:
                await sub.on_app_ready(self.ctx)
            except Exception:
                log.exception("subsystem %s failed to start", sub.name)
                continue
            log.info("started subsystem %s", sub.name)
        self.app_ready.set()

    async def _wait_for_app(self) -> None:
        delay = 0.05
        while True:
            try:
                resp = await self.ctx.app.call("GET", "/healthz", timeout=2.0)
                if resp.status < 500:
                    return
            except AppUnreachableError:
                pass
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)

    async def _read_json(self, path: str, *, default: Any) -> Any:
        """The app's JSON at `path`, or `default` when it has none (404) or sends garbage."""
        try:
            resp = await self.ctx.app.call("GET", path, timeout=10.0)
        except AppUnreachableError:
            log.warning("app unreachable reading %s; assuming none", path)
            return default
        if resp.status != 200:
            return default
        try:
            value = json.loads(resp.body) if resp.body else default
        except ValueError:
            log.warning("app answered %s with invalid JSON; ignoring it", path)
            return default
        return value if isinstance(value, type(default)) else default

    # -- routes ---------------------------------------------------------------------------

    def routes(self) -> list[BaseRoute]:
        own: list[BaseRoute] = [
            Route("/v1.0/healthz", self.healthz, methods=["GET"]),
            Route("/v1.0/healthz/outbound", self.healthz_outbound, methods=["GET"]),
            Route("/v1.0/metadata", self.metadata, methods=["GET"]),
        ]
        for sub in self.subsystems:
            own.extend(sub.routes())
        return own

    async def healthz(self, _request: Request) -> Response:
        if self.app_ready.is_set():
            return Response(status_code=204)
        return error_response(500, "ERR_HEALTH_NOT_READY", "dapr is not ready")

    async def healthz_outbound(self, _request: Request) -> Response:
        return Response(status_code=204)

    async def metadata(self, _request: Request) -> Response:
        body: dict[str, Any] = {
            "id": self.config.app_id,
            "runtimeVersion": "localdapr",
            "actors": [],
            "components": [],
            "subscriptions": [],
            "httpEndpoints": [],
            "extended": {},
            "appConnectionProperties": {
                "port": self.config.app_port,
                "protocol": "http",
                "channelAddress": self.config.app_host,
            },
        }
        for sub in self.subsystems:
            _merge(body, sub.metadata())
        return Response(json.dumps(body).encode(), media_type=JSON)


def _merge(into: dict[str, Any], part: dict[str, Any]) -> None:
    """Lists concatenate and dicts merge, so several subsystems can fill one metadata key."""
    for key, value in part.items():
        current = into.get(key)
        if isinstance(current, list) and isinstance(value, list):
            current.extend(value)
        elif isinstance(current, dict) and isinstance(value, dict):
            current.update(value)
        else:
            into[key] = value


async def _no_route(_request: Request, _exc: Exception) -> Response:
    """daprd hands an unknown route (or method) to service invocation, which finds no app id.

    Deliberate difference: daprd would invoke the app named in a `dapr-app-id` header with
    the path as the method; localdapr serves invocation only under /v1.0/invoke/.
    """
    return error_response(
        404,
        "ERR_DIRECT_INVOKE",
        "failed getting app id either from the URL path or the header dapr-app-id",
    )


def _grpc_server(config: SidecarConfig, sidecar: Sidecar) -> GrpcServer | None:
    """The gRPC API when `--dapr-grpc-port` asks for it and this sidecar hosts actors."""
    actors = [sub for sub in sidecar.subsystems if isinstance(sub, ActorSubsystem)]
    if config.dapr_grpc_port is None or not actors:
        return None
    return GrpcServer(config, actors[0], port=config.dapr_grpc_port)


def build_app(config: SidecarConfig, subsystems: Sequence[Subsystem] | None = None) -> Starlette:
    """The sidecar as an ASGI app; subsystems default to `default_subsystems(config)`."""
    sidecar = Sidecar(config, default_subsystems(config) if subsystems is None else subsystems)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await sidecar.start()
        grpc_server = _grpc_server(config, sidecar)
        if grpc_server is not None:
            await grpc_server.start()
        log.info(
            "localdapr for app %r listening on %s:%d",
            config.app_id,
            config.listen_host,
            config.dapr_http_port,
        )
        gc.freeze()  # what start-up loaded lives as long as the sidecar: out of full collections
        try:
            yield
        finally:
            if grpc_server is not None:
                await grpc_server.stop()
            await sidecar.close()

    app = Starlette(
        routes=sidecar.routes(),
        lifespan=lifespan,
        exception_handlers={DaprError: handle_dapr_error, 404: _no_route, 405: _no_route},
    )
    app.router.redirect_slashes = False  # daprd answers a path as it is, never with a 307
    app.state.sidecar = sidecar
    if config.api_token:
        app.add_middleware(ApiTokenGate, token=config.api_token)
    return app
