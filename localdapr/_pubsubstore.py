"""Durable pub/sub: published messages and their per-subscription deliveries in SQLite.

A message is stored before `publish` answers 204, so nothing acknowledged is ever lost. It is
"fanned out" (one delivery row per matching subscription) at publish time once the app's
subscriptions are known, or when the app becomes ready for messages published before that.
A delivery being attempted holds a lease (its `next_at` pushed into the future); after a crash
leases are cleared at start-up, so an unfinished delivery is retried: at-least-once.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

_SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS ps_message (
        seq          INTEGER PRIMARY KEY AUTOINCREMENT,
        pubsub       TEXT NOT NULL,
        topic        TEXT NOT NULL,
        event_id     TEXT,
        content_type TEXT NOT NULL,
        data         BLOB NOT NULL,
        raw          INTEGER NOT NULL,
        published_at REAL NOT NULL,
        fanned_out   INTEGER NOT NULL
    )
    """,
    "CREATE INDEX IF NOT EXISTS ps_message_topic ON ps_message (pubsub, topic)",
    """
    CREATE TABLE IF NOT EXISTS ps_delivery (
        seq        INTEGER NOT NULL REFERENCES ps_message (seq),
        sub_key    TEXT NOT NULL,
        status     TEXT NOT NULL,
        attempts   INTEGER NOT NULL,
        next_at    REAL NOT NULL,
        last_error TEXT NOT NULL,
        PRIMARY KEY (seq, sub_key)
    ) WITHOUT ROWID
    """,
    "CREATE INDEX IF NOT EXISTS ps_delivery_due ON ps_delivery (status, next_at)",
)

PENDING = "pending"
DELIVERED = "delivered"
DROPPED = "dropped"
DEAD_LETTERED = "deadlettered"


@dataclass(frozen=True, slots=True)
class Message:
    seq: int
    pubsub: str
    topic: str
    event_id: str | None
    content_type: str
    data: bytes
    raw: bool


@dataclass(frozen=True, slots=True)
class Due:
    """A delivery whose time has come: attempt it, then record the outcome."""

    seq: int
    sub_key: str
    attempts: int


class PubSubStore:
    """Both tables on one connection; every method is one short transaction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        for statement in _SCHEMA:
            conn.execute(statement)

    def add(self, msg: Message, sub_keys: Iterable[str] | None) -> int:
        """Store a message; fan it out to `sub_keys` now, or later when they are None."""
        with self._transaction():
            cur = self._conn.execute(
                "INSERT INTO ps_message (pubsub, topic, event_id, content_type, data, raw,"
                " published_at, fanned_out) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    msg.pubsub,
                    msg.topic,
                    msg.event_id,
                    msg.content_type,
                    msg.data,
                    int(msg.raw),
                    time.time(),
                    int(sub_keys is not None),
                ),
            )
            seq = int(cur.lastrowid or 0)
            self._fan_out(seq, sub_keys or ())
        return seq

    def fan_out_pending(self, keys_for: dict[tuple[str, str], list[str]]) -> int:
        """Fan out every message stored before the subscriptions were known."""
        with self._transaction():
            rows = self._conn.execute(
                "SELECT seq, pubsub, topic FROM ps_message WHERE fanned_out=0 ORDER BY seq"
            ).fetchall()
            for seq, pubsub, topic in rows:
                self._fan_out(seq, keys_for.get((pubsub, topic), ()))
            self._conn.execute("UPDATE ps_message SET fanned_out=1 WHERE fanned_out=0")
        return len(rows)

    def release_leases(self) -> None:
        """Make every pending delivery due now: those leased before a crash must be retried."""
        with self._transaction():
            self._conn.execute(
                "UPDATE ps_delivery SET next_at=? WHERE status=?", (time.time(), PENDING)
            )

    def lease_due(self, *, limit: int, lease: float) -> list[Due]:
        """Up to `limit` due deliveries, leased for `lease` seconds so they are taken once."""
        now = time.time()
        with self._transaction():
            rows = self._conn.execute(
                "SELECT seq, sub_key, attempts FROM ps_delivery WHERE status=? AND next_at<=?"
                " ORDER BY next_at, seq LIMIT ?",
                (PENDING, now, limit),
            ).fetchall()
            self._conn.executemany(
                "UPDATE ps_delivery SET next_at=? WHERE seq=? AND sub_key=?",
                [(now + lease, seq, key) for seq, key, _ in rows],
            )
        return [Due(seq, key, attempts) for seq, key, attempts in rows]

    def next_due_at(self) -> float | None:
        row = self._conn.execute(
            "SELECT MIN(next_at) FROM ps_delivery WHERE status=?", (PENDING,)
        ).fetchone()
        return None if row is None or row[0] is None else float(row[0])

    def message(self, seq: int) -> Message | None:
        row = self._conn.execute(
            "SELECT seq, pubsub, topic, event_id, content_type, data, raw FROM ps_message"
            " WHERE seq=?",
            (seq,),
        ).fetchone()
        if row is None:
            return None
        return Message(row[0], row[1], row[2], row[3], row[4], bytes(row[5]), bool(row[6]))

    def retry_at(self, due: Due, *, when: float, error: str) -> None:
        with self._transaction():
            self._conn.execute(
                "UPDATE ps_delivery SET attempts=?, next_at=?, last_error=?"
                " WHERE seq=? AND sub_key=?",
                (due.attempts + 1, when, error, due.seq, due.sub_key),
            )

    def finish(self, due: Due, *, status: str, error: str = "") -> None:
        with self._transaction():
            self._conn.execute(
                "UPDATE ps_delivery SET status=?, attempts=?, last_error=?"
                " WHERE seq=? AND sub_key=?",
                (status, due.attempts + 1, error, due.seq, due.sub_key),
            )

    def listing(self, *, pubsub: str | None, topic: str | None) -> list[dict[str, Any]]:
        """Stored messages with their deliveries, oldest first (for the test-only read route)."""
        sql = "SELECT seq, pubsub, topic, event_id, content_type, data, raw, published_at"
        sql += " FROM ps_message WHERE (? IS NULL OR pubsub=?) AND (? IS NULL OR topic=?)"
        rows = self._conn.execute(sql + " ORDER BY seq", (pubsub, pubsub, topic, topic))
        out: list[dict[str, Any]] = []
        for seq, ps, tp, event_id, ctype, data, raw, published_at in rows.fetchall():
            deliveries = self._conn.execute(
                "SELECT sub_key, status, attempts, last_error FROM ps_delivery WHERE seq=?"
                " ORDER BY sub_key",
                (seq,),
            ).fetchall()
            out.append(
                {
                    "seq": seq,
                    "pubsubname": ps,
                    "topic": tp,
                    "id": event_id,
                    "contentType": ctype,
                    "data": bytes(data),
                    "rawPayload": bool(raw),
                    "publishedAt": published_at,
                    "deliveries": [
                        {"subscription": k, "status": s, "attempts": a, "lastError": e}
                        for k, s, a, e in deliveries
                    ],
                }
            )
        return out

    def close(self) -> None:
        self._conn.close()

    def _fan_out(self, seq: int, sub_keys: Iterable[str]) -> None:
        self._conn.executemany(
            "INSERT OR IGNORE INTO ps_delivery (seq, sub_key, status, attempts, next_at,"
            " last_error) VALUES (?, ?, ?, 0, ?, '')",
            [(seq, key, PENDING, time.time()) for key in sub_keys],
        )

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")
