"""Resident policy engine: signed policy documents, CEL rules, admission and lineage.

Pure Python (no Dapr, no web framework). The names below are the public API; everything in
the underscore modules may change without notice.
"""

from ._bundle import (
    BUNDLE_FORMAT,
    MAX_BUNDLE_BYTES,
    VerifiedBundle,
    build_bundle,
    check_extends,
    host_narrowing,
    verify_bundle,
)
from ._decision import Decision
from ._docschema import SCHEMA_FILE, policy_schema, schema_text
from ._durations import parse_duration
from ._errors import (
    BundleTooLarge,
    DataMismatch,
    DataTooLarge,
    Forbidden,
    InvalidBundle,
    InvalidConfig,
    InvalidData,
    InvalidHostSignature,
    InvalidParams,
    InvalidPolicy,
    InvalidSignature,
    LineageConflict,
    LineageError,
    NumberOutOfRange,
    ObjectNotGoverned,
    PolicyError,
    PolicyExpired,
    PolicyMismatch,
    PolicyNotYetValid,
    PolicyTooLarge,
    Rollback,
    TokenError,
    TooDeep,
    UnboundKey,
    UnknownCommand,
    UnsignedPolicy,
    UntrustedHost,
    UntrustedIssuer,
    UntrustedSuccessor,
)
from ._inputs import MAX_POLICY_BYTES, InputLimits, exact_json
from ._limits import DEFAULT_PUBSUB, HostLimits
from ._lineage import (
    Lineage,
    canonical_json,
    data_digest,
    next_entry,
    verify_lineage,
)
from ._lint import Problem, has_errors, lint_text
from ._load import (
    clear_policy_cache,
    example_document,
    load_policy,
    read_document,
    sign_policy,
)
from ._model import PolicyDocument
from ._policy import Policy
from ._policytest import CaseResult, SuiteResult, discover, run_suite
from ._signing import SigningKey, TrustStore, generate_key
from ._testreport import junit_xml, summary
from ._tokens import DEFAULT_MAX_TOKEN_LIFETIME, sign_token, verify_token
from ._workflow import WorkflowOutcome, WorkflowStatus, WorkflowStep

__all__ = [
    "BUNDLE_FORMAT",
    "DEFAULT_MAX_TOKEN_LIFETIME",
    "DEFAULT_PUBSUB",
    "MAX_BUNDLE_BYTES",
    "MAX_POLICY_BYTES",
    "SCHEMA_FILE",
    "BundleTooLarge",
    "CaseResult",
    "DataMismatch",
    "DataTooLarge",
    "Decision",
    "Forbidden",
    "HostLimits",
    "InputLimits",
    "InvalidBundle",
    "InvalidConfig",
    "InvalidData",
    "InvalidHostSignature",
    "InvalidParams",
    "InvalidPolicy",
    "InvalidSignature",
    "Lineage",
    "LineageConflict",
    "LineageError",
    "NumberOutOfRange",
    "ObjectNotGoverned",
    "Policy",
    "PolicyDocument",
    "PolicyError",
    "PolicyExpired",
    "PolicyMismatch",
    "PolicyNotYetValid",
    "PolicyTooLarge",
    "Problem",
    "Rollback",
    "SigningKey",
    "SuiteResult",
    "TokenError",
    "TooDeep",
    "TrustStore",
    "UnboundKey",
    "UnknownCommand",
    "UnsignedPolicy",
    "UntrustedHost",
    "UntrustedIssuer",
    "UntrustedSuccessor",
    "VerifiedBundle",
    "WorkflowOutcome",
    "WorkflowStatus",
    "WorkflowStep",
    "build_bundle",
    "canonical_json",
    "check_extends",
    "clear_policy_cache",
    "data_digest",
    "discover",
    "exact_json",
    "example_document",
    "generate_key",
    "has_errors",
    "host_narrowing",
    "junit_xml",
    "lint_text",
    "load_policy",
    "next_entry",
    "parse_duration",
    "policy_schema",
    "read_document",
    "run_suite",
    "schema_text",
    "sign_policy",
    "sign_token",
    "summary",
    "verify_bundle",
    "verify_lineage",
    "verify_token",
]
