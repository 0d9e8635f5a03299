"""The worker process: an RQ worker kept alive through Redis and database restarts. It stops
only on SIGTERM/SIGINT (warm shutdown: the running job finishes) or, with ``burst``, once the
queues are empty.

rq's ``Worker.work()`` ends its loop on any error met outside the idle wait (a heartbeat
while a job runs, registry maintenance, its own teardown), and inside the idle wait it
retries by itself for ever (sleeping a second first) while keeping a registration and a
scheduler process that a Redis restart has lost. So :class:`SupervisedWorker` turns a lost
connection (at once, even in the idle wait) or a lost registration into the end of one
``work()`` run, and :func:`run_worker` then waits for Redis (every 0.25 s for the first 5 s
of an outage, then doubling to 10 s; one warning per outage, one info line when it is back)
and starts a fresh worker: a new name, registered again, with a new scheduler process (under
the same scheduler name, so it takes back its own scheduler lock at once). A job that fails on
a database outage is retried or failed by RQ like any failing job; the loop never sees it.

rq's scheduler (retries, waits and owner timeouts are scheduled jobs) runs in one worker at a
time, the holder of a lock that lives a minute; rq's other workers try to take it over only
every ten minutes. A worker that was SIGKILLed leaves that lock behind, so the workers here
try again every ``SCHEDULER_CHECK`` seconds, and free at once a lock whose scheduler process,
on this machine, is gone.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from datetime import timedelta
from types import FrameType
from typing import Any

from flask import Flask
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import Queue, SimpleWorker
from rq.exceptions import SchedulerNotFound, StopRequested
from rq.scheduler import ForkProcess, RQScheduler
from rq.scheduler import run as run_scheduler
from rq.scripts import release_lock

from service.domain.ports import RunningJob, running_job
from service.extensions import db
from service.jobs import dispatcher, sweeper
from service.jobs.enqueue import inbox_job_id
from service.jobs.intake import process_inbox

log = logging.getLogger("carteras.worker")
LOST = (RedisConnectionError, RedisTimeoutError, OSError)
# waiting for Redis: every FIRST_WAIT for the first QUICK_OUTAGE seconds (a restart), then
# doubling up to LONGEST_WAIT
FIRST_WAIT, QUICK_OUTAGE, LONGEST_WAIT = 0.25, 5.0, 10.0
SCHEDULER_CHECK = 15.0  # seconds between tries to take over a scheduler lock nobody renews
WORKER_TTL = 45  # rq's worker key lifetime; an idle worker wakes every WORKER_TTL - 15 s


class RedisLost(Exception):
    """The connection to Redis broke, or Redis forgot this worker (it restarted empty)."""


class QuietScheduler(RQScheduler):
    """rq's scheduler process, ending without a traceback on stderr when Redis goes away (the
    worker notices the process is gone and makes way for a fresh worker and scheduler)."""

    def start(self) -> Any:
        self._status = self.Status.STARTED
        self._connection = None  # a Redis client cannot cross the fork
        process = ForkProcess(target=_run_scheduler, args=(self,), name="Scheduler")
        self._process = process  # type: ignore[assignment]
        process.start()
        return process

    def free_dead_locks(self) -> None:
        """Release the scheduler locks held by a scheduler process of this machine that is
        gone (its worker was killed): rq would wait for the lock to expire, and then for its
        ten-minute maintenance, before another scheduler took over."""
        host = socket.gethostname()
        for queue in self._queue_names:
            key = self.get_locking_key(queue)
            holder = self.connection.get(key)
            if holder is None:
                continue
            name = holder.decode() if isinstance(holder, bytes) else str(holder)
            if name == self.name:
                continue
            try:
                other = RQScheduler.fetch(name, self.connection)
            except SchedulerNotFound:
                continue
            dead = other.hostname == host and other.pid and not _alive(other.pid)
            if dead and release_lock(self.connection, key, name):
                log.info(
                    "scheduler lock of a dead worker freed",
                    extra={"queue": queue, "pid": other.pid},
                )

    def kill(self) -> None:
        """End the process now (Redis is gone: it has nothing left to release)."""
        process = self._process
        if process is not None and process.is_alive():
            process.kill()
            process.join(1)


def _alive(pid: int) -> bool:
    """Whether process *pid* of this machine still runs (a zombie, killed and not yet reaped
    by its new parent, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] not in ("Z", "X")
    except OSError:  # no /proc here: trust the signal
        return True


class LostAwareQueue(Queue):
    """rq's queue, whose blocking dequeue reports a lost connection at once (rq would log it,
    sleep a second and try again, for ever)."""

    @classmethod
    def dequeue_any(cls, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().dequeue_any(*args, **kwargs)
        except LOST as exc:
            raise RedisLost(str(exc)) from exc


def _run_scheduler(scheduler: RQScheduler) -> None:
    with suppress(*LOST):
        run_scheduler(scheduler)  # type: ignore[no-untyped-call]


class SupervisedWorker(SimpleWorker):
    """An RQ worker whose ``work()`` returns, quietly, as soon as Redis is lost.

    It runs each job in its own process (rq's ``SimpleWorker``), not in a forked work-horse:
    a fork per job also meant a new PostgreSQL backend and new Rocket.Chat connections per
    job, most of a short job's cost. A job is isolated by its app context (a fresh session)
    and bounded by its timeout (``SIGALRM`` in this, the main, thread); a worker killed
    mid-job loses that job as before, and the row's lease brings it back."""

    def __init__(
        self,
        *args: Any,
        stopping: threading.Event,
        quiet: QuietOnOutage,
        scheduler_name: str | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("queue_class", LostAwareQueue)
        kwargs.setdefault("worker_ttl", WORKER_TTL)
        super().__init__(*args, **kwargs)
        self.stopping = stopping
        self.quiet = quiet
        self.redis_lost = False
        self.scheduler_name = scheduler_name
        self.scheduler_checked = time.monotonic()

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        if pipeline is not None:  # part of rq's own pipeline (job heartbeats, teardown)
            super().heartbeat(timeout, pipeline=pipeline)
            return
        if self.redis_lost or self.quiet.saw_outage:
            # rq retried a broken connection by itself, or it broke during a job: its
            # scheduler process may have died with it, so this worker makes way for a new one
            self.redis_lost = True
            raise RedisLost("the connection broke")
        scheduler = self.scheduler._process if self.scheduler else None
        if scheduler is not None and not scheduler.is_alive():
            self.redis_lost = True
            raise RedisLost("the scheduler process ended")
        try:
            with self.connection.pipeline() as batch:
                batch.sismember(self.redis_workers_keys, self.key)
                super().heartbeat(timeout, pipeline=batch)
                registered = batch.execute()[0]
        except LOST as exc:
            self.redis_lost = True
            raise RedisLost(str(exc)) from exc
        if not registered:
            self.redis_lost = True
            raise RedisLost("Redis no longer knows this worker (restarted empty?)")
        self._take_over_scheduler()

    def _take_over_scheduler(self) -> None:
        """Every SCHEDULER_CHECK seconds, when no scheduler runs here: take the scheduler
        locks over if nobody renews them (rq's own workers try every ten minutes)."""
        scheduler = self.scheduler
        if not isinstance(scheduler, QuietScheduler) or scheduler._process is not None:
            return
        if time.monotonic() - self.scheduler_checked < SCHEDULER_CHECK:
            return
        self.scheduler_checked = time.monotonic()
        try:
            scheduler.free_dead_locks()
            scheduler.acquire_locks(auto_start=True)  # type: ignore[no-untyped-call]
        except LOST as exc:
            self.redis_lost = True
            raise RedisLost(str(exc)) from exc

    def maintain_heartbeats(self, job: Any, execution: Any) -> None:
        # While a job runs: the work-horse goes on (its job talks to the database); the run
        # ends at the next idle heartbeat, once the job is over.
        try:
            super().maintain_heartbeats(job, execution)
        except LOST:
            self.redis_lost = True

    def _start_scheduler(
        self, burst: bool = False, logging_level: Any = "INFO", *args: Any
    ) -> None:
        # rq's own, with the quiet scheduler class
        self.scheduler = QuietScheduler(
            self.queues,
            connection=self.connection,
            logging_level=logging_level if logging_level is not None else self.log.level,
            serializer=self.serializer,
            # the same name in every run of this process: a run after a lost connection
            # takes back the lock its predecessor held (rq: "refreshed")
            name=self.scheduler_name,
        )
        self.scheduler.free_dead_locks()
        self.scheduler.acquire_locks()  # type: ignore[no-untyped-call]
        if self.scheduler.acquired_locks:
            if burst:
                try:
                    self.scheduler.register_birth()
                    self.scheduler.enqueue_scheduled_jobs()  # type: ignore[no-untyped-call]
                finally:
                    self.scheduler.release_locks()  # type: ignore[no-untyped-call]
                    self.scheduler.register_death()
            else:
                self.scheduler.start()

    def check_for_suspension(self, burst: bool) -> None:
        if self.stopping.is_set():  # a signal that came before rq installed its handlers
            raise StopRequested
        super().check_for_suspension(burst)

    def request_stop(self, signum: int, frame: FrameType | None) -> None:
        self.stopping.set()
        super().request_stop(signum, frame)  # type: ignore[no-untyped-call]

    def _pubsub_exception_handler(self, exc: Exception, pubsub: Any, pubsub_thread: Any) -> None:
        if not isinstance(exc, RedisConnectionError):
            super()._pubsub_exception_handler(exc, pubsub, pubsub_thread)
            return
        self.redis_lost = True  # rq logs every retry; the supervisor logs the outage once
        time.sleep(2.0)

    def teardown(self) -> None:
        """rq's teardown, where each step may meet a Redis that is gone."""
        if self.is_horse:
            return
        lost = self.redis_lost or self.quiet.saw_outage
        if isinstance(self.scheduler, QuietScheduler):
            # its SIGTERM handling would sleep out its interval first (a stop that outlasts
            # the supervisor's patience); moving due jobs is one transaction, so a kill never
            # leaves half a move. With Redis here, give its locks back at once.
            self.scheduler.kill()
            if not lost:
                with suppress(RedisError, OSError):
                    self.scheduler.release_locks()  # type: ignore[no-untyped-call]
                    self.scheduler.register_death()
        elif self.scheduler:
            self.stop_scheduler()  # type: ignore[no-untyped-call]
        with suppress(RedisError, OSError):
            self.register_death()  # type: ignore[no-untyped-call]
        if self.pubsub_thread:
            self.pubsub_thread.stop()
            with suppress(RedisError, OSError):
                self.pubsub.unsubscribe()
            # a daemon thread; after a lost connection it sits in its error handler
            self.pubsub_thread.join(timeout=0.1 if lost else 1)
            with suppress(RedisError, OSError):
                self.pubsub.close()


class QuietOnOutage(logging.Filter):
    """Drop rq's own lines about a lost Redis (one per retry, with tracebacks), noting that
    it saw one: the supervisor says it once per outage."""

    def __init__(self) -> None:
        super().__init__()
        self.saw_outage = False

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        outage = (
            (record.exc_info is not None and isinstance(record.exc_info[1], (RedisLost, *LOST)))
            or "could not connect to Redis" in text
            or "Redis connection timeout" in text
            or ("Scheduler" in text and "ConnectionError" in text)
        )
        self.saw_outage = self.saw_outage or outage
        return not outage


def _quiet_rq_logs() -> QuietOnOutage:
    quiet = QuietOnOutage()
    for name in ("rq.worker", "rq.scheduler"):
        logger = logging.getLogger(name)
        for old in [f for f in logger.filters if isinstance(f, QuietOnOutage)]:
            logger.removeFilter(old)
        logger.addFilter(quiet)
    return quiet


def _fresh_pools_after_fork(app: Flask) -> None:
    """A forked process (rq's scheduler; a work-horse, should the worker class fork again)
    must never share a pooled database connection with this one (whose jobs and sweeper
    thread use the pool): the child starts its own."""
    with app.app_context():
        engines = list(db.engines.values())

    def dispose() -> None:
        for engine in engines:
            engine.dispose(close=False)

    os.register_at_fork(after_in_child=dispose)


class _Supervisor:
    def __init__(
        self,
        url: str,
        names: Sequence[str],
        burst: bool,
        quiet: QuietOnOutage,
        on_back: Callable[[], object] | None = None,
        while_away: Callable[[threading.Event], object] | None = None,
    ) -> None:
        self.url = url
        self.on_back = on_back
        self.while_away = while_away
        self.names = list(names)
        self.burst = burst
        self.quiet = quiet
        self.stopping = threading.Event()
        self.runs = 0

    def on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.stopping.set()

    def install_signals(self) -> None:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self.on_signal)
            signal.signal(signal.SIGINT, self.on_signal)

    def connect(self) -> Redis:
        return Redis.from_url(self.url, socket_connect_timeout=2)

    def wait_for_redis(self, lost: bool, reason: str) -> Redis | None:
        """A connected client, waiting with back-off while Redis is away; None on a signal."""
        started, delay, warned = time.monotonic(), FIRST_WAIT, False
        while not self.stopping.is_set():
            connection = self.connect()
            try:
                connection.ping()
            except LOST as exc:
                connection.close()
                if not warned:
                    log.warning(
                        "Redis unreachable; worker reconnecting with back-off",
                        extra={"error": (reason or str(exc))[:300], "queues": self.names},
                    )
                    warned = True
                if self.while_away is not None and not self.burst:
                    self.while_away(self.stopping)
                self.stopping.wait(delay)
                if time.monotonic() - started >= QUICK_OUTAGE:
                    delay = min(delay * 2, LONGEST_WAIT)
                continue
            if lost and not warned:  # back at once (a quick restart): still one warning
                log.warning(
                    "Redis connection lost; worker starting again",
                    extra={"error": reason[:300], "queues": self.names},
                )
                warned = True
            if warned:
                log.info(
                    "Redis back; worker resumed",
                    extra={"outage_seconds": round(time.monotonic() - started, 1)},
                )
                self._caught_up()
            return connection
        return None

    def _caught_up(self) -> None:
        """Right after an outage, hand the queue what it missed or forgot (rows stored while
        it was away, retries it lost) instead of waiting for the next sweep."""
        if self.on_back is None:
            return
        try:
            self.on_back()
        except Exception:  # the periodic sweep does it later anyway
            log.warning("catch-up sweep failed; the periodic sweep will do it", exc_info=True)

    def queues_empty(self) -> bool:
        connection = self.connect()
        try:
            return all(connection.llen(f"rq:queue:{name}") == 0 for name in self.names)
        except LOST:
            return False
        finally:
            connection.close()

    def run_once(self, connection: Redis) -> SupervisedWorker:
        self.runs += 1
        self.quiet.saw_outage = False
        worker = SupervisedWorker(
            self.names,
            name=f"{socket.gethostname()}.{os.getpid()}.{self.runs}",
            connection=connection,
            stopping=self.stopping,
            quiet=self.quiet,
            scheduler_name=f"{socket.gethostname()}.{os.getpid()}",
        )
        try:
            worker.work(with_scheduler=not self.burst, burst=self.burst)
        except LOST:
            worker.redis_lost = True  # rq's teardown met the outage
        finally:
            self.install_signals()  # rq's handlers belong to the worker that just ended
        return worker

    def loop(self) -> None:
        lost, reason = False, ""
        while not self.stopping.is_set():
            connection = self.wait_for_redis(lost, reason)
            if connection is None:
                return
            try:
                worker = self.run_once(connection)
            except LOST as exc:  # Redis went away while the worker was being built
                lost, reason = True, str(exc)
                continue
            finally:
                connection.close()
            if self.stopping.is_set():
                return
            if worker.redis_lost or self.quiet.saw_outage:
                lost, reason = True, "connection lost"
                continue
            if self.burst and self.queues_empty():
                return
            # an unexpected end of rq's loop (it has logged why): start again, not too fast
            lost, reason = False, ""
            self.stopping.wait(FIRST_WAIT)


class RoutingWhileAway:
    """While Redis is away, the worker routes what waits in the database itself, between its
    tries to reconnect, instead of leaving every message of the outage to the catch-up: the
    rows nobody works on (the sweep's own choice, without its grace), oldest first, each
    through the same job function under the same claim, order and lease rules. A row whose
    try fails here is kept ``queued`` (a retry follows) and left to the queue once Redis is
    back; the queue's other jobs (replies, fallbacks) wait for Redis."""

    BATCH = 50

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.left: set[int] = set()  # failed here: the queue retries them, with its back-off

    def __call__(self, stopping: threading.Event) -> int:
        try:
            with self.app.app_context():
                due = [i for i in sweeper.due_ids(grace=timedelta(0)) if i not in self.left]
        except Exception:  # the database is away too: nothing to do here
            return 0
        routed = 0
        for inbox_id in due[: self.BATCH]:
            if stopping.is_set():
                break
            # a job of its own id, with a retry to come: a failure keeps the row queued
            token = running_job.set(RunningJob(f"{inbox_job_id(inbox_id)}-away", 1))
            try:
                with self.app.app_context():
                    process_inbox(inbox_id)
                routed += 1
            except Exception:  # logged by the job; kept queued on its row
                self.left.add(inbox_id)
            finally:
                running_job.reset(token)
        if routed:
            log.info("routed while Redis is away", extra={"jobs": routed})
        return routed

    def back(self) -> None:
        self.left.clear()


def run_worker(
    app: Flask, queues: Sequence[str], *, burst: bool = False, sweep_every: float | None = None
) -> None:
    """Work the *queues* until SIGTERM/SIGINT (or, with *burst*, until they are empty),
    with the periodic sweep in a thread (every ``CARTERAS_SWEEP_INTERVAL`` unless
    *sweep_every* says otherwise; 0 = none)."""
    config = app.config["CARTERAS"]
    if not config.redis_url:
        raise RuntimeError("REDIS_URL is not set")
    interval = config.sweep_interval if sweep_every is None else sweep_every
    _fresh_pools_after_fork(app)

    away = RoutingWhileAway(app) if "routing" in queues else None

    def catch_up() -> None:
        if away is not None:
            away.back()
        with app.app_context():
            found, enqueued = sweeper.requeue_stale(grace=timedelta(0))
        log.info("catch-up sweep", extra={"found": found, "enqueued": enqueued})

    supervisor = _Supervisor(
        config.redis_url, queues, burst, _quiet_rq_logs(), catch_up, while_away=away
    )
    supervisor.install_signals()
    stop_sweeping = sweeper.start_in_background(app, interval) if interval > 0 else None
    stop_dispatching = None
    if config.handoff_through_database and "routing" in queues:
        if burst:  # what waits now, then the queue until it is empty
            dispatcher.drain(app)
        else:
            stop_dispatching = dispatcher.start_in_background(app)
    try:
        with app.app_context():
            supervisor.loop()
    finally:
        for stop in (stop_sweeping, stop_dispatching):
            if stop is not None:
                stop.set()
    log.info("worker stopped", extra={"queues": list(queues), "runs": supervisor.runs})
