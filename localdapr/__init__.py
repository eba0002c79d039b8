"""localdapr: a local stand-in for the Dapr sidecar's HTTP API (actors, state, pub/sub, bindings).

It imports nothing of Resident: any Dapr app can run against it. Production uses real Dapr.
"""

from ._appchannel import AppChannel, AppResponse, AppUnreachableError
from ._config import SidecarConfig
from ._errors import DaprError
from ._server import build_app, default_subsystems
from ._subsystem import SidecarContext, Subsystem

__all__ = [
    "AppChannel",
    "AppResponse",
    "AppUnreachableError",
    "DaprError",
    "SidecarConfig",
    "SidecarContext",
    "Subsystem",
    "build_app",
    "default_subsystems",
]
