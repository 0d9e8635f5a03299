"""How a job runs inside the app: a fresh app context (so a fresh session) per job."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import cast

from flask import Flask, current_app
from rq import get_current_job

from service.config import Config
from service.domain.ports import Ports, RunningJob, running_job


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
