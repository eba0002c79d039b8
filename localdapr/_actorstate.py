"""Actor state in SQLite: per-key reads and all-or-nothing transactions, with TTLs.

daprd keeps actor state in the component marked `actorStateStore: "true"`; locally it is one
table in the sidecar database. A transaction is refused as daprd 1.18 refuses it, in its order:

1. a body that is not a JSON list of operation objects: 400 `ERR_MALFORMED_REQUEST`
   (`decode_ops`, daprd's JSON decoding);
2. an actor not active on this sidecar: 400 `ERR_ACTOR_INSTANCE_MISSING` (the route);
3. an operation daprd cannot turn into a store operation (no request, unknown operation, no
   key, a bad `ttlInSeconds`): 500 `ERR_ACTOR_STATE_TRANSACTION_SAVE` (`parse_ops`).

Every operation is validated before anything is written, then all are applied in one SQLite
transaction, so a malformed operation writes nothing. Values are stored as the JSON text of
the request's `value`, which is what daprd saves and returns.

Deliberate difference: localdapr always honours `ttlInSeconds`; daprd 1.18 refuses it (500)
unless its Configuration enables the `ActorStateTTL` preview feature.
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


def _undecodable(detail: str) -> DaprError:
    return DaprError(400, "ERR_MALFORMED_REQUEST", f"failed deserializing HTTP body: {detail}")


def _unsaveable(detail: str) -> DaprError:
    return DaprError(
        500, "ERR_ACTOR_STATE_TRANSACTION_SAVE", f"error saving actor transaction state: {detail}"
    )


def decode_ops(body: bytes) -> list[dict[str, Any]]:
    """The body as a list of `{"operation", "request"}` objects, or 400 as daprd's decoder."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _undecodable(f"request body is not valid JSON: {exc}") from None
    if payload is None:
        return []
    if not isinstance(payload, list):
        raise _undecodable("body must be a JSON list of operations")
    ops: list[dict[str, Any]] = []
    for index, item in enumerate(payload):
        if item is None:
            item = {}
        if not isinstance(item, dict):
            raise _undecodable(f"operation {index} must be a JSON object")
        if not isinstance(item.get("operation"), str | None):
            raise _undecodable(f"operation {index}: 'operation' must be a string")
        ops.append(item)
    return ops


def _ttl_of(request: dict[str, Any]) -> float | None:
    metadata = request.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise _unsaveable("'metadata' must be an object")
    raw = metadata.get("ttlInSeconds")
    if raw is None:
        return None
    try:
        ttl = int(str(raw))
    except ValueError:
        raise _unsaveable(f"ttlInSeconds {raw!r} is not an integer") from None
    return None if ttl < 0 else float(ttl)


def parse_ops(items: list[dict[str, Any]]) -> list[StateOp]:
    """Validate decoded operations as daprd does; 500 naming the first bad one."""
    ops: list[StateOp] = []
    for item in items:
        request = item.get("request")
        kind = item.get("operation") or ""
        if request is None:
            raise _unsaveable("request data is empty")
        if not kind:
            raise _unsaveable("operation is empty")
        if kind not in ("upsert", "delete"):
            raise _unsaveable(f"operation type {kind} not supported")
        if not isinstance(request, dict):
            raise _unsaveable(f"'' expected a map, got '{type(request).__name__}'")
        key = request.get("key")
        if key is None or key == "":
            raise _unsaveable("missing key")
        if not isinstance(key, str):
            raise _unsaveable(f"'key' must be a string, got {key!r}")
        if kind == "delete":
            ops.append(StateOp(key, None))
        else:
            value = json.dumps(request.get("value"), separators=(",", ":"), ensure_ascii=False)
            ops.append(StateOp(key, value.encode(), _ttl_of(request)))
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
