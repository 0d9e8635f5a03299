"""How a job runs inside the app: a fresh app context (so a fresh session) per job."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

from flask import Flask, current_app
from rq import get_current_job
from sqlalchemy.orm import Session

from service.config import Config
from service.domain.ports import Ports, RunningJob, running_job
from service.extensions import db


class JobLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """A logger stamped with the job's id and ids, merged with each line's own extra."""

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        kwargs["extra"] = {**(self.extra or {}), **kwargs.get("extra", {})}
        return msg, kwargs


@dataclass
class JobRun:
    """What a job works with: its session, the ports, its logger, and how it ended."""

    session: Session
    ports: Ports
    log: JobLog
    outcome: str = "done"


@contextmanager
def run(name: str, *, level: int = logging.INFO, **ids: object) -> Iterator[JobRun]:
    """One job: a fresh app context and session, the ports, a logger stamped with the job id
    and *ids*, and one line when it ends (its outcome and duration, or the traceback)."""
    started = time.perf_counter()
    with job_context():
        job = JobRun(
            db.session(),
            ports(),
            JobLog(logging.getLogger(f"carteras.jobs.{name}"), {"job_id": current_job_id(), **ids}),
        )
        try:
            yield job
        except Exception:
            job.log.exception(f"{name} failed")
            raise
        job.log.log(
            level,
            f"{name} {job.outcome}",
            extra={"duration_ms": round((time.perf_counter() - started) * 1000, 2)},
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
