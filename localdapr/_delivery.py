"""Delivery of stored pub/sub messages to the app, with daprd's reading of the app's answer.

daprd (`subscription/postman/http`): any 2xx with an empty/unparsable body or status SUCCESS is
done; RETRY, an unknown status, any other non-404 status or an unreachable app is retried;
DROP and 404 drop the message. A dropped message, or one still failing after the bounded
number of attempts, goes to the subscription's dead-letter topic when it has one.
Deliveries run as background tasks so a slow or failing subscriber never blocks publishers.

SQLite has no notifications, so besides being woken by its own sidecar's publishes the
dispatcher polls the broker every `poll_interval` for messages other sidecars appended. A poll
is a few indexed reads (the stream's head, this app's due deliveries) that take no write lock
unless something is new or due, and only a sidecar whose app subscribes to anything polls.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import cel

from ._appchannel import AppChannel, AppUnreachableError
from ._cloudevents import CLOUDEVENT_CONTENT_TYPE, from_raw_payload, has_expired
from ._components import Subscription
from ._pubsubstore import DEAD_LETTERED, DELIVERED, DROPPED, Due, Message, PubSubStore

log = logging.getLogger("localdapr.pubsub")


@dataclass(frozen=True, slots=True)
class DeliverySettings:
    """Retry budget and broker polling; env `LOCALDAPR_PUBSUB_{MAX_ATTEMPTS,BACKOFF_MS,POLL_MS}`."""

    max_attempts: int = 5
    initial_backoff: float = 0.2
    max_backoff: float = 2.0
    timeout: float = 30.0
    max_inflight: int = 32
    poll_interval: float = 0.05

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> DeliverySettings:
        try:
            attempts = int(env.get("LOCALDAPR_PUBSUB_MAX_ATTEMPTS", "5"))
            backoff_ms = int(env.get("LOCALDAPR_PUBSUB_BACKOFF_MS", "200"))
            poll_ms = int(env.get("LOCALDAPR_PUBSUB_POLL_MS", "50"))
        except ValueError as exc:
            raise ValueError(f"LOCALDAPR_PUBSUB_* must be integers: {exc}") from exc
        return cls(
            max_attempts=max(1, attempts),
            initial_backoff=max(0, backoff_ms) / 1000,
            poll_interval=max(1, poll_ms) / 1000,
        )

    def backoff(self, attempts: int) -> float:
        return float(min(self.max_backoff, self.initial_backoff * 2 ** max(0, attempts - 1)))


class Outcome(enum.Enum):
    SUCCESS = "success"
    RETRY = "retry"
    DROP = "drop"


def classify(status: int, body: bytes) -> tuple[Outcome, str]:
    """The app's answer to a delivery, read as daprd's HTTP postman reads it."""
    if 200 <= status <= 299:
        try:
            answer = json.loads(body) if body.strip() else {}
        except (UnicodeDecodeError, json.JSONDecodeError):
            return Outcome.SUCCESS, ""
        verdict = answer.get("status", "") if isinstance(answer, dict) else ""
        verdict = str(verdict or "").upper()
        if verdict in ("", "SUCCESS"):
            return Outcome.SUCCESS, ""
        if verdict == "DROP":
            return Outcome.DROP, "app answered DROP"
        return Outcome.RETRY, f"app answered status {verdict}"
    text = body[:200].decode("utf-8", errors="replace")
    if status == 404:
        return Outcome.DROP, f"app answered 404: {text}"
    return Outcome.RETRY, f"app answered {status}: {text}"


class ActiveSubscription:
    """A subscription with its CEL routing rules compiled."""

    def __init__(self, sub: Subscription) -> None:
        self.sub = sub
        self.key = f"{sub.pubsubname}/{sub.topic}"
        self._rules = [(cel.compile(m) if m else None, path) for m, path in sub.rules]

    def route(self, event: dict[str, Any]) -> str | None:
        """The path of the first rule matching the event, as daprd's `findMatchingRoute`."""
        for program, path in self._rules:
            if program is None:
                return path
            try:
                matched = program.execute({"event": event})
            except (KeyError, ValueError, TypeError, RuntimeError) as exc:
                log.warning("routing rule on %s failed: %r", self.key, exc)
                continue
            if matched is True:
                return path
        return None

    @property
    def raw_payload(self) -> bool:
        return self.sub.metadata.get("rawPayload", "").lower() == "true"


class Dispatcher:
    """Takes new messages in for the app's groups, leases due deliveries, attempts each one."""

    def __init__(
        self,
        store: PubSubStore,
        app: AppChannel,
        subscriptions: Mapping[str, ActiveSubscription],
        *,
        settings: DeliverySettings,
        dead_letter: Callable[[Message, str], None],
    ) -> None:
        self._store = store
        self._app = app
        self._subs = subscriptions
        self._settings = settings
        self._dead_letter = dead_letter
        self._groups = {key: (a.sub.pubsubname, a.sub.topic) for key, a in subscriptions.items()}
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()

    def published(self) -> None:
        """Our own app published: take it in now, so its deliveries exist when publish answers."""
        try:
            self._store.catch_up(self._groups)
        except sqlite3.Error:
            log.exception("taking a published message in failed; the next poll will")
        self._wake.set()

    def prepare(self) -> None:
        """Join the app's consumer groups and retry what a crash left leased."""
        self._store.join(self._groups)
        self._store.release_leases()

    async def run(self) -> None:
        """Forever: start what is due, then sleep until the next due time, poll or wake-up."""
        poll = self._settings.poll_interval if self._groups else None
        while True:
            self._wake.clear()
            try:
                delay = self._start_due()
            except sqlite3.Error:
                log.exception("pub/sub broker unavailable; retrying in 1s")
                delay = 1.0
            if poll is not None:
                delay = poll if delay is None else min(delay, poll)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _start_due(self) -> float | None:
        self._store.catch_up(self._groups)
        free = self._settings.max_inflight - len(self._tasks)
        if free <= 0:
            return None
        lease = self._settings.timeout + 5.0
        for due in self._store.lease_due(limit=free, lease=lease):
            task = asyncio.create_task(self._attempt(due), name=f"deliver-{due.seq}")
            self._tasks.add(task)
            task.add_done_callback(self._done)
        next_at = self._store.next_due_at()
        return None if next_at is None else max(0.0, next_at - time.time())

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("delivery task failed; it will be retried", exc_info=task.exception())
        self._wake.set()

    async def _attempt(self, due: Due) -> None:
        msg = self._store.message(due.seq)
        sub = self._subs.get(due.sub_key)
        if msg is None or sub is None:
            self._store.finish(due, status=DROPPED, error="subscription no longer exists")
            return
        event, body = _event_and_body(msg, sub)
        if has_expired(event):
            self._give_up(due, msg, sub, "message expired")
            return
        path = sub.route(event)
        if path is None:
            self._give_up(due, msg, sub, "no routing rule matches the event")
            return
        headers = {"content-type": CLOUDEVENT_CONTENT_TYPE}
        try:
            resp = await self._app.call(
                "POST", path, body=body, headers=headers, timeout=self._settings.timeout
            )
        except AppUnreachableError as exc:
            outcome, why = Outcome.RETRY, str(exc)
        else:
            outcome, why = classify(resp.status, resp.body)
        self._record(due, msg, sub, outcome, why)

    def _record(
        self, due: Due, msg: Message, sub: ActiveSubscription, outcome: Outcome, why: str
    ) -> None:
        if outcome is Outcome.SUCCESS:
            self._store.finish(due, status=DELIVERED)
        elif outcome is Outcome.DROP:
            self._give_up(due, msg, sub, why)
        elif due.attempts + 1 >= self._settings.max_attempts:
            self._give_up(due, msg, sub, f"gave up after {due.attempts + 1} attempts: {why}")
        else:
            when = time.time() + self._settings.backoff(due.attempts + 1)
            self._store.retry_at(due, when=when, error=why)

    def _give_up(self, due: Due, msg: Message, sub: ActiveSubscription, why: str) -> None:
        topic = sub.sub.dead_letter_topic
        log.warning("message %s on %s not delivered (%s)", msg.event_id, sub.key, why)
        if topic:
            self._dead_letter(msg, topic)
            self._store.finish(due, status=DEAD_LETTERED, error=why)
        else:
            self._store.finish(due, status=DROPPED, error=why)


def _event_and_body(msg: Message, sub: ActiveSubscription) -> tuple[dict[str, Any], bytes]:
    """The CloudEvent as routing rules see it, and the bytes the app receives."""
    if msg.raw and sub.raw_payload:
        event = from_raw_payload(
            msg.data, event_id=msg.event_id or "", topic=msg.topic, pubsub=msg.pubsub
        )
        return event, json.dumps(event).encode()
    try:
        parsed = json.loads(msg.data)
    except (UnicodeDecodeError, json.JSONDecodeError):
        parsed = None
    return (parsed if isinstance(parsed, dict) else {}), msg.data
