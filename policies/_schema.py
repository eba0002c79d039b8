"""The policy's JSON Schema, checked after each block that changes data.

jsonschema is pure Python and costs tens of microseconds even on tiny objects, which would
dominate a cycle. For the common shape — a root object schema using only `type`,
`properties`, `required` and `additionalProperties` (no `$ref`) — the data is valid exactly
when every top-level key is valid on its own and the required keys are present, so a block
is checked on the keys it changed plus `required`. Any other schema is validated whole.
Consequence worth knowing: with the fast path, a block is never blamed for an invalid key
it did not touch (which could only come from outside the engine).

Regular expressions (`pattern`, `patternProperties`) run on RE2, in linear time (`_regex`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import jsonschema
from jsonschema.exceptions import SchemaError
from jsonschema.protocols import Validator

from ._errors import InvalidPolicy
from ._regex import Patterns

_LOCAL_KEYWORDS = frozenset(
    {
        "$schema",
        "$id",
        "$comment",
        "title",
        "description",
        "default",
        "examples",
        "type",
        "properties",
        "required",
        "additionalProperties",
    }
)


def _message(error: jsonschema.ValidationError, prefix: tuple[str, ...] = ()) -> str:
    where = ".".join((*prefix, *(str(p) for p in error.absolute_path))) or "(root)"
    return f"{where}: {error.message}"


class SchemaCheck:
    """Validates data against one schema, per changed key when the schema allows it."""

    def __init__(self, schema: dict[str, Any]) -> None:
        cls = jsonschema.validators.validator_for(schema)
        try:
            cls.check_schema(schema)
        except SchemaError as exc:
            raise InvalidPolicy(f"schema: not a valid JSON Schema: {exc.message}") from exc
        cls = Patterns(schema).validator_class(cls)  # regexes on RE2, refused here if it cannot
        self._whole: Validator = cls(schema)
        self._keys: dict[str, Validator | None] | None = None
        self._other: Validator | None = None
        self._required: tuple[str, ...] = ()
        if _is_local(schema):
            props = schema.get("properties", {})
            self._keys = {k: _sub(cls, v) for k, v in props.items()}
            self._other = _sub(cls, schema.get("additionalProperties", True))
            self._required = tuple(schema.get("required", ()))

    def problem(self, data: Any, changed: Iterable[str] | None = None) -> str | None:
        """Why `data` is invalid, or None. `changed` limits the check to those top-level
        keys (plus `required`) when the fast path applies; None checks everything."""
        if self._keys is None or changed is None or not isinstance(data, dict):
            error = jsonschema.exceptions.best_match(self._whole.iter_errors(data))
            return None if error is None else _message(error)
        for name in self._required:
            if name not in data:
                return f"(root): {name!r} is a required property"
        for key in changed:
            validator = self._keys.get(key, self._other)
            if key not in data or validator is None:
                continue
            error = jsonschema.exceptions.best_match(validator.iter_errors(data[key]))
            if error is not None:
                return _message(error, (key,))
        return None


def _sub(cls: Any, schema: Any) -> Validator | None:
    """A validator for a subschema; None when it accepts everything (`true` or `{}`)."""
    if schema is True or schema == {}:
        return None
    return cls(schema)  # type: ignore[no-any-return]


def _is_local(schema: Mapping[str, Any]) -> bool:
    if schema.get("type") != "object" or not set(schema) <= _LOCAL_KEYWORDS:
        return False
    if not isinstance(schema.get("properties", {}), dict):
        return False
    return "$ref" not in json.dumps(schema) and "$dynamicRef" not in json.dumps(schema)
