"""Dapr-style errors: one exception type, turned into `{"errorCode", "message"}` in one place.

daprd answers every failure of its own with this JSON shape and a stable `ERR_*` code; SDKs
parse it (`DaprHttpError`), so localdapr must do the same for apps to behave identically.
"""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response

JSON = "application/json"


class DaprError(Exception):
    """A request localdapr refuses or cannot serve; `status` and `code` are as daprd's.

    4xx: the caller's request is wrong and retrying it unchanged will not help.
    5xx: the app or storage failed; a retry may succeed.
    """

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def response(self) -> Response:
        return error_response(self.status, self.code, self.message)


def error_response(status: int, code: str, message: str) -> Response:
    body = json.dumps({"errorCode": code, "message": message}).encode()
    return Response(body, status_code=status, media_type=JSON)


async def handle_dapr_error(_request: Request, exc: Exception) -> Response:
    """Starlette exception handler: the only place DaprError becomes HTTP."""
    if isinstance(exc, DaprError):
        return exc.response()
    return error_response(500, "ERR_INTERNAL", f"localdapr: {exc!r}")


async def read_json(request: Request, *, code: str = "ERR_MALFORMED_REQUEST") -> object:
    """The request body as JSON, or a 400 naming what was wrong with it."""
    body = await request.body()
    try:
        return json.loads(body) if body else None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DaprError(400, code, f"request body is not valid JSON: {exc}") from exc
