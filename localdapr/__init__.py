"""localdapr: a local stand-in for the Dapr sidecar's HTTP API (actors, state, pub/sub, bindings),
and the actor calls of its gRPC API (`--dapr-grpc-port`, for the Java and Go SDKs).

It imports nothing of Resident: any Dapr app can run against it. Production uses real Dapr.
"""

from ._appchannel import AppChannel, AppResponse, AppUnreachableError
from ._config import SidecarConfig
from ._errors import DaprError
from ._grpc import GrpcServer
from ._server import build_app, default_subsystems
from ._subsystem import SidecarContext, Subsystem

__all__ = [
    "AppChannel",
    "AppResponse",
    "AppUnreachableError",
    "DaprError",
    "GrpcServer",
    "SidecarConfig",
    "SidecarContext",
    "Subsystem",
    "build_app",
    "default_subsystems",
]
