"""SQLite access shared by the durable subsystems: one file, WAL mode, short transactions.

WAL lets readers proceed during a write and makes a commit an append (no fsync with
synchronous=NORMAL), which keeps single statements on the event loop cheap enough to run
inline. Each subsystem opens its own connection to the same file.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path


def open_db(path: Path) -> sqlite3.Connection:
    """Open (creating parents) the sidecar database in WAL mode, autocommit off."""
    path = Path(path)
    if str(path) != ":memory:":
        path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=5000")
    return conn


@contextlib.contextmanager
def immediate_transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """One short write transaction; BEGIN IMMEDIATE takes the write lock up front, so two
    sidecars sharing a database never deadlock upgrading a read lock."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
