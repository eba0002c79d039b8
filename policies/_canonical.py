"""RFC 8785 canonical JSON, fast for the values objects actually hold.

Every lineage entry is hashed over its canonical JSON and every data digest is one, so this is
the hottest function of a turn; `rfc8785` (pure Python) took about half of a cycle's CPU. For a
value with no floats, only string keys without characters beyond U+FFFF, and integers within
±(2**53 - 1), RFC 8785's output is exactly what CPython's C encoder writes with sorted keys, no
spaces and no ASCII escaping: the same escapes (`\\"`, `\\\\`, `\\b\\f\\n\\r\\t`, other control
characters as lowercase `\\u00xx`), integers in decimal, and keys in code-point order, which
equals RFC 8785's UTF-16 order when no key has a character outside the BMP. Floats are
written as ECMAScript does: an integral one within ±2**53 as that integer (35.0 -> 35), and one
with 1e-4 <= |x| < 1e16 as Python's `repr`, which is the same shortest round-trip digits in the
same fixed notation. Anything else (another float, such a key, a lone surrogate, a big integer,
a non-JSON type) takes `rfc8785`, which decides. `tests/policies/test_canonical.py` checks the
two agree on generated JSON.
"""

from __future__ import annotations

import json
from typing import Any

import rfc8785

MAX_SAFE_INTEGER = 2**53 - 1
_ENCODE = json.JSONEncoder(
    ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
).encode


class _Fallback(Exception):
    """The value needs `rfc8785` (see the module docstring)."""


def _float(value: float) -> int | float:
    if value.is_integer():
        if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            return int(value)
        raise _Fallback  # ECMAScript pads the shortest digits with zeros; int() is exact
    if 1e-4 <= abs(value) < 1e16:
        return value
    raise _Fallback


def _with_floats(value: Any) -> Any:
    """A copy of `value` whose floats the C encoder writes as RFC 8785 does; `_Fallback` when
    one cannot be. Only called for values that hold floats (`_plain` said so)."""
    kind = type(value)
    if kind is float:
        return _float(value)
    if kind is dict:
        return {key: _with_floats(item) for key, item in value.items()}
    if kind is list:
        return [_with_floats(item) for item in value]
    return value


def _plain(value: Any) -> bool | None:
    """True when the C encoder's output is canonical for `value` as it is, None when it is
    once its floats are rewritten (`_with_floats`), False when only `rfc8785` can say."""
    stack = [value]
    floats = False
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str or kind is bool or item is None:
            continue
        if kind is int:
            if -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER:
                continue
            return False
        if kind is float:
            floats = True
        elif kind is dict:
            for key in item:
                if type(key) is not str or not (key.isascii() or max(key) <= "\uffff"):
                    return False
            stack.extend(item.values())
        elif kind is list:
            stack.extend(item)
        else:
            return False  # tuples, subclasses, anything else: rfc8785 decides
    return None if floats else True


def canonical_bytes(value: Any) -> bytes:
    """The RFC 8785 encoding of `value`; raises what `rfc8785.dumps` raises."""
    plain = _plain(value)
    if plain is not False:
        try:
            return _ENCODE(value if plain else _with_floats(value)).encode("utf-8")
        except (UnicodeEncodeError, _Fallback):
            pass  # a lone surrogate or a float out of range: rfc8785 decides
    return bytes(rfc8785.dumps(value))
