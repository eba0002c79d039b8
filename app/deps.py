"""Request-scoped dependencies, as `Annotated` aliases the routes share."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from actors import ObjectIndex, ResidentObjectClient
from policies import InputLimits

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


def get_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """The bearer token, passed on unverified: the object verifies it inside its own turn."""
    if credentials is None or not credentials.credentials:
        raise ApiError("unauthenticated", "send `Authorization: Bearer <JWT>`")
    return credentials.credentials


def limit_commands(request: Request, token: Annotated[str, Depends(get_token)]) -> None:
    """Refuse with 429 a caller that exceeds its command rate (before the object is called)."""
    limiter: RateLimiter = request.app.state.rate_limiter
    wait = limiter.acquire(RateLimiter.key_of(token))
    if wait > 0:
        raise ApiError(
            "rate_limited",
            f"too many commands from this caller; retry in {wait:.1f}s",
            headers={"retry-after": limiter.retry_after(wait)},
        )


SettingsDep = Annotated[Settings, Depends(get_settings)]
InputsDep = Annotated[InputLimits, Depends(get_inputs)]
ObjectsDep = Annotated[ResidentObjectClient, Depends(get_objects)]
IndexDep = Annotated[ObjectIndex, Depends(get_index)]
TokenDep = Annotated[str, Depends(get_token)]
CommandQuota = Depends(limit_commands)
