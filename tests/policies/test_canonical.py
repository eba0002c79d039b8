"""The fast canonical encoder is byte-for-byte RFC 8785 (`rfc8785`) on any JSON value.

Every stored digest and entry hash depends on it: a single differing byte would make existing
histories stop verifying, so the two are compared on generated values, including the cases the
fast path hands back (floats, keys beyond the BMP, lone surrogates, big integers)."""

from __future__ import annotations

from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from policies._canonical import MAX_SAFE_INTEGER, canonical_bytes

ANY_CHAR = st.characters(blacklist_categories=())  # surrogates and controls included
texts = st.text(alphabet=ANY_CHAR, max_size=12) | st.text(max_size=12)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**60), 2**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts
)
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=5) | st.dictionaries(texts, inner, max_size=5)
)


def _reference(value: Any) -> bytes | type[BaseException]:
    try:
        return bytes(rfc8785.dumps(value))
    except Exception as exc:
        return type(exc)


def _agrees(value: Any) -> None:
    """The fast encoder writes what rfc8785 writes, or raises what it raises."""
    expected = _reference(value)
    if isinstance(expected, bytes):
        assert canonical_bytes(value) == expected
    else:
        with pytest.raises(expected):
            canonical_bytes(value)


@settings(max_examples=1000)
@given(values)
def test_the_fast_path_writes_exactly_what_rfc8785_writes(value: Any) -> None:
    _agrees(value)


@pytest.mark.parametrize(
    "value",
    [
        {"\U0001f600": 1, "\ufb01": 2, "a": 3},  # UTF-16 order differs from code-point order
        {"k": "\ud800"},  # a lone surrogate
        [MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER],
        [MAX_SAFE_INTEGER + 1],
        {"c": '\x00\x01\x1f\x7f\b\f\n\r\t"\\/ é ☃'},
        [35.0, 0.1, 1e21, -0.0, 2.0**53, 2.0**60, 1e-4, 9.999999999999999e-05, 1e16],
        [9999999999999998.0, 123456789.123, 5e-324, 1.7976931348623157e308, 1 / 3],
        {"b": True, "n": None, "z": False},
    ],
)
def test_edge_cases_agree(value: Any) -> None:
    _agrees(value)
