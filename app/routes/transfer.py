"""Moving objects between hosts: export, import, and the host key that signs bundles.

The routes only carry bytes: the object builds, verifies and admits bundles itself, inside its
turn, so a call straight to the sidecar gets the same checks.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from ..bodies import parse_json, read_body
from ..deps import InputsDep, ObjectsDep, SettingsDep, TokenDep
from ..errors import ApiError
from ..schemas import Bundle, ObjectImported
from .objects import ObjectId

router = APIRouter(tags=["transfer"])


async def _read_bundle(request: Request, settings: SettingsDep, inputs: InputsDep) -> Any:
    """The JSON body, refused as soon as it passes the bundle limit (streamed, never
    buffered past it); a bundle envelops data and lineage, so it may nest a little deeper."""
    body = await read_body(
        request,
        limit=settings.max_bundle_bytes,
        code="bundle_too_large",
        setting="RESIDENT_MAX_BUNDLE_BYTES",
    )
    return parse_json(body, inputs, what="bundle", code="invalid_bundle", envelope=True)


EXPORT_PATH = "/objects/{object_id}/export"
EXPORT_DOC: dict[str, Any] = {
    "response_model": None,
    "responses": {200: {"model": Bundle}},
    "summary": "Export the object as a signed bundle (with move=true it stops running here)",
}


async def export_object(
    object_id: ObjectId,
    token: TokenDep,
    objects: ObjectsDep,
    move: Annotated[bool, Query()] = False,
    destination: Annotated[str | None, Query(max_length=2048)] = None,
) -> JSONResponse:
    """Permission `export`. Appends an `export` lineage entry either way."""
    bundle = await objects.export(object_id, token=token, move=move, destination=destination)
    return JSONResponse(bundle)


# GET as the issue specifies; POST too, since an export (above all a move) changes the object.
router.add_api_route(EXPORT_PATH, export_object, methods=["GET"], **EXPORT_DOC)
router.add_api_route(
    EXPORT_PATH, export_object, methods=["POST"], operation_id="export_object_post", **EXPORT_DOC
)


@router.post(
    "/objects/{object_id}/import",
    response_model=ObjectImported,
    responses={201: {"model": ObjectImported}},
    summary="Import a bundle exported by another host",
)
async def import_object(
    object_id: ObjectId,
    request: Request,
    response: Response,
    token: TokenDep,
    objects: ObjectsDep,
    settings: SettingsDep,
    inputs: InputsDep,
) -> dict[str, Any]:
    """Needs the bundled policy's `amend` permission; 201 when new here, 200 when it returns."""
    bundle = await _read_bundle(request, settings, inputs)
    if not isinstance(bundle, dict):
        raise ApiError("invalid_bundle", "a bundle is a JSON object")
    result = await objects.import_bundle(object_id, bundle, token=token)
    response.status_code = 201 if result.get("created") else 200
    return result


@router.get("/.well-known/jwks.json", summary="This host's public key (signs its bundles)")
async def jwks(request: Request) -> dict[str, Any]:
    """What another host lists in RESIDENT_TRUSTED_HOSTS to trust bundles from this one."""
    document: dict[str, Any] = request.app.state.host_jwks
    return document
