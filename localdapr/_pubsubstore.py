"""The pub/sub broker in SQLite: one stream of messages, consumer groups, deliveries per group.

Several sidecars may open the same broker file (`--broker-db`), as apps that each have their
own daprd share one Redis. The model is Redis Streams' as Dapr uses it, with the app id as
the consumer group:

- `broker_message` is the stream: a message is appended (its `seq` is the rowid) before
  `publish` answers 204, so nothing acknowledged is ever lost.
- `broker_group` holds, per (app id, subscription), the last `seq` that group has taken in
  (its cursor), like a Redis group's last-delivered id.
- `broker_delivery` is each group's pending-entries list: catching up moves the cursor and
  inserts one delivery per matching message in the same transaction, so each app id gets each
  message once however many sidecars poll. A delivery being attempted holds a lease (its
  `next_at` pushed into the future); leases are cleared at start-up, so an unfinished delivery
  is retried: at-least-once.

A NEW group starts at the head of the stream as it was when its sidecar started: it gets what
is published from then on (including what its own app publishes before answering
/dapr/subscribe), not the history before it. daprd's Redis component creates groups at "0"
(the whole retained stream), but a Redis stream is usually trimmed and this one never is:
replaying every message ever published to a newcomer would be a surprise, not fidelity. An
existing group resumes at its cursor, so a restarted or re-subscribing app gets what was
published meanwhile, as with Redis.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._store import immediate_transaction

_SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS broker_message (
        seq          INTEGER PRIMARY KEY AUTOINCREMENT,
        pubsub       TEXT NOT NULL,
        topic        TEXT NOT NULL,
        event_id     TEXT,
        content_type TEXT NOT NULL,
        data         BLOB NOT NULL,
        raw          INTEGER NOT NULL,
        publisher    TEXT NOT NULL,
        published_at REAL NOT NULL
    )
    """,
    "CREATE INDEX IF NOT EXISTS broker_message_topic ON broker_message (pubsub, topic, seq)",
    """
    CREATE TABLE IF NOT EXISTS broker_group (
        app_id  TEXT NOT NULL,
        sub_key TEXT NOT NULL,
        cursor  INTEGER NOT NULL,
        PRIMARY KEY (app_id, sub_key)
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE IF NOT EXISTS broker_delivery (
        seq        INTEGER NOT NULL REFERENCES broker_message (seq),
        app_id     TEXT NOT NULL,
        sub_key    TEXT NOT NULL,
        status     TEXT NOT NULL,
        attempts   INTEGER NOT NULL,
        next_at    REAL NOT NULL,
        last_error TEXT NOT NULL,
        PRIMARY KEY (seq, app_id, sub_key)
    ) WITHOUT ROWID
    """,
    "CREATE INDEX IF NOT EXISTS broker_delivery_due ON broker_delivery (app_id, status, next_at)",
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


Topic = tuple[str, str]  # (pubsub, topic)


class PubSubStore:
    """One sidecar's view of the broker: it publishes for its app and consumes as `app_id`.

    Every write is one short `BEGIN IMMEDIATE` transaction (the connection has a busy
    timeout), so sidecars of other app ids sharing the file wait for each other briefly and
    never see half a fan-out.
    """

    def __init__(self, conn: sqlite3.Connection, *, app_id: str) -> None:
        self._conn = conn
        self._app_id = app_id
        for statement in _SCHEMA:
            conn.execute(statement)
        self._cursors: dict[str, int] = {}
        self.start_seq = self.head()

    def head(self) -> int:
        """The newest message's seq (0 for none): an O(log n) read of the rowid index."""
        row = self._conn.execute("SELECT MAX(seq) FROM broker_message").fetchone()
        return int(row[0] or 0)

    def add(self, msg: Message, *, publisher: str) -> int:
        """Append a message to the stream; the groups' catch-up delivers it."""
        with self._transaction():
            cur = self._conn.execute(
                "INSERT INTO broker_message (pubsub, topic, event_id, content_type, data, raw,"
                " publisher, published_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    msg.pubsub,
                    msg.topic,
                    msg.event_id,
                    msg.content_type,
                    msg.data,
                    int(msg.raw),
                    publisher,
                    time.time(),
                ),
            )
        return int(cur.lastrowid or 0)

    def join(self, groups: Mapping[str, Topic]) -> None:
        """Register this app's groups: new ones start at `start_seq`, old ones keep their cursor."""
        with self._transaction():
            self._conn.executemany(
                "INSERT OR IGNORE INTO broker_group (app_id, sub_key, cursor) VALUES (?, ?, ?)",
                [(self._app_id, key, self.start_seq) for key in groups],
            )
            rows = self._conn.execute(
                "SELECT sub_key, cursor FROM broker_group WHERE app_id=?", (self._app_id,)
            ).fetchall()
        self._cursors = {key: cursor for key, cursor in rows if key in groups}

    def catch_up(self, groups: Mapping[str, Topic]) -> int:
        """Take every message past the groups' cursors in as deliveries; how many were new.

        The cheap read of `head()` comes first, so an idle poll takes no write lock.
        """
        head = self.head()
        behind = [key for key in groups if self._cursors.get(key, head) < head]
        if not behind:
            return 0
        added = 0
        with self._transaction():
            head = self.head()
            for key in behind:
                added += self._take_in(key, groups[key], after=self._cursors[key], upto=head)
            self._conn.executemany(
                "UPDATE broker_group SET cursor=? WHERE app_id=? AND sub_key=?",
                [(head, self._app_id, key) for key in behind],
            )
        self._cursors.update(dict.fromkeys(behind, head))
        return added

    def _take_in(self, key: str, topic: Topic, *, after: int, upto: int) -> int:
        """One pending delivery per message of `topic` in (after, upto]; by the topic index."""
        cur = self._conn.execute(
            "INSERT OR IGNORE INTO broker_delivery (seq, app_id, sub_key, status, attempts,"
            " next_at, last_error) SELECT seq, ?, ?, ?, 0, ?, '' FROM broker_message"
            " WHERE pubsub=? AND topic=? AND seq>? AND seq<=?",
            (self._app_id, key, PENDING, time.time(), *topic, after, upto),
        )
        return max(0, cur.rowcount)

    def release_leases(self) -> None:
        """Make this app's pending deliveries due now: those leased before a crash are retried."""
        with self._transaction():
            self._conn.execute(
                "UPDATE broker_delivery SET next_at=? WHERE app_id=? AND status=?",
                (time.time(), self._app_id, PENDING),
            )

    def lease_due(self, *, limit: int, lease: float) -> list[Due]:
        """Up to `limit` due deliveries of this app, leased for `lease` seconds.

        A read comes first, so a poll that finds nothing due takes no write lock.
        """
        now = time.time()
        if not self._due(now, limit):
            return []
        with self._transaction():
            rows = self._due(now, limit)
            self._conn.executemany(
                "UPDATE broker_delivery SET next_at=? WHERE seq=? AND app_id=? AND sub_key=?",
                [(now + lease, seq, self._app_id, key) for seq, key, _ in rows],
            )
        return [Due(seq, key, attempts) for seq, key, attempts in rows]

    def _due(self, now: float, limit: int) -> list[tuple[int, str, int]]:
        rows = self._conn.execute(
            "SELECT seq, sub_key, attempts FROM broker_delivery"
            " WHERE app_id=? AND status=? AND next_at<=? ORDER BY next_at, seq LIMIT ?",
            (self._app_id, PENDING, now, limit),
        ).fetchall()
        return [(int(seq), str(key), int(attempts)) for seq, key, attempts in rows]

    def next_due_at(self) -> float | None:
        row = self._conn.execute(
            "SELECT MIN(next_at) FROM broker_delivery WHERE app_id=? AND status=?",
            (self._app_id, PENDING),
        ).fetchone()
        return None if row is None or row[0] is None else float(row[0])

    def message(self, seq: int) -> Message | None:
        row = self._conn.execute(
            "SELECT seq, pubsub, topic, event_id, content_type, data, raw FROM broker_message"
            " WHERE seq=?",
            (seq,),
        ).fetchone()
        if row is None:
            return None
        return Message(row[0], row[1], row[2], row[3], row[4], bytes(row[5]), bool(row[6]))

    def retry_at(self, due: Due, *, when: float, error: str) -> None:
        with self._transaction():
            self._conn.execute(
                "UPDATE broker_delivery SET attempts=?, next_at=?, last_error=?"
                " WHERE seq=? AND app_id=? AND sub_key=?",
                (due.attempts + 1, when, error, due.seq, self._app_id, due.sub_key),
            )

    def finish(self, due: Due, *, status: str, error: str = "") -> None:
        with self._transaction():
            self._conn.execute(
                "UPDATE broker_delivery SET status=?, attempts=?, last_error=?"
                " WHERE seq=? AND app_id=? AND sub_key=?",
                (status, due.attempts + 1, error, due.seq, self._app_id, due.sub_key),
            )

    def listing(self, *, pubsub: str | None, topic: str | None) -> list[dict[str, Any]]:
        """The broker's messages with every app's deliveries, oldest first (test-only route)."""
        sql = "SELECT seq, pubsub, topic, event_id, content_type, data, raw, publisher,"
        sql += " published_at FROM broker_message"
        sql += " WHERE (? IS NULL OR pubsub=?) AND (? IS NULL OR topic=?) ORDER BY seq"
        rows = self._conn.execute(sql, (pubsub, pubsub, topic, topic)).fetchall()
        return [_listed(row, self._deliveries(row[0])) for row in rows]

    def close(self) -> None:
        self._conn.close()

    def _deliveries(self, seq: int) -> list[dict[str, Any]]:
        rows = self._conn.execute(
            "SELECT app_id, sub_key, status, attempts, last_error FROM broker_delivery"
            " WHERE seq=? ORDER BY app_id, sub_key",
            (seq,),
        ).fetchall()
        return [
            {"appId": app, "subscription": k, "status": s, "attempts": a, "lastError": e}
            for app, k, s, a, e in rows
        ]

    def _transaction(self) -> contextlib.AbstractContextManager[None]:
        return immediate_transaction(self._conn)


def _listed(row: tuple[Any, ...], deliveries: list[dict[str, Any]]) -> dict[str, Any]:
    seq, pubsub, topic, event_id, ctype, data, raw, publisher, published_at = row
    return {
        "seq": seq,
        "pubsubname": pubsub,
        "topic": topic,
        "id": event_id,
        "contentType": ctype,
        "data": bytes(data),
        "rawPayload": bool(raw),
        "publisher": publisher,
        "publishedAt": published_at,
        "deliveries": deliveries,
    }
