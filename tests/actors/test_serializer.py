"""State values: encoded as the SDK encodes them, read back exactly, however they were staged."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from dapr.serializers import DefaultJSONSerializer
from hypothesis import given
from hypothesis import strategies as st

from actors import PlainJSONSerializer
from actors._request_fingerprints import command_fingerprint, sorted_json
from actors._serializer import EncodedJSON, StateJSONSerializer

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)  # what an object accepts (policies.exact_json)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(st.dictionaries(st.text(), JSON, max_size=5) | st.lists(JSON, max_size=5) | st.text())
def test_state_values_are_the_sdks_encoding_wrapped_in_a_string(value: Any) -> None:
    sdk = DefaultJSONSerializer().serialize(value)
    stored = StateJSONSerializer().serialize(value)
    assert stored == json.dumps(sdk.decode()).encode()
    assert StateJSONSerializer().deserialize(stored) == value


@given(st.dictionaries(st.text(), JSON, max_size=5))
def test_a_value_encoded_ahead_is_stored_and_read_as_the_value_itself(value: Any) -> None:
    for serializer in (StateJSONSerializer(), PlainJSONSerializer()):
        ahead = serializer.serialize(EncodedJSON.of(value))
        assert ahead == serializer.serialize(value)
        assert serializer.deserialize(ahead) == value


def test_the_sdks_own_types_still_encode_as_it_does() -> None:
    moment = {"at": datetime(2030, 1, 2, 3, 4, 5, 600000, tzinfo=UTC)}
    assert (
        StateJSONSerializer().serialize(moment)
        == json.dumps(DefaultJSONSerializer().serialize(moment).decode()).encode()
    )


@given(st.dictionaries(st.text(), JSON, max_size=5))
def test_a_fingerprint_hashes_the_sorted_json_byte_for_byte(value: Any) -> None:
    """Hosts compare fingerprints across moves: the built-once encoder writes exactly what
    `json.dumps(..., sort_keys=True)` writes."""
    expected = json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)
    assert sorted_json(value) == expected
    assert (
        command_fingerprint("c", value)
        == hashlib.sha256(
            json.dumps(
                {"name": "c", "params": value}, sort_keys=True, separators=(",", ":")
            ).encode()
        ).hexdigest()
    )
