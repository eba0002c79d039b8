"""Actor state in SQLite: per-key reads and all-or-nothing transactions, with TTLs.

daprd keeps actor state in the component marked `actorStateStore: "true"`; locally it is one
table in the sidecar database. A transaction request is validated completely before anything
is written, then applied in one SQLite transaction, so a malformed operation writes nothing.
Values are stored as the JSON text of the request's `value`, which is what daprd saves and
returns.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

from ._errors import DaprError
from ._store import immediate_transaction

_SCHEMA = """
CREATE TABLE IF NOT EXISTS actor_state (
    actor_type TEXT NOT NULL, actor_id TEXT NOT NULL, key TEXT NOT NULL,
    value BLOB NOT NULL, expires REAL,
    PRIMARY KEY (actor_type, actor_id, key)
) WITHOUT ROWID
"""


@dataclass(frozen=True, slots=True)
class StateOp:
    """One validated operation: `value` is None for a delete."""

    key: str
    value: bytes | None
    ttl: float | None = None


def _malformed(message: str) -> DaprError:
    return DaprError(400, "ERR_MALFORMED_REQUEST", f"actor state transaction: {message}")


def _ttl_of(request: dict[str, Any], index: int) -> float | None:
    metadata = request.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise _malformed(f"operation {index}: metadata must be an object")
    raw = metadata.get("ttlInSeconds")
    if raw is None:
        return None
    try:
        ttl = int(str(raw))
    except ValueError:
        raise _malformed(f"operation {index}: ttlInSeconds {raw!r} is not an integer") from None
    return None if ttl < 0 else float(ttl)


def parse_ops(payload: object) -> list[StateOp]:
    """Validate the SDK's `[{"operation", "request": {"key", "value", "metadata"}}]` list."""
    if not isinstance(payload, list):
        raise _malformed("body must be a JSON list of operations")
    ops: list[StateOp] = []
    for index, item in enumerate(payload):
        if not isinstance(item, dict) or not isinstance(item.get("request"), dict):
            raise _malformed(f"operation {index} must be an object with a 'request' object")
        request: dict[str, Any] = item["request"]
        key = request.get("key")
        if not isinstance(key, str) or not key:
            raise _malformed(f"operation {index}: 'key' must be a non-empty string")
        kind = item.get("operation")
        if kind == "delete":
            ops.append(StateOp(key, None))
        elif kind == "upsert":
            value = json.dumps(request.get("value"), separators=(",", ":"), ensure_ascii=False)
            ops.append(StateOp(key, value.encode(), _ttl_of(request, index)))
        else:
            raise _malformed(f"operation {index}: unknown operation {kind!r} (upsert|delete)")
    return ops


class ActorStateStore:
    """The actor_state table; every method is one short statement or one transaction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        conn.execute(_SCHEMA)

    def get(self, actor_type: str, actor_id: str, key: str) -> bytes | None:
        row = self._conn.execute(
            "SELECT value, expires FROM actor_state WHERE actor_type=? AND actor_id=? AND key=?",
            (actor_type, actor_id, key),
        ).fetchone()
        if row is None or (row[1] is not None and row[1] <= time.time()):
            return None
        return bytes(row[0])

    def apply(self, actor_type: str, actor_id: str, ops: list[StateOp]) -> None:
        """Apply all operations in one transaction, or none of them."""
        now = time.time()
        conn = self._conn
        with immediate_transaction(conn):
            for op in ops:
                if op.value is None:
                    conn.execute(
                        "DELETE FROM actor_state WHERE actor_type=? AND actor_id=? AND key=?",
                        (actor_type, actor_id, op.key),
                    )
                else:
                    expires = None if op.ttl is None else now + op.ttl
                    conn.execute(
                        "INSERT OR REPLACE INTO actor_state VALUES (?, ?, ?, ?, ?)",
                        (actor_type, actor_id, op.key, op.value, expires),
                    )

    def purge_expired(self) -> int:
        """Delete expired values (reads already hide them); returns how many went."""
        cur = self._conn.execute(
            "DELETE FROM actor_state WHERE expires IS NOT NULL AND expires <= ?", (time.time(),)
        )
        return cur.rowcount
