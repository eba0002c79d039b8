"""Errors an object reports to its callers, as a JSON envelope with a stable `code`.

Actor methods never raise for a refusal: an exception through the Dapr SDK becomes an opaque
500 with the exception's repr. Instead a refused turn returns `{"error": {"code", "message"}}`,
which every caller (HTTP API, ActorProxy, curl) can read, and the state stays untouched.
"""

from __future__ import annotations

from typing import Any

from policies import PolicyError


class ObjectError(Exception):
    """A refusal decided by the object itself, outside the policy engine."""

    code = "error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.details = details


class ObjectNotFoundError(ObjectError):
    """No policy was ever installed on this object id. Installing one creates it."""

    code = "not_found"


class ObjectMovedError(ObjectError):
    """The object was exported with move; it now lives on another host. Retrying cannot help."""

    code = "moved"


class ConflictError(ObjectError):
    """The request contradicts the object's state (e.g. a stale or forked history)."""

    code = "conflict"


class ForbiddenError(ObjectError):
    """The object's policy does not let this caller do this. Retrying cannot help."""

    code = "forbidden"


class EffectsPendingError(ObjectError):
    """Effects of the object are not delivered yet; moving now would strand them here.

    Retry once the pub/sub, binding or service they target is reachable again.
    """

    code = "effects_pending"


class BadRequestError(ObjectError):
    """The request body is not of the method's shape; fix the request."""

    code = "invalid_request"


class ObjectUnavailableError(ObjectError):
    """The object cannot be served here right now (it is moving between replicas); nothing
    was written. Retrying reaches it where it lives."""

    code = "unavailable"


def error_envelope(exc: PolicyError | ObjectError) -> dict[str, Any]:
    """The JSON body of a refused turn."""
    error: dict[str, Any] = {"code": exc.code, "message": str(exc)}
    if isinstance(exc, ObjectError):
        error.update(exc.details)
    return {"error": error}


class ResidentError(Exception):
    """Raised by `ResidentObjectClient` when an object refuses a call; carries its `code`."""

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.details = details or {}
