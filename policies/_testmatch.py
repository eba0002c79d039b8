"""Comparing a policy test's expectations with what happened, and showing the difference.

Matching is partial where it helps authors and exact where it matters: a mapping matches
when every key it gives matches (so `{rule: overheat}` matches a denial whatever its reason);
lists match element by element and must be as long; scalars must be equal, and `true` is
never `1`. A `refused` given as a string compares the error code alone.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

import yaml


def matches(expected: Any, actual: Any) -> bool:
    if isinstance(expected, Mapping):
        return isinstance(actual, Mapping) and all(
            key in actual and matches(value, actual[key]) for key, value in expected.items()
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(matches(e, a) for e, a in zip(expected, actual, strict=True))
        )
    if isinstance(expected, str) and isinstance(actual, Mapping) and "code" in actual:
        return bool(actual["code"] == expected)  # `refused: forbidden`
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    return bool(expected == actual)


def pruned(expected: Any, actual: Any) -> Any:
    """`actual` cut down to what `expected` looks at, so a diff shows only what differs
    (a part that matches is shown as expected: 35 and 35.0 are no difference)."""
    if matches(expected, actual):
        return expected
    if isinstance(expected, Mapping) and isinstance(actual, Mapping):
        return {k: pruned(expected[k], actual[k]) for k in actual if k in expected}
    if isinstance(expected, list) and isinstance(actual, list):
        return [pruned(e, a) for e, a in zip(expected, actual, strict=False)] + actual[
            len(expected) :
        ]
    if isinstance(expected, str) and isinstance(actual, Mapping) and "code" in actual:
        return actual if actual["code"] != expected else expected
    return actual


def diff(expected: Mapping[str, Any], actual: Mapping[str, Any]) -> str:
    """A unified diff, key by key, of each expectation that failed."""
    chunks = []
    for key, value in expected.items():
        if matches(value, actual.get(key)):
            continue
        want = _yaml({key: value})
        got = _yaml({key: pruned(value, actual.get(key))})
        lines = difflib.unified_diff(
            want.splitlines(), got.splitlines(), "expected", "actual", lineterm="", n=3
        )
        chunks.append("\n".join(lines))
    return "\n".join(chunks)


def _yaml(value: Any) -> str:
    return yaml.safe_dump(value, sort_keys=True, default_flow_style=False, allow_unicode=True)
