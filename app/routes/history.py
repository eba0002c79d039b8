"""Verifying an object's history and dry-running a candidate policy against it.

Both are calls to the object (it verifies the token and checks `read` / `amend` itself, inside
its turn) and both only read: a dry run writes nothing, whatever it finds.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from ..bodies import parse_json, read_body
from ..deps import InputsDep, ObjectsDep, SettingsDep, TokenDep
from ..errors import ApiError
from ..schemas import DryRunResult, LineageVerification
from .objects import ObjectId

router = APIRouter(prefix="/objects", tags=["history"])


@router.get(
    "/{object_id}/lineage/verify",
    response_model=LineageVerification,
    summary="Verify the object's history: chain, host signatures, and replay",
)
async def verify_lineage(
    object_id: ObjectId, token: TokenDep, objects: ObjectsDep
) -> dict[str, Any]:
    return await objects.verify_lineage(object_id, token=token)


@router.post(
    "/{object_id}/dry-run",
    response_model=DryRunResult,
    summary="What a candidate policy would do to the object now (writes nothing)",
)
async def dry_run(
    object_id: ObjectId,
    request: Request,
    token: TokenDep,
    objects: ObjectsDep,
    settings: SettingsDep,
    inputs: InputsDep,
) -> dict[str, Any]:
    """Body: `{"policy": <JWS | YAML/JSON text | document object>, "command"?: {name, params}}`;
    needs the current policy's `amend` permission."""
    body = await read_body(
        request,
        limit=settings.max_body_bytes,
        code="body_too_large",
        setting="RESIDENT_MAX_BODY_BYTES",
    )
    parsed = parse_json(body, inputs, what="body", code="invalid_request", envelope=True)
    if not isinstance(parsed, dict) or "policy" not in parsed:
        raise ApiError("invalid_request", 'send {"policy": ..., "command"?: {"name", "params"}}')
    command = parsed.get("command")
    if command is not None and not isinstance(command, dict):
        raise ApiError("invalid_request", "`command` must be {name, params}")
    return await objects.dry_run(object_id, token=token, policy=parsed["policy"], command=command)
