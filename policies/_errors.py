"""The policy engine's one exception tree.

Every failure a caller can cause surfaces as a `PolicyError` subclass with a stable `code`, so
the HTTP layer maps errors to statuses in one place and clients can branch on `code` without
parsing messages. Each class docstring says whether retrying the same request can help.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import ValidationError


class PolicyError(Exception):
    """Root of every error the policy engine raises on bad input. Retry: see the subclass."""

    code: ClassVar[str] = "policy_error"

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        for name, value in fields.items():
            setattr(self, name, value)


class InvalidPolicy(PolicyError):
    """The document is malformed: YAML/JSON, fields, CEL, durations or schema. Retry: no;
    fix the document and sign it again. `details` lists the individual problems."""

    code = "invalid_policy"
    details: list[dict[str, str]]

    def __init__(self, message: str, *, details: list[dict[str, str]] | None = None) -> None:
        super().__init__(message, details=details or [])


class UnsignedPolicy(PolicyError):
    """Not a compact JWS, not typed as a policy (`typ` must be `resident-policy+jwt`: a caller
    token is never a policy), or signed with a refused algorithm (none, HS*, anything but
    EdDSA, ES256, RS256). Retry: no; sign the document with `sign_policy` and an accepted key."""

    code = "unsigned_policy"


class UntrustedIssuer(PolicyError):
    """The signing key (by `kid`) is not in the trust store, is bound to no issuer, or the
    document's `iss` is not the key's issuer. Retry: only after the key is added to the trust
    store with the right `iss`."""

    code = "untrusted_issuer"


class InvalidSignature(PolicyError):
    """The signature does not verify with the trusted key. Retry: no; the bytes were altered
    or signed with another key."""

    code = "invalid_signature"


class PolicyExpired(PolicyError):
    """The policy's `exp` is in the past. Retry: no; obtain a freshly signed version."""

    code = "policy_expired"


class PolicyNotYetValid(PolicyError):
    """The policy's `nbf` is in the future. Retry: yes, once `nbf` has passed."""

    code = "policy_not_yet_valid"


class ObjectNotGoverned(PolicyError):
    """The object id matches none of the policy's `objects` patterns. Retry: no; use a
    policy whose `objects` cover this id. `object_id` names the id."""

    code = "object_not_governed"
    object_id: str

    def __init__(self, message: str, *, object_id: str) -> None:
        super().__init__(message, object_id=object_id)


class PolicyTooLarge(PolicyError):
    """The signed policy exceeds the size limit. Retry: no; shrink the document."""

    code = "policy_too_large"


class InvalidParams(PolicyError):
    """Command params are missing, unknown or of the wrong type. Retry: no; fix the params.
    `param` names the offending param (None when params is not an object at all)."""

    code = "invalid_params"
    param: str | None

    def __init__(self, message: str, *, param: str | None) -> None:
        super().__init__(message, param=param)


class UnknownCommand(PolicyError):
    """The policy declares no command of that name. Retry: no. `command` names it."""

    code = "unknown_command"
    command: str

    def __init__(self, message: str, *, command: str) -> None:
        super().__init__(message, command=command)


class Forbidden(PolicyError):
    """A permission (read, amend, export, ...) denied the caller. Retry: not with the same
    caller; `reason` says which check refused."""

    code = "forbidden"
    reason: str

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message, reason=reason)


class Rollback(PolicyError):
    """A successor policy's version is not higher than the current one. Retry: no; sign a
    successor with a higher `version`."""

    code = "rollback"


class UntrustedSuccessor(PolicyError):
    """A successor policy's `iss` is not in the current policy's `successors`. Retry: no;
    have an allowed issuer sign it."""

    code = "untrusted_successor"


class TokenError(PolicyError):
    """A caller token failed verification (format, algorithm, key, signature, exp, nbf, iss
    or aud). Retry: only with a new, valid token. The message names the failed check and
    never echoes the token."""

    code = "unauthenticated"


class LineageError(PolicyError):
    """A lineage chain does not verify; `seq` is the first bad entry. Retry: no; the stored
    history was altered, truncated or reordered."""

    code = "lineage_broken"
    seq: int

    def __init__(self, message: str, *, seq: int) -> None:
        super().__init__(message, seq=seq)


class InvalidData(PolicyError):
    """A value handed to the engine is not what it accepts: object data that is not a JSON
    object, a non-JSON value for lineage, an unknown lineage kind. Retry: no; fix the input."""

    code = "invalid_data"


class InvalidConfig(PolicyError):
    """Keys, JWKS documents or host limits are malformed or of an unsupported kind (e.g.
    symmetric "oct" keys). Retry: no; fix the configuration."""

    code = "invalid_config"


class UnboundKey(InvalidConfig):
    """A trust-file key names no issuer (its JWK lacks a non-empty string `"iss"`): such a key
    could sign policies and tokens for any issuer. Retry: no; add the `iss` the key signs as.
    `kid` names the key."""

    kid: str

    def __init__(self, message: str, *, kid: str) -> None:
        super().__init__(message, kid=kid)


class InvalidBundle(PolicyError):
    """A bundle is not a `resident.bundle/1` JSON object of the documented shape, or it is
    for another object id. Retry: no; export the object again."""

    code = "invalid_bundle"


class BundleTooLarge(PolicyError):
    """A bundle exceeds the receiving host's size limit. Retry: no; raise the host's limit
    (RESIDENT_MAX_BUNDLE_BYTES) or move a smaller object."""

    code = "bundle_too_large"


class DataMismatch(PolicyError):
    """The bundle's `data` does not hash to the digest its last lineage entry records.
    Retry: no; the data was altered after export."""

    code = "data_mismatch"


class PolicyMismatch(PolicyError):
    """The bundle's policy is not the one its last lineage entry was made under (a validly
    signed but substituted policy). Retry: no; export the object again."""

    code = "policy_mismatch"


class InvalidHostSignature(PolicyError):
    """The exporting host's signature over the bundle is missing, malformed or does not
    verify: the bundle was altered after export. Retry: no; export it again."""

    code = "invalid_host_signature"


class UntrustedHost(PolicyError):
    """The bundle was signed by a host key this host does not trust, and this host requires
    trusted hosts. Retry: only after the exporting host's JWK is added to the trusted hosts."""

    code = "untrusted_host"


class LineageConflict(PolicyError):
    """The object exists here and the bundle's lineage does not strictly extend it: importing
    would fork or roll back its history. Retry: no; import a bundle exported later."""

    code = "conflict"


class DataTooLarge(PolicyError):
    """The object's data would exceed the host's size limit (RESIDENT_MAX_DATA_BYTES): a
    command or cycle result, or a policy's initial data. Retry: no; shrink what the command
    writes, or raise the host's limit."""

    code = "data_too_large"


class NumberOutOfRange(PolicyError):
    """A JSON number no object can hold exactly: not finite (`1e400`), or an integer beyond
    ±(2**53 - 1), which canonical JSON (RFC 8785, the lineage's digests) cannot represent.
    Retry: no; send a smaller number, or a string."""

    code = "number_out_of_range"


class TooDeep(PolicyError):
    """A JSON value (params, data, a policy document, a bundle, a request body) nests deeper
    than the host's limit (RESIDENT_MAX_JSON_DEPTH). Retry: no; flatten the value."""

    code = "too_deep"


def validation_problems(exc: ValidationError) -> list[dict[str, str]]:
    """pydantic's errors as `{loc, msg}`, so a message can name every bad field at once."""
    return [
        {"loc": ".".join(str(p) for p in err["loc"]) or "(document)", "msg": err["msg"]}
        for err in exc.errors(include_url=False)
    ]


def listed(problems: list[dict[str, str]]) -> str:
    return "; ".join(f"{p['loc']}: {p['msg']}" for p in problems)


class ReplayMismatch(PolicyError):
    """Re-executing the history does not reproduce it: `seq` is the first entry that differs
    (or cannot be re-executed). Retry: no; the history was forged, or written by software
    that did not record its inputs."""

    code = "replay_mismatch"
    seq: int

    def __init__(self, message: str, *, seq: int) -> None:
        super().__init__(message, seq=seq)


class InvalidEntrySignature(PolicyError):
    """A lineage entry's host signature does not verify with the key it names. Retry: no;
    the entry was altered after the host that wrote it signed it."""

    code = "invalid_entry_signature"
    seq: int

    def __init__(self, message: str, *, seq: int) -> None:
        super().__init__(message, seq=seq)
