"""RQ behind the JobQueue port: one job per id, retries with back-off, typed unavailability.

Used when REDIS_URL is set; the embedded default runs the same jobs in a thread of the web
process (adapters/thread_queue.py). ``is_async=False`` (tests) runs each job when enqueued.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import Queue, Retry
from rq.exceptions import DuplicateJobError, NoSuchJobError
from rq.job import Job, JobStatus

from service.domain.ports import QueueUnavailable

log = logging.getLogger(__name__)
DONE = {JobStatus.FINISHED, JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED}


class RQJobQueue:
    def __init__(
        self,
        connection: Redis,
        *,
        is_async: bool = True,
        retry: Retry | None = None,
        timeout: int = 180,
    ) -> None:
        self.connection = connection
        self.is_async = is_async
        self.retry = retry
        self.timeout = timeout

    @classmethod
    def from_url(cls, url: str, **options: object) -> RQJobQueue:
        # Short socket timeouts: a webhook must not hang on a Redis that is down.
        connection = Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        return cls(connection, **options)  # type: ignore[arg-type]

    def enqueue(
        self, queue: str, function: str, *args: object, job_id: str, replace_started: bool = False
    ) -> bool:
        q = Queue(
            queue, connection=self.connection, is_async=self.is_async, default_timeout=self.timeout
        )
        try:
            if not self.is_async:
                q.enqueue(function, *args, job_id=job_id)
                return True
            # At most twice: a finished or failed job under this id is replaced once.
            for _ in range(2):
                try:
                    q.enqueue(
                        function,
                        *args,
                        job_id=job_id,
                        unique=True,
                        retry=self.retry,
                        failure_ttl=7 * 24 * 3600,
                    )
                    return True
                except DuplicateJobError:
                    if not self._forget_if_done(job_id, started_too=replace_started):
                        return False
            return False
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise QueueUnavailable(str(exc)) from exc

    def enqueue_at(
        self, when: datetime, queue: str, function: str, *args: object, job_id: str
    ) -> None:
        if not self.is_async:
            return  # in-process: the embedded sweeper runs due work
        # RQ keeps a scheduled time in whole seconds, cut down (registry.schedule): 12:00:00.7
        # would be due at 12:00:00.0, and a job that checks its time (the owner fallback)
        # would run before it and do nothing. Round up to the next whole second instead.
        if when.microsecond:
            when = when.replace(microsecond=0) + timedelta(seconds=1)
        q = Queue(queue, connection=self.connection, default_timeout=self.timeout)
        try:
            q.enqueue_at(when, function, *args, job_id=job_id, retry=self.retry)
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise QueueUnavailable(str(exc)) from exc

    def _forget_if_done(self, job_id: str, *, started_too: bool = False) -> bool:
        """A finished or failed job with this id may be replaced; a live one may not, unless
        *started_too*: the caller knows a started one is dead (RQ itself notices only when the
        execution heartbeat expires, 90 s or more later, at its next registry cleanup)."""
        try:
            job = Job.fetch(job_id, connection=self.connection)
        except NoSuchJobError:
            return True
        status = job.get_status(refresh=True)
        if status in DONE or (started_too and status == JobStatus.STARTED):
            job.delete()
            return True
        return False
