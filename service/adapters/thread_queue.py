"""In-process job queues for the embedded default (no Redis): ``ThreadJobQueue`` runs jobs in
a background thread of the web process, so a webhook never waits for a job; ``InlineJobQueue``
runs them at once in the caller's thread (tests only, ``Config.jobs_inline``).

Both keep RQJobQueue's contract: the same job functions by dotted name, one live job per id,
retries with the configured back-off (then the job is failed and the row kept for a replay),
scheduled jobs, and each job inside an app context pushed by the queue itself.
"""

from __future__ import annotations

import atexit
import heapq
import importlib
import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from service.domain.ports import RunningJob, running_job

log = logging.getLogger("carteras.jobs")
ContextFactory = Callable[[], AbstractContextManager[Any]]
# The worker's queue order (service/cli.py worker): earlier queues are served first.
QUEUES = ("routing", "relay", "imports", "default")
EXIT_DRAIN_SECONDS = 10.0


def _resolve(function: str) -> Callable[..., Any]:
    module, _, name = function.rpartition(".")
    return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


def _run(job_id: str, retries_left: int, context: ContextFactory, function: str, args: Any) -> Any:
    """Run one job as RQ would: inside a fresh app context, with the job known to
    ``service.jobs.runtime`` (its id, and whether a retry follows)."""
    token = running_job.set(RunningJob(job_id, retries_left))
    try:
        with context():
            return _resolve(function)(*args)
    finally:
        running_job.reset(token)


@dataclass(eq=False)
class _Job:
    id: str
    queue: str
    function: str
    args: tuple[object, ...]
    retries_left: int
    state: str = "queued"  # queued, scheduled, started
    due: float = 0.0
    tries: int = field(default=0)


class ThreadJobQueue:
    """A JobQueue worked by one daemon thread, started by the first job (so importing the app
    or running a CLI command that queues nothing starts no thread).

    One thread, as one RQ worker: jobs run one at a time, in the order they were queued,
    ``routing`` first. A job that raises is retried after ``retry_intervals[n]`` seconds
    (RQ's ``Retry``: the last interval repeats) until the retries are used up. Jobs live in
    memory only: when the process dies, the sweep finds their rows in the database.
    """

    def __init__(
        self,
        *,
        retry_intervals: Sequence[float] = (),
        context: ContextFactory | None = None,
        queues: Sequence[str] = QUEUES,
    ) -> None:
        self.retry_intervals = tuple(retry_intervals)
        self._context: ContextFactory = context or nullcontext
        self._ready: dict[str, deque[_Job]] = {name: deque() for name in queues}
        self._scheduled: list[tuple[float, int, _Job]] = []
        self._jobs: dict[str, _Job] = {}  # live jobs by id: queued, scheduled or started
        self._running: _Job | None = None
        self._order = itertools.count()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.failed: dict[str, str] = {}  # job id -> the last error, for logs and tests

    def bind(self, context: ContextFactory) -> None:
        """Run every job inside ``context()`` (the app's ``app_context``)."""
        self._context = context

    # ---- JobQueue ----------------------------------------------------------------------
    def enqueue(
        self, queue: str, function: str, *args: object, job_id: str, replace_started: bool = False
    ) -> bool:
        with self._cond:
            live = self._jobs.get(job_id)
            # a started job under this id is replaced only when the caller knows it is dead
            # (the sweeper); the claim in the database keeps the two from both running it
            if live is not None and not (replace_started and live.state == "started"):
                return False
            job = _Job(job_id, queue, function, args, retries_left=len(self.retry_intervals))
            self._jobs[job_id] = job
            self._ready.setdefault(queue, deque()).append(job)
            self._start()
            self._cond.notify_all()
            return True

    def enqueue_at(
        self, when: datetime, queue: str, function: str, *args: object, job_id: str
    ) -> None:
        with self._cond:
            live = self._jobs.get(job_id)
            if live is not None and live.state != "started":
                self._forget(live)  # as RQ does: the new schedule replaces the old one
            job = _Job(job_id, queue, function, args, retries_left=len(self.retry_intervals))
            self._schedule(job, when.timestamp())
            self._start()
            self._cond.notify_all()

    # ---- control -----------------------------------------------------------------------
    def drain(self, timeout: float = 10.0, *, scheduled: bool = False) -> bool:
        """Wait until no job is queued or running (with *scheduled*, none is scheduled
        either: retries and waits included); False when *timeout* ran out first."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._idle(scheduled):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.05))
            return True

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread after the running job (queued jobs are dropped: their rows stay
        in the database for the sweep)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _drain_at_exit(self) -> None:
        # A CLI command that queued jobs (inbox replay) or a web process shutting down: let
        # what is due run, bounded; scheduled jobs are left to the next sweep.
        if not self._stopping and not self.drain(EXIT_DRAIN_SECONDS):
            log.warning("jobs left in the in-process queue at exit; the sweep will take them")

    # ---- the worker thread ---------------------------------------------------------------
    def _start(self) -> None:
        if self._thread is None and not self._stopping:
            self._thread = threading.Thread(target=self._work, daemon=True, name="carteras-jobs")
            self._thread.start()
            atexit.register(self._drain_at_exit)

    def _idle(self, scheduled: bool) -> bool:
        if self._running is not None or any(self._ready.values()):
            return False
        return not (scheduled and self._scheduled)

    def _schedule(self, job: _Job, due: float) -> None:
        job.state, job.due = "scheduled", due
        self._jobs[job.id] = job
        heapq.heappush(self._scheduled, (due, next(self._order), job))

    def _forget(self, job: _Job) -> None:
        if self._jobs.get(job.id) is job:
            del self._jobs[job.id]
        job.state = "forgotten"
        for ready in self._ready.values():
            if job in ready:
                ready.remove(job)

    def _next(self) -> _Job | None:
        """The next job to run, waiting for one; None when stopping."""
        with self._cond:
            while not self._stopping:
                now = time.time()
                while self._scheduled and self._scheduled[0][0] <= now:
                    _, _, job = heapq.heappop(self._scheduled)
                    if job.state == "scheduled":  # not replaced or forgotten meanwhile
                        job.state = "queued"
                        self._ready.setdefault(job.queue, deque()).append(job)
                for ready in self._ready.values():
                    if ready:
                        job = ready.popleft()
                        job.state = "started"
                        self._running = job
                        return job
                wait = self._scheduled[0][0] - now if self._scheduled else None
                self._cond.notify_all()  # drain() waiters: idle now
                self._cond.wait(wait)
            return None

    def _work(self) -> None:
        while (job := self._next()) is not None:
            try:
                self._perform(job)
            finally:
                with self._cond:
                    self._running = None
                    self._cond.notify_all()

    def _perform(self, job: _Job) -> None:
        job.tries += 1
        try:
            _run(job.id, job.retries_left, self._context, job.function, job.args)
        except Exception as exc:
            self._failed(job, exc)
        else:
            with self._cond:
                if self._jobs.get(job.id) is job:
                    del self._jobs[job.id]
                self.failed.pop(job.id, None)

    def _failed(self, job: _Job, exc: Exception) -> None:
        with self._cond:
            if self._jobs.get(job.id) is not job:  # replaced meanwhile: the new one goes on
                return
            if job.retries_left > 0:
                used = len(self.retry_intervals) - job.retries_left
                interval = self.retry_intervals[min(used, len(self.retry_intervals) - 1)]
                job.retries_left -= 1
                self._schedule(job, time.time() + interval)
                log.info(
                    "job retried",
                    extra={"job_id": job.id, "in_seconds": interval, "error": repr(exc)[:300]},
                )
                return
            del self._jobs[job.id]
            self.failed[job.id] = repr(exc)[:2000]
        log.error("job failed", exc_info=exc, extra={"job_id": job.id, "tries": job.tries})


class InlineJobQueue:
    """Runs each job at once in the caller's thread, without retries; scheduled jobs are left
    to the sweep. For tests that assert right after a webhook (``Config.jobs_inline``)."""

    def __init__(self, *, context: ContextFactory | None = None) -> None:
        self._context: ContextFactory = context or nullcontext
        self.failed: dict[str, str] = {}

    def bind(self, context: ContextFactory) -> None:
        self._context = context

    def enqueue(
        self, queue: str, function: str, *args: object, job_id: str, replace_started: bool = False
    ) -> bool:
        try:
            _run(job_id, 0, self._context, function, args)
        except Exception as exc:  # kept failed, as RQ's synchronous mode does
            self.failed[job_id] = repr(exc)[:2000]
            log.error("job failed", exc_info=exc, extra={"job_id": job_id})
        return True

    def enqueue_at(
        self, when: datetime, queue: str, function: str, *args: object, job_id: str
    ) -> None:
        return None
