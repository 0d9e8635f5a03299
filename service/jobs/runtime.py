"""How every job runs: one skeleton (:func:`run`) for the inbox, reply, fallback, re-forward
and presence jobs. A job gets a fresh app context (so a fresh session), the ports, the time
from their one clock, a logger stamped with its job id and ids, and one line when it ends
(outcome and duration, or the error). Jobs that work on a row take it with :meth:`JobRun.claim`
(a compare-and-set, committed at once) and keep their failure on it with
:meth:`JobRun.recording_failures` (rolled back, recorded, committed, raised again for the
queue to retry)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar, cast

from flask import Flask, current_app
from rq import get_current_job
from sqlalchemy.orm import Session

from service.config import Config
from service.domain.ports import Ports, RunningJob, running_job
from service.extensions import db

Row = TypeVar("Row")
# what a job keeps when it fails: (its session, the error, whether the queue retries no more)
FailureRecord = Callable[[Session, Exception, bool], None]


def commit_step(session: Session) -> None:
    """Commit a step of a job that ends with a commit of its own (the usual, synchronous one).

    On PostgreSQL the step does not wait for its write-ahead log to reach the disk: it is
    committed, and seen by every other transaction, at once, and made durable by the WAL
    writer within a fraction of a second, or sooner by any later synchronous commit (the log
    is flushed in order, so the job's last commit flushes its steps). Only a crash of the
    database server in that window can forget a step; the job then runs again from its
    stored message (the sweeper takes back its row), and every outside action taken after
    the step (Rocket.Chat's visitor, room, post, tags, forward) is one the real server
    repeats without doubling anything (jobs/routing.py's module docstring); a file's upload,
    which it does not repeat safely, is recorded by a synchronous commit of its own
    (jobs/files.py), which flushes the steps before it. So nothing outside relies on a step
    being remembered, which is the chapter's condition for an asynchronous commit. It saves
    the routing job a disk flush per step (docs/PERFORMANCE.md). SQLite commits as usual."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        # PostgreSQL's asynchronous commit for this transaction only (its "Asynchronous
        # Commit" chapter, wal-async-commit.html; SET LOCAL ends with the transaction), as
        # plain SQL on the session's connection (no ORM execution around a constant)
        connection.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
    session.commit()


class JobLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """A logger stamped with the job's id and ids, merged with each line's own extra."""

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        kwargs["extra"] = {**(self.extra or {}), **kwargs.get("extra", {})}
        return msg, kwargs


@dataclass
class JobRun:
    """What a job works with: its app, session, the ports, its logger, and how it ended."""

    app: Flask
    session: Session
    ports: Ports
    log: JobLog
    outcome: str = "done"
    extra: dict[str, object] = field(default_factory=dict)  # for the job's closing line

    def now(self) -> datetime:
        """The time, from the ports' one clock (tests move it)."""
        return self.ports.clock.now()

    def done(self, outcome: str, **extra: object) -> str:
        """End with *outcome* (returned), and *extra* on the closing line."""
        self.outcome = outcome
        self.extra.update(extra)
        return outcome

    def claim(
        self, take: Callable[[Session, datetime], Row | None], *, commit: bool = True
    ) -> Row | None:
        """Take the job's row with *take* (a compare-and-set at the clock's time) and commit
        the claim at once (or, with ``commit=False``, with the job's next commit); None, and
        the outcome ``skipped``, when another job holds the row or it needs nothing more."""
        row = take(self.session, self.now())
        if commit or row is None:
            self.session.commit()
        if row is None:
            self.outcome = "skipped"
        return row

    @contextmanager
    def recording_failures(self, record: FailureRecord) -> Iterator[None]:
        """An error raised inside the block: roll back, *record* it on the row (told whether
        the queue will retry), commit that, and raise it again for the queue."""
        try:
            yield
        except Exception as exc:
            self.session.rollback()
            try:
                record(self.session, exc, last_attempt())
                self.session.commit()
            except Exception:  # the database is away too: the sweep finds the row later
                self.session.rollback()
                self.log.warning("failure not recorded", exc_info=True)
            raise


@contextmanager
def run(name: str, *, level: int = logging.INFO, **ids: object) -> Iterator[JobRun]:
    """One job: a fresh app context and session, the ports, a logger stamped with the job id
    and *ids*, and one line when it ends (its outcome and duration, or the error: a warning
    when the queue retries it, an error with the traceback after the last attempt)."""
    started = time.perf_counter()
    with job_context() as app:
        job = JobRun(
            app,
            db.session(),
            ports(),
            JobLog(logging.getLogger(f"carteras.jobs.{name}"), {"job_id": current_job_id(), **ids}),
        )
        try:
            yield job
        except Exception as exc:
            job.session.rollback()
            final = last_attempt()
            job.log.log(
                logging.ERROR if final else logging.WARNING,
                f"{name} failed" if final else f"{name} failed; retried",
                exc_info=final,
                extra={
                    "error": repr(exc)[:300],
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
            raise
        job.log.log(
            level,
            f"{name} {job.outcome}",
            extra={
                **job.extra,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            },
        )


@contextmanager
def job_context() -> Iterator[Flask]:
    """Push a new app context on the app of the caller (worker CLI, the in-process queue's
    thread, or the caller of an inline job); its teardown removes the job's session."""
    app = cast(Flask, current_app._get_current_object())  # type: ignore[attr-defined]
    with app.app_context():
        yield app


def ports() -> Ports:
    return cast(Ports, current_app.extensions["ports"])


def settings() -> Config:
    return cast(Config, current_app.config["CARTERAS"])


def _running() -> RunningJob | None:
    job = get_current_job()
    if job is not None:
        return RunningJob(job.id, job.retries_left or 0)
    return running_job.get()  # the in-process queue's job, if any


def last_attempt() -> bool:
    """True when the queue will not retry the current job after this run."""
    job = _running()
    return job is None or not job.retries_left


def current_job_id() -> str | None:
    job = _running()
    return job.id if job is not None else None
