"""Leases on inbox rows: a job renews its row's claim while it runs, so the row of a worker
that died is taken again within a lease plus a sweep (20 s by default), not after minutes.

Why a lease renewed in the database rather than RQ's own recovery of abandoned jobs: RQ
notices a dead work-horse only once the job's execution heartbeat expires (the monitoring
interval plus a fixed 60 s) and then only at its next registry cleanup (every 10 minutes by
default), and a Redis restart forgets its registries altogether. What must not be lost is the
inbox row, which lives in the database, so its lease lives there too: the job renews it every
third of ``processing_lease`` from a thread, the sweeper takes back rows whose lease lapsed
(``intake.stale_ids``) and replaces their dead RQ job, and the claim's compare-and-set, fenced
by the attempt number, keeps one job on a row at a time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask

from service.domain import intake
from service.domain.ports import Clock
from service.extensions import db

log = logging.getLogger(__name__)


class Lease:
    """A row's claim, renewed in the background until the job leaves the ``with`` block."""

    def __init__(
        self, app: Flask, inbox_id: int, attempt: int, seconds: float, clock: Clock
    ) -> None:
        self.app = app
        self.clock = clock
        self.inbox_id = inbox_id
        self.attempt = attempt
        self.every = seconds / 3
        self.lost = False  # the sweeper took the row back: another attempt may run it
        self._stop = threading.Event()

    def _renew_until_stopped(self) -> None:
        failing = False
        while not self._stop.wait(self.every):
            try:
                with self.app.app_context():
                    kept = intake.renew_lease(
                        db.session(), self.inbox_id, self.attempt, self.clock.now()
                    )
                    db.session.commit()
            except Exception as exc:  # the database is away: the job's own steps will say so
                if not failing:
                    log.warning(
                        "lease not renewed",
                        extra={"inbox_id": self.inbox_id, "error": repr(exc)[:300]},
                    )
                failing = True
                continue
            failing = False
            if not kept:
                self.lost = True
                log.warning(
                    "lease lost; another attempt may run this message",
                    extra={"inbox_id": self.inbox_id, "attempt": self.attempt},
                )
                return


@contextmanager
def held(app: Flask, inbox_id: int, attempt: int, seconds: float, clock: Clock) -> Iterator[Lease]:
    """Renew the claim of *attempt* on row *inbox_id* at *clock*'s time every
    ``seconds / 3`` while the block runs (a daemon thread with its own session, so the job's
    transaction is not touched)."""
    lease = Lease(app, inbox_id, attempt, seconds, clock)
    thread = threading.Thread(
        target=lease._renew_until_stopped, daemon=True, name=f"lease-inbox-{inbox_id}"
    )
    thread.start()
    try:
        yield lease
    finally:
        lease._stop.set()
        thread.join(timeout=5)
