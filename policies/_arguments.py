"""Shape checks on what the engine's entry points take from their callers (the actor).

Object data must be a JSON object and a caller a mapping of verified claims; anything else is
a typed `InvalidData`, never an AttributeError deep inside CEL.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._errors import InvalidData


def checked_data(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise InvalidData(f"object data must be a JSON object (dict), got {type(data).__name__}")
    return data


def checked_caller(caller: Any) -> Mapping[str, Any]:
    if not isinstance(caller, Mapping):
        raise InvalidData(f"caller must be a mapping of claims, got {type(caller).__name__}")
    return caller
