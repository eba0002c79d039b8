"""JSON for actor state and method messages that gives back exactly what was stored.

The SDK's DefaultJSONSerializer decodes any string that looks like a date ("2026-01-01...")
or a Go duration ("1h", "30s") into a datetime or timedelta. Object data, params and lineage
entries are full of such strings; reloaded that way they would change type, and every data
digest in the lineage would stop matching. This serializer encodes as the SDK does (reminder
bodies carry timedeltas as Go durations) but decodes plain JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from dapr.serializers import DefaultJSONSerializer


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
        value = json.loads(data)
        return custom_hook(value) if callable(custom_hook) else value
