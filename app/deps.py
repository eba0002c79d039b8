"""Request-scoped dependencies, as `Annotated` aliases the routes share."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from actors import HostConfig, ObjectIndex, ResidentObjectClient
from policies import InputLimits, TokenError, verify_token

from .errors import ApiError
from .ratelimit import RateLimiter
from .settings import Settings

_bearer = HTTPBearer(auto_error=False, description="A JWT from an issuer this host trusts")


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_inputs(request: Request) -> InputLimits:
    inputs: InputLimits = request.app.state.inputs
    return inputs


def get_objects(request: Request) -> ResidentObjectClient:
    client: ResidentObjectClient = request.app.state.objects
    return client


def get_index(request: Request) -> ObjectIndex:
    index: ObjectIndex = request.app.state.index
    return index


async def get_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """The bearer token of a verified caller within its rate (else 401 / 429).

    Verified here first, before the request costs anything (a body read, a bundle hashed, an
    object called); the object verifies it again inside its turn, as it must for calls that
    come straight through the sidecar."""
    if credentials is None or not credentials.credentials:
        raise ApiError("unauthenticated", "send `Authorization: Bearer <JWT>`")
    token = credentials.credentials
    host: HostConfig = request.app.state.host
    try:
        claims = verify_token(
            token,
            host.trust,
            now=host.clock.now(),
            audience=host.audience,
            max_lifetime=host.max_token_lifetime,
        )
    except TokenError as exc:
        raise ApiError("unauthenticated", exc.message) from exc
    take(request, claims, cost=1.0)
    request.state.caller = claims
    return token


def take(request: Request, claims: Mapping[str, Any], *, cost: float) -> None:
    """Charge the caller `cost` requests; 429 with Retry-After when its bucket is empty."""
    limiter: RateLimiter = request.app.state.rate_limiter
    wait = limiter.acquire(RateLimiter.key_of(claims), cost)
    if wait > 0:
        raise ApiError(
            "rate_limited",
            f"too many requests from this caller; retry in {wait:.1f}s",
            headers={"retry-after": limiter.retry_after(wait)},
        )


SettingsDep = Annotated[Settings, Depends(get_settings)]
InputsDep = Annotated[InputLimits, Depends(get_inputs)]
ObjectsDep = Annotated[ResidentObjectClient, Depends(get_objects)]
IndexDep = Annotated[ObjectIndex, Depends(get_index)]
TokenDep = Annotated[str, Depends(get_token)]
