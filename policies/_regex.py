"""JSON Schema regular expressions on a linear-time engine (RE2).

jsonschema runs `pattern`, `patternProperties` (and the `additionalProperties` that depends on
them) on Python's backtracking `re` over caller data: `^(a+)+$` against 22 characters took half
a second and doubles with each character, so one crafted command could stall every object of
the host. RE2 matches in time linear in the input, whatever the pattern. Patterns RE2 cannot
run (backreferences, lookaround) are refused when the policy loads, never at run time.

A schema using both `unevaluatedProperties` and `patternProperties` is refused too: jsonschema
evaluates that pair with `re` in code no keyword override reaches.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import jsonschema
import re2  # type: ignore[import-untyped]
from jsonschema._utils import extras_msg
from jsonschema.exceptions import ValidationError

from ._errors import InvalidPolicy

# Keywords whose values are data (or annotations), not schemas: their "pattern" keys are not
# regular expressions.
_DATA_KEYWORDS = frozenset({"const", "enum", "default", "examples"})
_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # a refused pattern is an InvalidPolicy, not a line on stderr


class Patterns:
    """Every regular expression of one schema, compiled once by RE2 (bounded by the policy)."""

    def __init__(self, schema: Any) -> None:
        self._compiled: dict[str, Any] = {}
        keywords: set[str] = set()
        for where, source in _sources(schema, "schema", keywords):
            self._compiled[source] = _compile(source, where)
        if {"patternProperties", "unevaluatedProperties"} <= keywords:
            raise InvalidPolicy(
                "schema: unevaluatedProperties with patternProperties is not supported (jsonschema "
                "would match them on a backtracking engine); use additionalProperties"
            )

    def search(self, source: str, text: str) -> bool:
        regex = self._compiled.get(source)
        if regex is None:  # not seen at load (e.g. a joined alternation): compile it now
            regex = self._compiled[source] = _compile(source, "schema")
        return regex.search(text) is not None

    def validator_class(self, cls: Any) -> Any:
        """`cls` with its regex keywords running on RE2."""
        return jsonschema.validators.extend(  # type: ignore[no-untyped-call]
            cls,
            {
                "pattern": self._pattern,
                "patternProperties": self._pattern_properties,
                "additionalProperties": self._additional_properties,
            },
        )

    def _pattern(self, validator: Any, patrn: str, instance: Any, schema: Any) -> Iterator[Any]:
        if validator.is_type(instance, "string") and not self.search(patrn, instance):
            yield ValidationError(f"{instance!r} does not match {patrn!r}")

    def _pattern_properties(
        self, validator: Any, patterns: Mapping[str, Any], instance: Any, schema: Any
    ) -> Iterator[Any]:
        if not validator.is_type(instance, "object"):
            return
        for patrn, subschema in patterns.items():
            for key, value in instance.items():
                if self.search(patrn, key):
                    yield from validator.descend(value, subschema, path=key, schema_path=patrn)

    def _additional_properties(
        self, validator: Any, extra: Any, instance: Any, schema: Any
    ) -> Iterator[Any]:
        """jsonschema's own keyword, with the `patternProperties` lookup on RE2."""
        if not validator.is_type(instance, "object"):
            return
        properties = schema.get("properties", {})
        patterns = tuple(schema.get("patternProperties", {}))
        extras = [
            key
            for key in instance
            if key not in properties and not any(self.search(p, key) for p in patterns)
        ]
        if validator.is_type(extra, "object"):
            for key in extras:
                yield from validator.descend(instance[key], extra, path=key)
        elif not extra and extras:
            if patterns:
                verb = "does" if len(extras) == 1 else "do"
                names = ", ".join(repr(key) for key in sorted(extras))
                listed = ", ".join(repr(p) for p in sorted(patterns))
                yield ValidationError(f"{names} {verb} not match any of the regexes: {listed}")
            else:
                error = "Additional properties are not allowed (%s %s unexpected)"
                yield ValidationError(error % extras_msg(sorted(extras, key=str)))


def _compile(source: str, where: str) -> Any:
    try:
        return re2.compile(source, options=_OPTIONS)
    except re2.error as exc:
        reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
        raise InvalidPolicy(
            f"{where}: pattern {source!r} cannot run on the linear-time regex engine (RE2): "
            f"{reason}; rewrite it without backreferences or lookaround"
        ) from exc


def _sources(schema: Any, where: str, keywords: set[str]) -> Iterator[tuple[str, str]]:
    """(location, regex) for every `pattern` and `patternProperties` key, walked without
    recursion; adds the keywords seen to `keywords`."""
    stack: list[tuple[Any, str]] = [(schema, where)]
    while stack:
        node, at = stack.pop()
        if isinstance(node, list):
            stack.extend((item, f"{at}[{i}]") for i, item in enumerate(node))
            continue
        if not isinstance(node, dict):
            continue
        if isinstance(node.get("pattern"), str):
            yield f"{at}.pattern", node["pattern"]
        patterns = node.get("patternProperties")
        keywords.update(node)
        if isinstance(patterns, dict):
            yield from ((f"{at}.patternProperties", str(key)) for key in patterns)
        stack.extend(
            (value, f"{at}.{key}") for key, value in node.items() if key not in _DATA_KEYWORDS
        )
