"""The `Idempotency-Key` request header (IETF httpapi draft) and its `Idempotency-Replayed` answer.

The key is the object's idempotency key for the request (actors._requests): a retry with the
same key and the same request gets the first outcome, unchanged, and this response header says
it was replayed; the same key for a different request is refused 422. Without the header the
API still sends the object a fresh key per call, so daprd's own retries apply once.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Header, Request, Response

from actors import KEY_RULE, is_valid_key

from .errors import ApiError

HEADER = "idempotency-key"
REPLAYED_HEADER = "Idempotency-Replayed"


def idempotency_key(
    request: Request,
    idempotency_key: Annotated[
        str | None,
        Header(
            description="A retry with the same key and request gets the first result "
            f"(`{REPLAYED_HEADER}: true`) and applies nothing; {KEY_RULE}",
            examples=['"8e03978e-40d5-43e8-bc93-6894a57f9324"'],
        ),
    ] = None,
) -> str | None:
    """The header's key, as a bare token or a structured-field string (`"..."`); else None.
    (Declared for the OpenAPI document; read from the raw headers to refuse duplicates.)"""
    values = request.headers.getlist(HEADER)
    if not values:
        return None
    if len(values) > 1:
        raise ApiError("invalid_request", "send one Idempotency-Key header, not several")
    value = values[0].strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    if not is_valid_key(value):
        raise ApiError("invalid_request", f"the Idempotency-Key header must be {KEY_RULE}")
    return value


def answer(result: dict[str, Any], response: Response) -> dict[str, Any]:
    """The object's result as the API returns it: a replay is the first body, unchanged,
    with `Idempotency-Replayed: true`."""
    if result.pop("replayed", False) is True:
        response.headers[REPLAYED_HEADER] = "true"
    return result


IdempotencyKeyDep = Annotated[str | None, Depends(idempotency_key)]
