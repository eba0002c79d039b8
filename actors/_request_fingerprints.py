"""What binds an idempotency key to its request: a digest of what the request asked.

A retry re-sends the same JSON, so SHA-256 of the request's JSON with sorted keys is the same
for the same request (at a fraction of RFC 8785's pure-Python cost). A command's fingerprint
is of `{name, params}`: both are in the `inputs` of the lineage entry the command wrote, so a
record beside that entry need not store it (actors._request_records) and a fresh key's turn
need not compute it (actors._requests).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ._errors import BadRequestError

# Built once: `json.dumps` with options builds a new encoder on every call (~1.5 µs each).
_SORTED = json.JSONEncoder(sort_keys=True, separators=(",", ":"), allow_nan=False)
# And CPython's C encoder behind it, built once too: `JSONEncoder.encode` builds one per call,
# half the cost of a fingerprint. The same text; no cycle check (a request is decoded JSON).
_C_ENCODER: Callable[..., Callable[[object, int], Iterable[str]]] | None = getattr(
    json.encoder, "c_make_encoder", None
)
_SORTED_C = (
    None
    if _C_ENCODER is None
    else _C_ENCODER(
        None, _SORTED.default, json.encoder.encode_basestring_ascii, None, ":", ",",
        True, False, False,
    )
)  # fmt: skip


def sorted_json(value: object) -> str:
    return _SORTED.encode(value) if _SORTED_C is None else "".join(_SORTED_C(value, 0))


def _digest(value: object) -> str:
    """SHA-256 of `value`'s JSON with sorted keys, in hex."""
    try:
        text = sorted_json(value)
    except ValueError as exc:  # NaN or Infinity: the SDK's JSON decoder lets them through
        raise BadRequestError(f"the request is not plain JSON: {exc}") from exc
    return hashlib.sha256(text.encode()).hexdigest()


def command_fingerprint(name: str, params: Mapping[str, Any]) -> str:
    return _digest({"name": name, "params": params})


def evaluate_fingerprint() -> str:
    return _digest({"method": "evaluate"})
