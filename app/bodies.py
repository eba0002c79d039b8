"""Reading request bodies within the host's limits: size while streaming, then JSON depth.

Every body-reading route goes through here, so no route buffers more than its limit and no
body nested deeper than the host allows reaches `json` recursion or the object.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request

from policies import InputLimits

from .errors import ApiError


async def read_body(request: Request, *, limit: int, code: str, setting: str) -> bytes:
    """The body, refused (`code`, 413) once it passes `limit` bytes; never buffered past it."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ApiError(code, f"request body is {declared} bytes; the limit is {limit} ({setting})")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(code, f"request body is over the limit of {limit} bytes ({setting})")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json(
    body: bytes, inputs: InputLimits, *, what: str, code: str, envelope: bool = False
) -> Any:
    """Decoded JSON; bad JSON is `code`, nesting past the host's limit is `too_deep` (422)."""
    try:
        return inputs.loads(body, what=what, envelope=envelope)
    except ValueError as exc:
        raise ApiError(code, f"{what} is not JSON: {exc}") from exc
