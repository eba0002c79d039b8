"""`/objects`: install policies, run commands, read objects and their lineage.

Every route is a thin call to the object through the Dapr sidecar; the object itself verifies
the token and admits the call against its policy.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response

from actors import ResidentError

from ..bodies import parse_json, read_body
from ..deps import IndexDep, InputsDep, ObjectsDep, SettingsDep, TokenDep, take
from ..errors import ApiError
from ..etag import conditional
from ..idempotency import IdempotencyKeyDep, answer
from ..schemas import (
    CommandResult,
    CycleResult,
    LineagePage,
    ObjectList,
    ObjectSummary,
    PolicyInstalled,
    PolicyView,
)

router = APIRouter(prefix="/objects", tags=["objects"])

# Letters, digits and `. _ : -`, starting and ending with a letter or digit: never `.`/`..`
# (a path segment that would climb), always a valid Dapr actor id and scheduler job name.
# A listing reads each object it shows (one actor call each): a bounded fan-out per request.
MAX_LISTING = 100
OBJECT_ID_PATTERN = r"^[A-Za-z0-9](?:[A-Za-z0-9._:\-]{0,198}[A-Za-z0-9])?$"
ObjectId = Annotated[str, Path(min_length=1, max_length=200, pattern=OBJECT_ID_PATTERN)]
CommandName = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_\-]+$")]


async def _read_body(request: Request, settings: SettingsDep) -> bytes:
    limit = settings.max_body_bytes
    return await read_body(
        request, limit=limit, code="body_too_large", setting="RESIDENT_MAX_BODY_BYTES"
    )


def _policy_from(body: bytes, content_type: str, inputs: InputsDep) -> str:
    """The JWS from an `application/jose` body or a `{"policy": "<jws>"}` JSON body."""
    if content_type.startswith("application/jose") or content_type.startswith("text/plain"):
        return body.decode("ascii", errors="replace").strip()
    document = parse_json(body, inputs, what="body", code="invalid_request")
    if not isinstance(document, dict) or not isinstance(document.get("policy"), str):
        raise ApiError("invalid_request", 'send the JWS as application/jose or {"policy": "<jws>"}')
    return str(document["policy"])


@router.put(
    "/{object_id}/policy",
    response_model=PolicyInstalled,
    responses={201: {"model": PolicyInstalled}},
    summary="Install or amend the object's signed policy",
)
async def put_policy(
    object_id: ObjectId,
    request: Request,
    response: Response,
    token: TokenDep,
    objects: ObjectsDep,
    settings: SettingsDep,
    inputs: InputsDep,
) -> dict[str, Any]:
    body = await _read_body(request, settings)
    jws = _policy_from(body, request.headers.get("content-type", ""), inputs)
    result = await objects.install_policy(object_id, policy=jws, token=token)
    response.status_code = 201 if result.get("created") else 200
    return result


@router.get(
    "/{object_id}",
    response_model=ObjectSummary,
    summary="Read an object (ETag; If-None-Match answers 304 when unchanged)",
)
async def get_object(
    object_id: ObjectId, request: Request, token: TokenDep, objects: ObjectsDep
) -> Response:
    summary = await objects.snapshot(object_id, token=token)
    return conditional(request, ObjectSummary.model_validate(summary).model_dump(mode="json"))


@router.get(
    "/{object_id}/policy",
    response_model=PolicyView,
    summary="Read the object's policy, the host limits narrowing it and what this caller may do",
)
async def get_policy(
    object_id: ObjectId, request: Request, token: TokenDep, objects: ObjectsDep
) -> Response:
    """Permission `read`, like the object's data."""
    view = await objects.describe(object_id, token=token)
    return conditional(request, PolicyView.model_validate(view).model_dump(mode="json"))


@router.post(
    "/{object_id}/commands/{name}",
    response_model=CommandResult,
    summary="Run a command",
)
async def run_command(
    object_id: ObjectId,
    name: CommandName,
    request: Request,
    response: Response,
    token: TokenDep,
    objects: ObjectsDep,
    settings: SettingsDep,
    inputs: InputsDep,
    key: IdempotencyKeyDep,
) -> dict[str, Any]:
    """With `Idempotency-Key`, a retry gets the first result and applies nothing."""
    body = await _read_body(request, settings)
    params = parse_json(body, inputs, what="params", code="invalid_request") if body.strip() else {}
    if not isinstance(params, dict):
        raise ApiError("invalid_params", "the command's params must be a JSON object")
    result = await objects.command(object_id, name, params, token=token, idempotency_key=key)
    return answer(result, response)


@router.post("/{object_id}/evaluate", response_model=CycleResult, summary="Run a cycle now")
async def evaluate(
    object_id: ObjectId,
    response: Response,
    token: TokenDep,
    objects: ObjectsDep,
    key: IdempotencyKeyDep,
) -> dict[str, Any]:
    """With `Idempotency-Key`, a retry gets the first cycle's result and runs no other."""
    result = await objects.evaluate(object_id, token=token, idempotency_key=key)
    return answer(result, response)


@router.get(
    "/{object_id}/lineage",
    response_model=LineagePage,
    summary="Read lineage (ETag; If-None-Match answers 304 when unchanged)",
)
async def get_lineage(
    object_id: ObjectId,
    request: Request,
    token: TokenDep,
    objects: ObjectsDep,
    after: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    page = await objects.lineage(object_id, token=token, after=after, limit=limit)
    return conditional(request, LineagePage.model_validate(page).model_dump(mode="json"))


@router.get("", response_model=ObjectList, summary="List the objects this host runs")
async def list_objects(
    request: Request,
    token: TokenDep,
    objects: ObjectsDep,
    index: IndexDep,
    prefix: Annotated[str, Query(max_length=200)] = "",
    after: Annotated[str, Query(max_length=200)] = "",
    limit: Annotated[int, Query(ge=1, le=MAX_LISTING)] = 50,
) -> dict[str, Any]:
    """Each listed object is shown only if its own policy lets the caller `read` it; reading
    each is an object call, charged to the caller's rate like any other."""
    ids = await index.list(prefix=prefix, after=after, limit=limit)
    take(request, request.state.caller, cost=max(len(ids) - 1, 0))

    async def visible(object_id: str) -> dict[str, Any] | None:
        try:
            return await objects.snapshot(object_id, token=token)
        except ResidentError:
            return None

    summaries = await asyncio.gather(*(visible(i) for i in ids))
    shown = [s for s in summaries if s is not None]
    return {"objects": shown, "next": ids[-1] if len(ids) == limit else None}
