"""Actor timers: like reminders but in memory only, and gone when the actor deactivates.

Fired as daprd does: `PUT /actors/{type}/{id}/method/timer/{name}` with
`{"callback", "data", "dueTime", "period"}` under the actor's turn lock. A failed firing is
logged and not retried (daprd does not retry timers); a periodic timer keeps its schedule.
"""

from __future__ import annotations

import json
import logging
import time
from urllib.parse import quote

from ._appchannel import AppUnreachableError
from ._errors import DaprError
from ._schedule import Job, JobKey, Schedule
from ._triggers import CallFn, parse_trigger

log = logging.getLogger("localdapr.timers")


class Timers:
    """The timers of every active actor."""

    def __init__(self, call: CallFn) -> None:
        self._call = call
        self._schedule = Schedule(self._fire, name="timer")

    def __len__(self) -> int:
        return len(self._schedule)

    def start(self) -> None:
        self._schedule.start()

    async def close(self) -> None:
        await self._schedule.close()

    def register(self, key: JobKey, body: object) -> None:
        if not isinstance(body, dict):
            raise DaprError(400, "ERR_MALFORMED_REQUEST", "timer body must be a JSON object")
        callback = body.get("callback")
        if callback is not None and not isinstance(callback, str):
            raise DaprError(400, "ERR_MALFORMED_REQUEST", "timer callback must be a string")
        trigger = parse_trigger(body, now=time.time(), what="timer")
        fired = {
            "callback": callback or "",
            "data": body.get("data"),
            "dueTime": trigger.due_time,
            "period": trigger.period_text,
        }
        payload = json.dumps(fired).encode()
        job = Job(key, trigger.first_due, trigger.period, trigger.repeats, trigger.expires, payload)
        self._schedule.put(job)

    def delete(self, key: JobKey) -> bool:
        return self._schedule.remove(key) is not None

    def delete_actor(self, actor_type: str, actor_id: str) -> None:
        """Drop every timer of a deactivated actor, as daprd does."""
        for job in self._schedule:
            if job.key[0] == actor_type and job.key[1] == actor_id:
                self._schedule.remove(job.key)

    async def _fire(self, job: Job) -> None:
        actor_type, actor_id, name = job.key
        try:
            resp = await self._call(
                actor_type, actor_id, f"timer/{quote(name, safe='')}", job.payload
            )
        except AppUnreachableError as exc:
            log.warning("timer %s not delivered: %s", job.key, exc)
            return
        if resp.status >= 300:
            log.warning("timer %s answered %d: %r", job.key, resp.status, resp.body[:200])
