"""How a job runs inside the app: a fresh app context (so a fresh session) per job."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import cast

from flask import Flask, current_app
from rq import get_current_job

from service.config import Config
from service.domain.ports import Ports


@contextmanager
def job_context() -> Iterator[Flask]:
    """Push a new app context on the app of the caller (worker CLI, or the request that ran
    the job in-process); its teardown removes the job's session."""
    app = cast(Flask, current_app._get_current_object())  # type: ignore[attr-defined]
    with app.app_context():
        yield app


def ports() -> Ports:
    return cast(Ports, current_app.extensions["ports"])


def settings() -> Config:
    return cast(Config, current_app.config["CARTERAS"])


def last_attempt() -> bool:
    """True when RQ will not retry the current job after this run."""
    job = get_current_job()
    return job is None or not job.retries_left


def current_job_id() -> str | None:
    job = get_current_job()
    return job.id if job is not None else None
