"""One heap of due times for many reminders or timers, driven by a single event-loop timer.

A task per reminder, or a loop polling the database, does not scale to thousands of actors on
a 1 s period. Here all jobs share one heap and one `loop.call_at` handle armed for the
earliest due time; a firing runs as its own task so a slow app never delays the heap.

Missed ticks are not replayed: a job more than a period late (after downtime, or while its
previous firing is still in flight) fires once and its next due time is one full period
later, so an overdue reminder fires once and then resumes its period (dapr/dapr#4500).
A job less than a period late keeps its phase, so slow firings do not make it drift.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("localdapr.schedule")

JobKey = tuple[str, str, str]  # actor type, actor id, name


@dataclass(slots=True)
class Job:
    """A reminder or timer. `due` is epoch seconds; `remaining` None means unlimited."""

    key: JobKey
    due: float
    period: float | None
    remaining: int | None = None
    expires: float | None = None
    payload: Any = None
    gen: int = 0
    in_flight: bool = False
    done: bool = False  # no further firing; the owner removes it after the last one


FireFn = Callable[[Job], Awaitable[None]]
_gens = itertools.count(1)


class Schedule:
    """Jobs keyed by (type, id, name); `fire(job)` is awaited in its own task when due."""

    def __init__(
        self, fire: FireFn, *, name: str, on_done: Callable[[Job], None] | None = None
    ) -> None:
        self._fire = fire
        self._on_done = on_done
        self._name = name
        self._jobs: dict[JobKey, Job] = {}
        self._heap: list[tuple[float, int, JobKey, int]] = []
        self._seq = itertools.count()
        self._handle: asyncio.TimerHandle | None = None
        self._armed_for = math.inf
        self._tasks: set[asyncio.Task[None]] = set()
        self._running = False

    def __len__(self) -> int:
        return len(self._jobs)

    def __iter__(self) -> Iterator[Job]:
        return iter(list(self._jobs.values()))

    def get(self, key: JobKey) -> Job | None:
        return self._jobs.get(key)

    def put(self, job: Job) -> Job:
        """Add or replace the job of this key; a replaced job's pending ticks are dropped."""
        job.gen = next(_gens)
        self._jobs[job.key] = job
        self._push(job)
        return job

    def remove(self, key: JobKey) -> Job | None:
        job = self._jobs.pop(key, None)
        if job is not None:
            job.done = True
        return job

    def is_current(self, job: Job) -> bool:
        """False once the job was removed or replaced by a newer registration."""
        return self._jobs.get(job.key) is job

    def start(self) -> None:
        self._running = True
        self._rearm()

    async def close(self) -> None:
        self._running = False
        if self._handle is not None:
            self._handle.cancel()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- internals --------------------------------------------------------------------------

    def _push(self, job: Job) -> None:
        heapq.heappush(self._heap, (job.due, next(self._seq), job.key, job.gen))
        if self._running and job.due < self._armed_for:
            self._rearm()

    def _rearm(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._armed_for = math.inf
        if not self._heap or not self._running:
            return
        loop = asyncio.get_running_loop()
        due = self._heap[0][0]
        self._armed_for = due
        self._handle = loop.call_at(loop.time() + max(0.0, due - time.time()), self._tick)

    def _tick(self) -> None:
        self._handle = None
        now = time.time()
        heap = self._heap
        while heap and heap[0][0] <= now:
            due, _, key, gen = heapq.heappop(heap)
            job = self._jobs.get(key)
            if job is None or job.gen != gen or job.due != due:
                continue  # removed, replaced or rescheduled since this entry was pushed
            self._due(job, now)
        self._rearm()

    def _due(self, job: Job, now: float) -> None:
        if job.expires is not None and job.due > job.expires:
            self._finish(job)
            return
        if job.in_flight:
            self._advance(job, now, fired=False)  # still busy with the previous tick: skip
            return
        job.in_flight = True
        self._advance(job, now, fired=True)
        task = asyncio.get_running_loop().create_task(self._run(job))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _advance(self, job: Job, now: float, *, fired: bool) -> None:
        if fired and job.remaining is not None:
            job.remaining -= 1
        if job.period is None or job.remaining == 0:
            job.done = True
            return
        nxt = job.due + job.period
        if nxt <= now:
            nxt = now + job.period  # a whole period late: catch up once, then a full period
        if job.expires is not None and nxt > job.expires:
            job.done = True
            return
        job.due = nxt
        self._push(job)

    def _finish(self, job: Job) -> None:
        job.done = True
        if self._jobs.get(job.key) is job:
            del self._jobs[job.key]
            if self._on_done is not None:
                self._on_done(job)

    async def _run(self, job: Job) -> None:
        try:
            await self._fire(job)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s %s: firing failed", self._name, job.key)
        finally:
            job.in_flight = False
            if job.done:
                self._finish(job)
