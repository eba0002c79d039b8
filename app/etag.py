"""Conditional reads: an ETag over a JSON answer, and 304 when the caller already has it.

The console polls an object for new lineage entries; with `If-None-Match` an unchanged object
costs the network no body. The object is still read (through its own permission check), so a
304 never tells a caller anything the API would not show it.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse


def etag_of(body: Any) -> str:
    """A strong validator: the SHA-256 of the answer as sorted, compact JSON."""
    encoded = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()
    return '"' + hashlib.sha256(encoded).hexdigest()[:32] + '"'


def _matches(header: str | None, tag: str) -> bool:
    if not header:
        return False
    candidates = {part.strip().removeprefix("W/") for part in header.split(",")}
    return tag in candidates or "*" in candidates


def conditional(request: Request, body: Any) -> Response:
    """The JSON answer with its ETag, or an empty 304 when `If-None-Match` already names it."""
    tag = etag_of(body)
    headers = {"etag": tag, "cache-control": "private, no-cache"}
    if _matches(request.headers.get("if-none-match"), tag):
        return Response(status_code=304, headers=headers)
    return JSONResponse(body, headers=headers)
