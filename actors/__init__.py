"""The generic `ResidentObject` Dapr actor: wires policy decisions to Dapr, nothing more."""

from ._activations import sidecar_restarted
from ._calls import SidecarCall, serving_sidecar_call, sidecar_generation
from ._client import ResidentObjectClient
from ._delivery import MARK_FIELD, delivery_key, mark
from ._errors import (
    BadRequestError,
    ConflictError,
    EffectsPendingError,
    ForbiddenError,
    ObjectError,
    ObjectMovedError,
    ObjectNotFoundError,
    ObjectUnavailableError,
    ResidentError,
)
from ._host import Clock, HostConfig, SystemClock
from ._index import ObjectIndex
from ._interface import ACTOR_TYPE, ResidentObjectInterface
from ._messages import (
    CommandRequest,
    DescribeRequest,
    DryRunRequest,
    ErrorEnvelope,
    EvaluateRequest,
    ExportRequest,
    ImportRequest,
    InstallPolicyRequest,
    LineageRequest,
    SnapshotRequest,
    VerifyLineageRequest,
    method_body,
)
from ._object import ResidentObject
from ._requests import KEY_RULE, IdempotencyKeyReusedError, is_valid_key
from ._runtime import actor_factory, register_resident_object
from ._serializer import PlainJSONSerializer
from ._sidecar import SidecarClient, SidecarError
from ._trace import remember as remember_trace
from ._turnlock import fence, turn_lock, turn_running

__all__ = [
    "ACTOR_TYPE",
    "KEY_RULE",
    "MARK_FIELD",
    "BadRequestError",
    "Clock",
    "CommandRequest",
    "ConflictError",
    "DescribeRequest",
    "DryRunRequest",
    "EffectsPendingError",
    "ErrorEnvelope",
    "EvaluateRequest",
    "ExportRequest",
    "ForbiddenError",
    "HostConfig",
    "IdempotencyKeyReusedError",
    "ImportRequest",
    "InstallPolicyRequest",
    "LineageRequest",
    "ObjectError",
    "ObjectIndex",
    "ObjectMovedError",
    "ObjectNotFoundError",
    "ObjectUnavailableError",
    "PlainJSONSerializer",
    "ResidentError",
    "ResidentObject",
    "ResidentObjectClient",
    "ResidentObjectInterface",
    "SidecarCall",
    "SidecarClient",
    "SidecarError",
    "SnapshotRequest",
    "SystemClock",
    "VerifyLineageRequest",
    "actor_factory",
    "delivery_key",
    "fence",
    "is_valid_key",
    "mark",
    "method_body",
    "register_resident_object",
    "remember_trace",
    "serving_sidecar_call",
    "sidecar_generation",
    "sidecar_restarted",
    "turn_lock",
    "turn_running",
]
