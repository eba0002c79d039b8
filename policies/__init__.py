"""Resident policy engine: signed policy documents, CEL rules, admission and lineage.

Pure Python (no Dapr, no web framework). The names below are the public API; everything in
the underscore modules may change without notice.
"""

from ._decision import Decision
from ._durations import parse_duration
from ._errors import (
    Forbidden,
    InvalidConfig,
    InvalidData,
    InvalidParams,
    InvalidPolicy,
    InvalidSignature,
    LineageError,
    ObjectNotGoverned,
    PolicyError,
    PolicyExpired,
    PolicyNotYetValid,
    PolicyTooLarge,
    Rollback,
    TokenError,
    UnknownCommand,
    UnsignedPolicy,
    UntrustedIssuer,
    UntrustedSuccessor,
)
from ._limits import DEFAULT_PUBSUB, HostLimits
from ._lineage import (
    Lineage,
    canonical_json,
    data_digest,
    next_entry,
    verify_lineage,
)
from ._load import (
    MAX_POLICY_BYTES,
    clear_policy_cache,
    example_document,
    load_policy,
    read_document,
    sign_policy,
)
from ._model import PolicyDocument
from ._policy import Policy
from ._signing import SigningKey, TrustStore, generate_key
from ._tokens import sign_token, verify_token

__all__ = [
    "DEFAULT_PUBSUB",
    "MAX_POLICY_BYTES",
    "Decision",
    "Forbidden",
    "HostLimits",
    "InvalidConfig",
    "InvalidData",
    "InvalidParams",
    "InvalidPolicy",
    "InvalidSignature",
    "Lineage",
    "LineageError",
    "ObjectNotGoverned",
    "Policy",
    "PolicyDocument",
    "PolicyError",
    "PolicyExpired",
    "PolicyNotYetValid",
    "PolicyTooLarge",
    "Rollback",
    "SigningKey",
    "TokenError",
    "TrustStore",
    "UnknownCommand",
    "UnsignedPolicy",
    "UntrustedIssuer",
    "UntrustedSuccessor",
    "canonical_json",
    "clear_policy_cache",
    "data_digest",
    "example_document",
    "generate_key",
    "load_policy",
    "next_entry",
    "parse_duration",
    "read_document",
    "sign_policy",
    "sign_token",
    "verify_lineage",
    "verify_token",
]
