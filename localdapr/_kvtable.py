"""Key/value state rows in SQLite with Dapr's ETag, first-write and TTL semantics.

Every write is a list of operations applied in one `BEGIN IMMEDIATE` transaction, so a save of
several items and a state transaction are both all-or-nothing, as with daprd's transactional
stores. Expired rows count as absent everywhere, as a TTL-capable store behaves.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from ._store import immediate_transaction

_SCHEMA = """
CREATE TABLE IF NOT EXISTS kv_state (
    store      TEXT NOT NULL,
    key        TEXT NOT NULL,
    value      BLOB NOT NULL,
    etag       TEXT NOT NULL,
    expires_at REAL,
    PRIMARY KEY (store, key)
) WITHOUT ROWID
"""


class ETagMismatchError(Exception):
    """An operation's ETag (or first-write) condition failed; re-read and retry may help."""

    def __init__(self, key: str) -> None:
        super().__init__(f"possible etag mismatch. error from state store: key {key!r}")
        self.key = key


@dataclass(frozen=True, slots=True)
class Upsert:
    key: str
    value: bytes
    etag: str | None = None
    first_write: bool = False
    ttl_seconds: int | None = None


@dataclass(frozen=True, slots=True)
class Delete:
    key: str
    etag: str | None = None


@dataclass(frozen=True, slots=True)
class Item:
    value: bytes
    etag: str
    expires_at: float | None


Operation = Upsert | Delete


class KvTable:
    """The `kv_state` table on one connection; callers pass already-prefixed keys."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        conn.execute(_SCHEMA)

    def get(self, store: str, key: str) -> Item | None:
        row = self._conn.execute(
            "SELECT value, etag, expires_at FROM kv_state WHERE store=? AND key=?"
            " AND (expires_at IS NULL OR expires_at > ?)",
            (store, key, time.time()),
        ).fetchone()
        return None if row is None else Item(bytes(row[0]), row[1], row[2])

    def apply(self, store: str, ops: Sequence[Operation]) -> None:
        """Apply every operation or none; raise ETagMismatchError on the first failed condition."""
        now = time.time()
        with self._transaction():
            for op in ops:
                current = self._etag(store, op.key, now)
                if op.etag is not None and op.etag != current:
                    raise ETagMismatchError(op.key)
                if isinstance(op, Delete):
                    self._conn.execute(
                        "DELETE FROM kv_state WHERE store=? AND key=?", (store, op.key)
                    )
                    continue
                if op.etag is None and op.first_write and current is not None:
                    raise ETagMismatchError(op.key)
                expires = None if op.ttl_seconds is None else now + op.ttl_seconds
                self._conn.execute(
                    "INSERT OR REPLACE INTO kv_state (store, key, value, etag, expires_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (store, op.key, op.value, uuid.uuid4().hex, expires),
                )

    def purge_expired(self) -> int:
        with self._transaction():
            cur = self._conn.execute(
                "DELETE FROM kv_state WHERE expires_at IS NOT NULL AND expires_at <= ?",
                (time.time(),),
            )
        return cur.rowcount

    def close(self) -> None:
        self._conn.close()

    def _etag(self, store: str, key: str, now: float) -> str | None:
        row = self._conn.execute(
            "SELECT etag FROM kv_state WHERE store=? AND key=?"
            " AND (expires_at IS NULL OR expires_at > ?)",
            (store, key, now),
        ).fetchone()
        return None if row is None else str(row[0])

    def _transaction(self) -> contextlib.AbstractContextManager[None]:
        return immediate_transaction(self._conn)
