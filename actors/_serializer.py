"""JSON for actor state and method messages that gives back exactly what was stored.

The SDK's DefaultJSONSerializer decodes any string that looks like a date ("2026-01-01...")
or a Go duration ("1h", "30s") into a datetime or timedelta. Object data, params and lineage
entries are full of such strings; reloaded that way they would change type, and every data
digest in the lineage would stop matching. This serializer encodes as the SDK does (reminder
bodies carry timedeltas as Go durations) but decodes plain JSON.

The SDK decodes an actor method's body before our method runs, and any exception there is
its 500. So a body nested too deep for `json` (RecursionError, from about a thousand levels)
decodes to a `TooDeepBody` instead, which `ResidentObject` refuses with a `too_deep` envelope.
Shallower but still too deep input is refused by the object against `InputLimits`.

Actor state goes through `StateJSONSerializer`, which stores each value as a JSON string
holding its JSON: daprd decodes a state transaction into Go values (every number a float64)
and the Redis store writes floats back with about six decimals, so 38.50000000000001 would
reload as 38.5, 1e-7 as 0, 35.0 as the integer 35 and 2**60 + 1 rounded. A string passes
through every Dapr state store byte for byte.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dapr.serializers import DefaultJSONSerializer
from dapr.serializers.json import DaprJSONEncoder

from policies import NumberOutOfRange, exact_json


class TooDeepBody:
    """Stands for a message too deeply nested to decode; no actor method accepts it."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "TooDeepBody()"


class OutOfRangeBody:
    """Stands for a message holding a number no object can keep exactly (`1e400`, a
    5,000-digit integer); `ResidentObject` refuses it with a `number_out_of_range` envelope."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __repr__(self) -> str:
        return f"OutOfRangeBody({self.reason!r})"


# The SDK's encoding (`DefaultJSONSerializer.serialize`) with its encoder built once: it builds
# one, and runs an import statement, for every value of every transaction.
_AS_THE_SDK = DaprJSONEncoder(separators=(",", ":"), ensure_ascii=True)
_STRING = json.JSONEncoder()


@dataclass(frozen=True, slots=True)
class EncodedJSON:
    """A state value encoded ahead, exactly as the serializers below encode it: a value whose
    size must be known before it is staged (an idempotency record) is encoded once, not twice.
    It reads back as the plain JSON value."""

    text: str

    @classmethod
    def of(cls, value: object) -> EncodedJSON:
        return cls(_AS_THE_SDK.encode(value))


class PlainJSONSerializer(DefaultJSONSerializer):
    """SDK-compatible encoding, lossless decoding."""

    def serialize(self, obj: object, custom_hook: Callable[[object], bytes] | None = None) -> bytes:
        if isinstance(obj, EncodedJSON):
            return obj.text.encode()
        return super().serialize(obj, custom_hook)

    def deserialize(
        self,
        data: bytes,
        data_type: type[Any] | None = object,
        custom_hook: Callable[[bytes], object] | None = None,
    ) -> Any:
        if not isinstance(data, str | bytes):
            raise ValueError("data must be str or bytes")
        try:
            value = exact_json(data)
        except RecursionError:
            return TooDeepBody()
        except NumberOutOfRange as exc:
            return OutOfRangeBody(str(exc))
        return custom_hook(value) if callable(custom_hook) else value


def _as_string(text: str) -> bytes:
    """`text`, the JSON of a value as `_AS_THE_SDK` writes it, as a JSON string: exactly what
    `json.dumps(text)` writes. That JSON is ASCII, every control and non-ASCII character
    already an escape, so only `\\` and `"` remain to be escaped: `str.replace` does that at
    memory speed, where the encoder's character-by-character escaping cost about 45
    instructions a character, every state value of every turn."""
    if not text.isascii():  # not from `_AS_THE_SDK`: let the encoder escape it
        return _STRING.encode(text).encode()
    return ('"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"').encode()


class StateJSONSerializer(PlainJSONSerializer):
    """Actor state values as a JSON string of their JSON: exact on any Dapr state store."""

    def serialize(self, obj: object, custom_hook: Callable[[object], bytes] | None = None) -> bytes:
        if isinstance(obj, EncodedJSON):
            return _as_string(obj.text)
        if custom_hook is None and isinstance(obj, dict | list | str):  # every value we store
            return _as_string(_AS_THE_SDK.encode(obj))
        inner = super().serialize(obj, custom_hook).decode()
        return json.dumps(inner).encode()

    def deserialize(
        self,
        data: bytes,
        data_type: type[Any] | None = object,
        custom_hook: Callable[[bytes], object] | None = None,
    ) -> Any:
        value = super().deserialize(data, data_type)
        if isinstance(value, str):
            # A bare string stored before values were wrapped (a policy JWS) stays as it is.
            with contextlib.suppress(ValueError):
                value = json.loads(value)
        return custom_hook(value) if callable(custom_hook) else value
