"""The Dapr gRPC API (`dapr.proto.runtime.v1.Dapr`), the part the Java and Go SDKs need.

Both SDKs call actors over gRPC only: `ActorProxyBuilder` (Java) and `client.InvokeActor` /
actor client stubs (Go) send `InvokeActor`; the Go client only dials (no call) when it
connects. So localdapr serves `InvokeActor` (through the same path, turn locks and errors as
the HTTP API's `/v1.0/actors/{type}/{id}/method/{name}`) and `GetMetadata`; every other method
answers UNIMPLEMENTED, as the generated servicer does.

As daprd: actor types, ids and method names are checked as daprd checks them (INVALID_ARGUMENT),
`DAPR_API_TOKEN` is checked on every call (`dapr-api-token` metadata, else
UNAUTHENTICATED), a message over 4 MiB is refused (daprd's default `--max-body-size`), a
failed call is INTERNAL with daprd's "error invoke actor method: ..." message, and the actor's
answer comes back as the response's `data` whatever it holds (a refusal envelope included).

Deliberate difference: daprd also attaches an ErrorInfo detail to its errors; localdapr sends
the status code and message only.
"""

from __future__ import annotations

import hmac
import logging
import posixpath
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import grpc
from dapr.proto.runtime.v1 import actors_pb2, dapr_pb2_grpc, metadata_pb2

from ._errors import DaprError

if TYPE_CHECKING:
    from ._actors import ActorSubsystem
    from ._config import SidecarConfig

log = logging.getLogger("localdapr.grpc")

TOKEN_METADATA = "dapr-api-token"
_FORBIDDEN_IN_NAMES = frozenset("#?\x00/\\")
MAX_MESSAGE = 4 * 1024 * 1024


def grpc_code(status: int) -> grpc.StatusCode:
    """The gRPC code daprd gives an HTTP status (messaging/v1 CodeFromHTTPStatus)."""
    return {
        400: grpc.StatusCode.INVALID_ARGUMENT,
        401: grpc.StatusCode.UNAUTHENTICATED,
        403: grpc.StatusCode.PERMISSION_DENIED,
        404: grpc.StatusCode.NOT_FOUND,
        409: grpc.StatusCode.ABORTED,
        429: grpc.StatusCode.RESOURCE_EXHAUSTED,
        501: grpc.StatusCode.UNIMPLEMENTED,
        503: grpc.StatusCode.UNAVAILABLE,
        504: grpc.StatusCode.DEADLINE_EXCEEDED,
    }.get(status, grpc.StatusCode.INTERNAL)


class DaprGrpcApi(dapr_pb2_grpc.DaprServicer):
    """`InvokeActor` and `GetMetadata`, bound to one sidecar's actor subsystem."""

    def __init__(self, config: SidecarConfig, actors: ActorSubsystem) -> None:
        self._config = config
        self._actors = actors

    async def InvokeActor(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        from ._actorroutes import invoke_actor  # the routes import the subsystem; avoid a cycle

        try:
            for what, value in (("actorType", request.actor_type), ("actorId", request.actor_id)):
                validate_name(value, what=what)
            method = normalize_method(request.method)
            _, _, body = await invoke_actor(
                self._actors,
                request.actor_type,
                request.actor_id,
                method,
                bytes(request.data),
                trace=_trace_of(context),
            )
        except DaprError as exc:
            await context.abort(grpc_code(exc.status), exc.message)
        return actors_pb2.InvokeActorResponse(data=body)

    async def GetMetadata(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        counts = [
            metadata_pb2.ActiveActorsCount(type=entry["type"], count=entry.get("count", 0))
            for entry in self._actors.metadata()["actors"]
        ]
        runtime = metadata_pb2.ActorRuntime(
            runtime_status=metadata_pb2.ActorRuntime.RUNNING,
            active_actors=counts,
            host_ready=True,
            placement="placement: connected",
        )
        return metadata_pb2.GetMetadataResponse(
            id=self._config.app_id,
            runtime_version="localdapr",
            active_actors_count=counts,
            actor_runtime=runtime,
        )


def validate_name(name: str, *, what: str) -> None:
    """daprd's check of an actor type or id (messaging/method.ValidateName)."""
    bad = next((c for c in name if c in _FORBIDDEN_IN_NAMES or ord(c) < 0x20 or c == "\x7f"), None)
    if not name or bad is not None or name in {".", ".."}:
        raise DaprError(400, "ERR_MALFORMED_REQUEST", f"invalid {what}: {name!r}")


def normalize_method(method: str) -> str:
    """daprd's NormalizeMethod: no `#`, `?`, NUL or control characters; `..` resolved."""
    if any(c in "#?\x00" or ord(c) < 0x20 or c == "\x7f" for c in method):
        raise DaprError(400, "ERR_MALFORMED_REQUEST", f"invalid actor method: {method!r}")
    cleaned = posixpath.normpath(method) if method else ""
    cleaned = "/" + cleaned.lstrip("/") if cleaned.startswith("//") else cleaned
    while cleaned.startswith("../"):
        cleaned = cleaned[3:]
    if cleaned in {"", ".", ".."}:
        raise DaprError(400, "ERR_MALFORMED_REQUEST", f"invalid actor method: {method!r}")
    return cleaned


def _trace_of(context: grpc.aio.ServicerContext) -> dict[str, str]:
    """The caller's W3C trace context, passed on to the app as the HTTP API passes it."""
    return {
        key: value
        for key, value in context.invocation_metadata() or ()
        if key in ("traceparent", "tracestate") and isinstance(value, str)
    }


class ApiTokenInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """daprd's `DAPR_API_TOKEN` check on every gRPC call."""

    def __init__(self, token: str) -> None:
        self._token = token.encode()

    async def intercept_service(
        self,
        continuation: Callable[[Any], Awaitable[Any]],
        details: Any,
    ) -> Any:
        presented = dict(details.invocation_metadata or ()).get(TOKEN_METADATA)
        if isinstance(presented, str) and hmac.compare_digest(presented.encode(), self._token):
            return await continuation(details)
        if presented is None:
            return grpc.unary_unary_rpc_method_handler(_refuse("missing api token in metadata"))
        return grpc.unary_unary_rpc_method_handler(_refuse("api token mismatch"))


def _refuse(detail: str) -> Callable[[Any, grpc.aio.ServicerContext], Awaitable[None]]:
    async def refuse(_request: Any, context: grpc.aio.ServicerContext) -> None:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, f"authentication error: {detail}")

    return refuse


class GrpcServer:
    """The gRPC listener, started and stopped with the sidecar's lifespan."""

    def __init__(self, config: SidecarConfig, actors: ActorSubsystem, *, port: int) -> None:
        interceptors = [ApiTokenInterceptor(config.api_token)] if config.api_token else []
        self._server = grpc.aio.server(
            interceptors=interceptors,
            options=[
                ("grpc.max_receive_message_length", MAX_MESSAGE),
                ("grpc.max_send_message_length", MAX_MESSAGE),
            ],
        )
        api = DaprGrpcApi(config, actors)
        dapr_pb2_grpc.add_DaprServicer_to_server(api, self._server)  # type: ignore[no-untyped-call]
        self.address = f"{config.listen_host}:{port}"

    async def start(self) -> None:
        try:
            bound = self._server.add_insecure_port(self.address)
        except RuntimeError as exc:
            raise OSError(f"localdapr: cannot listen for gRPC on {self.address}: {exc}") from exc
        if bound == 0:
            raise OSError(f"localdapr: cannot listen for gRPC on {self.address}")
        await self._server.start()
        log.info("gRPC API listening on %s", self.address)

    async def stop(self) -> None:
        await self._server.stop(grace=2.0)
