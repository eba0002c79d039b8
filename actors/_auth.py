"""The caller, as the object itself establishes it: from a token it verifies on every call.

The HTTP API passes the bearer token through untouched; a call straight to the sidecar gets
exactly the same checks, because they happen here, inside the object's turn.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from policies import verify_token

from ._errors import ObjectError
from ._host import HostConfig


class UnauthenticatedError(ObjectError):
    """No usable token came with the call; send `token` with a JWT from a trusted issuer."""

    code = "unauthenticated"


def authenticate(request: Mapping[str, Any], host: HostConfig) -> dict[str, Any]:
    """The verified claims of the request's `token`, or a typed refusal."""
    token = request.get("token")
    if not isinstance(token, str) or not token:
        raise UnauthenticatedError("the call carries no `token`: send a JWT from a trusted issuer")
    return verify_token(
        token,
        host.trust,
        now=host.clock.now(),
        audience=host.audience,
        max_lifetime=host.max_token_lifetime,
    )


def who_of(caller: Mapping[str, Any]) -> dict[str, Any]:
    """What lineage records of a caller: its issuer and subject, never the token."""
    return {"iss": caller.get("iss"), "sub": caller.get("sub")}
