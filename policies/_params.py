"""Command params checked against their declared JSON types before any CEL sees them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._errors import InvalidParams
from ._json import NotJson, to_json


def _number(value: Any) -> Any:
    # CEL does not mix int and double in arithmetic, so "number" is always a double.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    raise TypeError


def _integer(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise TypeError


def _of(kind: type | tuple[type, ...]) -> Any:
    def check(value: Any) -> Any:
        if isinstance(value, kind):
            return value
        raise TypeError

    return check


_CHECKS = {
    "number": _number,
    "integer": _integer,
    "string": _of(str),
    "boolean": _of(bool),
    "object": _of(dict),
    "array": _of(list),
}


def check_params(command: str, declared: Mapping[str, str], params: Any) -> dict[str, Any]:
    """Params converted to their declared types; every declared param is required."""
    if not isinstance(params, Mapping):
        raise InvalidParams(
            f"command {command!r}: params must be an object, got {type(params).__name__}",
            param=None,
        )
    for name in params:
        if name not in declared:
            allowed = ", ".join(sorted(declared)) or "none"
            raise InvalidParams(
                f"command {command!r}: unknown param {name!r}; declared: {allowed}", param=name
            )
    checked: dict[str, Any] = {}
    for name, kind in declared.items():
        if name not in params:
            raise InvalidParams(f"command {command!r}: param {name!r} is missing", param=name)
        try:
            checked[name] = to_json(_CHECKS[kind](params[name]))
        except (TypeError, NotJson) as exc:
            raise InvalidParams(
                f"command {command!r}: param {name!r} must be a JSON {kind}",
                param=name,
            ) from exc
    return checked
