"""Durable actor reminders: registered in SQLite, fired from one heap, at least once.

A reminder survives restarts of localdapr and of the app: its schedule and data live in the
`reminders` table, and the next due time is written back only AFTER a firing succeeded, so a
crash mid-firing repeats that firing rather than losing it. Those write-backs are batched into
one transaction every FLUSH_EVERY seconds; at 1,000 firings a second a commit per firing would
dominate the cost.

Firing follows daprd 1.18 (Scheduler): `PUT /actors/{type}/{id}/method/remind/{name}` with
`{"data": <as registered>, "dueTime": "", "period": ""}`, under the actor's turn lock. While
the app is unreachable a firing is retried with back-off until it gets through; a 5xx answer
is retried by the reminder's failure policy (default as the Scheduler's: every 1 s, 3 times).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from ._appchannel import AppUnreachableError
from ._errors import DaprError
from ._schedule import Job, JobKey, Schedule
from ._store import immediate_transaction
from ._triggers import CallFn, Trigger, parse_failure_policy, parse_trigger

log = logging.getLogger("localdapr.reminders")
FLUSH_EVERY = 0.2
_UNREACHABLE_BACKOFF_MAX = 5.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS reminders (
    actor_type TEXT NOT NULL, actor_id TEXT NOT NULL, name TEXT NOT NULL,
    due REAL NOT NULL, remaining INTEGER, reg INTEGER NOT NULL, spec TEXT NOT NULL,
    PRIMARY KEY (actor_type, actor_id, name)
) WITHOUT ROWID
"""


@dataclass(frozen=True, slots=True)
class ReminderSpec:
    """What was registered, kept verbatim: `data` is the JSON text of the request's data."""

    trigger: Trigger
    data: str
    reg: int  # registration id: stale batched write-backs must not touch a newer registration

    def to_json(self) -> str:
        return json.dumps({**self.trigger.as_dict(), "data": self.data})

    @classmethod
    def from_row(cls, spec: str, reg: int) -> ReminderSpec:
        raw: dict[str, Any] = json.loads(spec)
        return cls(Trigger.from_dict(raw), raw["data"], reg)


class Reminders:
    """The reminders of every actor this sidecar hosts."""

    def __init__(self, conn: sqlite3.Connection, call: CallFn) -> None:
        self._conn = conn
        self._call = call
        conn.execute(_SCHEMA)
        self._schedule = Schedule(self._fire, name="reminder", on_done=self._mark_dirty)
        self._dirty: dict[JobKey, Job] = {}
        self._flusher: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return len(self._schedule)

    def load(self) -> int:
        """Read every stored reminder into the heap; overdue ones fire once, soon."""
        rows = self._conn.execute(
            "SELECT actor_type, actor_id, name, due, remaining, reg, spec FROM reminders"
        ).fetchall()
        for actor_type, actor_id, name, due, remaining, reg, spec in rows:
            parsed = ReminderSpec.from_row(spec, reg)
            t = parsed.trigger
            job = Job((actor_type, actor_id, name), due, t.period, remaining, t.expires, parsed)
            self._schedule.put(job)
        return len(rows)

    def start(self) -> None:
        self._schedule.start()
        self._flusher = asyncio.create_task(self._flush_loop(), name="localdapr-reminder-flush")

    async def close(self) -> None:
        await self._schedule.close()
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        self.flush()

    # -- API --------------------------------------------------------------------------------

    def register(self, key: JobKey, body: object) -> None:
        """Create or replace a reminder (daprd overwrites by default)."""
        if not isinstance(body, dict):
            raise DaprError(400, "ERR_MALFORMED_REQUEST", "reminder body must be a JSON object")
        now = time.time()
        trigger = parse_trigger(body, now=now, what="reminder")
        parse_failure_policy(body.get("failurePolicy"))
        spec = ReminderSpec(trigger, json.dumps(body.get("data")), time.time_ns())
        self._dirty.pop(key, None)
        self._conn.execute(
            "INSERT OR REPLACE INTO reminders VALUES (?, ?, ?, ?, ?, ?, ?)",
            (*key, trigger.first_due, trigger.repeats, spec.reg, spec.to_json()),
        )
        job = Job(key, trigger.first_due, trigger.period, trigger.repeats, trigger.expires, spec)
        self._schedule.put(job)

    def get(self, key: JobKey) -> dict[str, Any] | None:
        job = self._schedule.get(key)
        if job is None:
            return None
        spec: ReminderSpec = job.payload
        t = spec.trigger
        out: dict[str, Any] = {"dueTime": t.due_time, "period": t.period_text, "data": None}
        out["data"] = json.loads(spec.data)
        if t.ttl:
            out["ttl"] = t.ttl
        return out

    def delete(self, key: JobKey) -> bool:
        self._dirty.pop(key, None)
        self._schedule.remove(key)
        cur = self._conn.execute(
            "DELETE FROM reminders WHERE actor_type=? AND actor_id=? AND name=?", key
        )
        return cur.rowcount > 0

    def count_by_type(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for job in self._schedule:
            counts[job.key[0]] = counts.get(job.key[0], 0) + 1
        return counts

    # -- firing -----------------------------------------------------------------------------

    async def _fire(self, job: Job) -> None:
        spec: ReminderSpec = job.payload
        actor_type, actor_id, name = job.key
        body = f'{{"data":{spec.data},"dueTime":"","period":""}}'.encode()
        policy = parse_failure_policy(spec.trigger.failure_policy)
        failures, backoff = 0, 0.1
        while self._schedule.is_current(job):
            try:
                resp = await self._call(
                    actor_type, actor_id, f"remind/{quote(name, safe='')}", body
                )
            except AppUnreachableError:
                await asyncio.sleep(backoff)  # the app is down: wait for it, however long
                backoff = min(backoff * 2, _UNREACHABLE_BACKOFF_MAX)
                continue
            if resp.status < 500:
                if resp.status >= 300:
                    log.warning("reminder %s answered %d; not retried", job.key, resp.status)
                break
            failures += 1
            if policy.drop or (policy.max_retries is not None and failures > policy.max_retries):
                log.warning("reminder %s failed %d times; dropping this tick", job.key, failures)
                break
            await asyncio.sleep(policy.interval)
        if self._schedule.is_current(job):
            self._dirty[job.key] = job

    def _mark_dirty(self, job: Job) -> None:
        self._dirty[job.key] = job

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_EVERY)
            try:
                self.flush()
            except sqlite3.Error:
                log.exception("persisting reminder progress failed; will retry")

    def flush(self) -> None:
        """Write back next due times (and remove finished reminders) in one transaction."""
        if not self._dirty:
            return
        jobs, self._dirty = list(self._dirty.values()), {}
        updates = [(j.due, j.remaining, *j.key, j.payload.reg) for j in jobs if not j.done]
        deletes = [(*j.key, j.payload.reg) for j in jobs if j.done]
        conn = self._conn
        with immediate_transaction(conn):
            conn.executemany(
                "UPDATE reminders SET due=?, remaining=? "
                "WHERE actor_type=? AND actor_id=? AND name=? AND reg=?",
                updates,
            )
            conn.executemany(
                "DELETE FROM reminders WHERE actor_type=? AND actor_id=? AND name=? AND reg=?",
                deletes,
            )
