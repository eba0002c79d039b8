"""The public face of `policies` is deliberate: this pins it."""

from __future__ import annotations

import policies
from policies import PolicyError

EXPECTED = {
    "policy_versions",
    "draft_policy",
    "EntrySigner",
    "InvalidEntrySignature",
    "ReplayMismatch",
    "ReplayReport",
    "SignatureReport",
    "check_entry_signatures",
    "check_replay",
    "entry_inputs",
    "host_inputs",
    "host_keys",
    "replay_lineage",
    "DEFAULT_MAX_TOKEN_LIFETIME",
    # the policy authoring kit (#16): schema, lint, unit tests
    "SCHEMA_FILE",
    "TEST_SCHEMA_FILE",
    "policy_test_schema",
    "policy_schema",
    "schema_text",
    "Problem",
    "has_errors",
    "lint_text",
    "CaseResult",
    "SuiteResult",
    "discover",
    "run_suite",
    "junit_xml",
    "summary",
    "exact_json",
    "BUNDLE_FORMAT",
    "MAX_BUNDLE_BYTES",
    "BundleTooLarge",
    "DataMismatch",
    "DataTooLarge",
    "InputLimits",
    "NumberOutOfRange",
    "TooDeep",
    "InvalidBundle",
    "InvalidHostSignature",
    "LineageConflict",
    "PolicyMismatch",
    "UntrustedHost",
    "VerifiedBundle",
    "build_bundle",
    "check_extends",
    "host_narrowing",
    "verify_bundle",
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
    "UnboundKey",
    "UnknownCommand",
    "UnsignedPolicy",
    "UntrustedIssuer",
    "UntrustedSuccessor",
    "WorkflowOutcome",
    "WorkflowStatus",
    "WorkflowStep",
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
}

CODES = {
    "ReplayMismatch": "replay_mismatch",
    "InvalidEntrySignature": "invalid_entry_signature",
    "InvalidPolicy": "invalid_policy",
    "UnsignedPolicy": "unsigned_policy",
    "UntrustedIssuer": "untrusted_issuer",
    "InvalidSignature": "invalid_signature",
    "PolicyExpired": "policy_expired",
    "PolicyNotYetValid": "policy_not_yet_valid",
    "ObjectNotGoverned": "object_not_governed",
    "PolicyTooLarge": "policy_too_large",
    "InvalidParams": "invalid_params",
    "UnknownCommand": "unknown_command",
    "Forbidden": "forbidden",
    "Rollback": "rollback",
    "UntrustedSuccessor": "untrusted_successor",
    "TokenError": "unauthenticated",
    "LineageError": "lineage_broken",
    "InvalidData": "invalid_data",
    "InvalidConfig": "invalid_config",
    "UnboundKey": "invalid_config",  # an InvalidConfig that names the key (`kid`)
    "InvalidBundle": "invalid_bundle",
    "BundleTooLarge": "bundle_too_large",
    "DataMismatch": "data_mismatch",
    "PolicyMismatch": "policy_mismatch",
    "InvalidHostSignature": "invalid_host_signature",
    "UntrustedHost": "untrusted_host",
    "LineageConflict": "conflict",
    "DataTooLarge": "data_too_large",
    "TooDeep": "too_deep",
    "NumberOutOfRange": "number_out_of_range",
}


def test_all_is_pinned() -> None:
    assert set(policies.__all__) == EXPECTED
    assert len(policies.__all__) == len(EXPECTED)
    for name in policies.__all__:
        assert getattr(policies, name) is not None


def test_issue_acceptance_import_line() -> None:
    from policies import (  # noqa: F401
        Decision,
        HostLimits,
        Lineage,
        LineageError,
        Policy,
        PolicyError,
        TrustStore,
        generate_key,
        load_policy,
        sign_policy,
        verify_lineage,
    )


def test_every_error_is_exported_with_a_distinct_stable_code() -> None:
    exported = {
        name: obj
        for name, obj in vars(policies).items()
        if isinstance(obj, type) and issubclass(obj, PolicyError) and obj is not PolicyError
    }
    assert {name: cls.code for name, cls in exported.items()} == CODES
    assert all(cls.__doc__ and "Retry" in cls.__doc__ for cls in exported.values())
