"""Caller tokens: compact JWS/JWT signed by a trusted issuer, verified with explicit checks.

PyJWT checks the signature; the time, issuer and audience checks are ours so that `now` can
be injected and every failure becomes one `TokenError` naming the check that failed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from ._clock import utc_now
from ._errors import PolicyError, TokenError
from ._signing import POLICY_TYP, SigningKey, TrustStore, issuer_of, sign_compact, verify_compact

DEFAULT_MAX_TOKEN_BYTES = 8192
# A stolen token is good until it expires: hosts cap how long that can be.
DEFAULT_MAX_TOKEN_LIFETIME = timedelta(hours=24)
# Issuers' clocks run a little ahead of ours; an `iat` further ahead than this is refused.
CLOCK_LEEWAY = timedelta(seconds=30)


def sign_token(claims: Mapping[str, Any], key: SigningKey) -> str:
    """A compact JWT over `claims` (fills `iss` from the key when absent; `exp` is required)."""
    body = dict(claims)
    if key.issuer is not None:
        body.setdefault("iss", key.issuer)
    if not isinstance(body.get("exp"), int | float) or isinstance(body.get("exp"), bool):
        raise TokenError("token claims need a numeric 'exp' (seconds since the epoch)")
    try:
        payload = json.dumps(body, separators=(",", ":"), allow_nan=False).encode()
    except (TypeError, ValueError) as exc:
        raise TokenError(f"token claims are not JSON: {exc}") from exc
    return sign_compact(payload, key, typ="JWT")


def verify_token(
    token: str,
    trust: TrustStore,
    *,
    now: datetime | None = None,
    audience: str | None = None,
    max_bytes: int = DEFAULT_MAX_TOKEN_BYTES,
    max_lifetime: timedelta = DEFAULT_MAX_TOKEN_LIFETIME,
) -> dict[str, Any]:
    """The verified claims of `token`, or `TokenError` saying which check failed.

    The token's `iss` must be its key's issuer (each trusted key has exactly one), and a signed
    policy is never a token. Besides signature, `exp`, `nbf` and audience: `iat` may not be in
    the future, and a token may not live longer than `max_lifetime` (from its `iat`, or from
    now when it has none)."""
    if not isinstance(token, str) or not token.isascii():
        raise TokenError("token must be an ASCII compact JWS string")
    if len(token) > max_bytes:
        raise TokenError(f"token is larger than {max_bytes} bytes")
    try:
        verified = verify_compact(token, trust)
        issuer_of(verified)  # `iss` is the key's issuer: no key speaks for two
    except PolicyError as exc:
        raise TokenError(f"token rejected: {exc.message}") from exc
    if verified.header.get("typ") == POLICY_TYP:
        raise TokenError("token rejected: a signed policy is not a caller token")
    claims = verified.payload
    _check_times(claims, utc_now(now).timestamp(), max_lifetime=max_lifetime)
    if audience is not None:
        _check_audience(claims, audience)
    return claims


def _number(claims: Mapping[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TokenError(f"token claim {name!r} must be a number of seconds since the epoch")
    return float(value)


def _check_times(claims: Mapping[str, Any], now: float, *, max_lifetime: timedelta) -> None:
    exp = _number(claims, "exp")
    if exp is None:
        raise TokenError("token has no 'exp' claim; tokens must expire")
    if now >= exp:
        raise TokenError("token expired ('exp' is in the past); obtain a new token")
    iat = _number(claims, "iat")
    if iat is not None and iat > now + CLOCK_LEEWAY.total_seconds():
        raise TokenError("token 'iat' is in the future; the issuer's clock or token is wrong")
    lifetime = exp - (iat if iat is not None else now)
    if lifetime > max_lifetime.total_seconds():
        raise TokenError(
            f"token lives {lifetime:.0f} s; this host accepts at most "
            f"{max_lifetime.total_seconds():.0f} s (RESIDENT_MAX_TOKEN_LIFETIME)"
        )
    nbf = _number(claims, "nbf")
    if nbf is not None and now < nbf:
        raise TokenError("token not yet valid ('nbf' is in the future)")


def _check_audience(claims: Mapping[str, Any], audience: str) -> None:
    aud = claims.get("aud")
    accepted = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if audience not in accepted:
        raise TokenError(f"token audience does not include {audience!r}")
