"""RFC 8785 canonical JSON, fast for the values objects actually hold.

Every lineage entry is hashed over its canonical JSON and every data digest is one, so this is
the hottest function of a turn; `rfc8785` (pure Python) took about half of a cycle's CPU. For a
value with no floats, only string keys without characters beyond U+FFFF, and integers within
±(2**53 - 1), RFC 8785's output is exactly what CPython's C encoder writes with sorted keys, no
spaces and no ASCII escaping: the same escapes (`\\"`, `\\\\`, `\\b\\f\\n\\r\\t`, other control
characters as lowercase `\\u00xx`), integers in decimal, and keys in code-point order, which
equals RFC 8785's UTF-16 order when no key has a character outside the BMP. Anything else
(a float, such a key, a lone surrogate, a big integer, a non-JSON type) takes `rfc8785`, which
decides. `tests/policies/test_canonical.py` checks the two agree on generated JSON.
"""

from __future__ import annotations

import json
from typing import Any

import rfc8785

MAX_SAFE_INTEGER = 2**53 - 1
_ENCODE = json.JSONEncoder(
    ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
).encode


def _plain(value: Any) -> bool:
    """Whether the C encoder's output is canonical for `value` (see the module docstring)."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str or kind is bool or item is None:
            continue
        if kind is int:
            if -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER:
                continue
            return False
        if kind is dict:
            for key in item:
                if type(key) is not str or not (key.isascii() or max(key) <= "\uffff"):
                    return False
            stack.extend(item.values())
        elif kind is list:
            stack.extend(item)
        else:
            return False  # floats, tuples, subclasses, anything else: rfc8785 decides
    return True


def canonical_bytes(value: Any) -> bytes:
    """The RFC 8785 encoding of `value`; raises what `rfc8785.dumps` raises."""
    if _plain(value):
        try:
            return _ENCODE(value).encode("utf-8")
        except UnicodeEncodeError:
            pass  # a lone surrogate: rfc8785 refuses it with its own error
    return bytes(rfc8785.dumps(value))
