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
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from dapr.serializers import DefaultJSONSerializer


class TooDeepBody:
    """Stands for a message too deeply nested to decode; no actor method accepts it."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "TooDeepBody()"


class PlainJSONSerializer(DefaultJSONSerializer):
    """SDK-compatible encoding, lossless decoding."""

    def deserialize(
        self,
        data: bytes,
        data_type: type[Any] | None = object,
        custom_hook: Callable[[bytes], object] | None = None,
    ) -> Any:
        if not isinstance(data, str | bytes):
            raise ValueError("data must be str or bytes")
        try:
            value = json.loads(data)
        except RecursionError:
            return TooDeepBody()
        return custom_hook(value) if callable(custom_hook) else value
