"""The list of objects a host runs, kept in a Dapr key/value store.

Dapr cannot enumerate actors, so objects register themselves here when created and leave when
moved. The index is split over a fixed number of keys (buckets) so concurrent creations rarely
contend; each bucket is updated with first-write (ETag) concurrency and retried on conflict.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

from ._sidecar import SidecarClient, SidecarError

BUCKETS = 16
KEY_PREFIX = "resident-index-"
MAX_TRIES = 20
# A lost first-write race: 409 from stores that say so, 500 from Redis (daprd wraps its
# "possible etag mismatch" in a generic failure). Either way: read again and retry.
LOST_RACE = frozenset({409, 500})


def bucket_key(object_id: str) -> str:
    return f"{KEY_PREFIX}{zlib.crc32(object_id.encode()) % BUCKETS:02d}"


class ObjectIndex:
    """Sorted object ids per bucket in the state store named `store`."""

    def __init__(self, sidecar: SidecarClient, *, store: str) -> None:
        self._sidecar = sidecar
        self._store = store

    async def add(self, object_id: str) -> None:
        await self._update(object_id, present=True)

    async def remove(self, object_id: str) -> None:
        await self._update(object_id, present=False)

    async def _update(self, object_id: str, *, present: bool) -> None:
        key = bucket_key(object_id)
        for _ in range(MAX_TRIES):
            raw, etag = await self._sidecar.get_kv(self._store, key)
            ids = set(json.loads(raw)) if raw else set()
            if (object_id in ids) == present:
                return
            ids = ids | {object_id} if present else ids - {object_id}
            try:
                await self._sidecar.save_kv(self._store, key, sorted(ids), etag=etag)
                return
            except SidecarError as exc:
                if exc.status not in LOST_RACE:
                    raise
        raise SidecarError(f"index bucket {key} kept changing", status=409)

    async def list(self, *, prefix: str = "", after: str = "", limit: int = 100) -> list[str]:
        """Ids starting with `prefix`, sorted, strictly after `after`, at most `limit`."""
        keys = [f"{KEY_PREFIX}{n:02d}" for n in range(BUCKETS)]
        items = await self._sidecar.bulk_get_kv(self._store, keys)
        ids: set[str] = set()
        for item in items:
            value: Any = item.get("data")
            if isinstance(value, str):
                value = json.loads(value)
            if isinstance(value, list):
                ids.update(str(v) for v in value)
        chosen = sorted(i for i in ids if i.startswith(prefix) and i > after)
        return chosen[:limit]
