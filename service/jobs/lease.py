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
import os
import threading
import time
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
        self.failing = False  # the last renewal could not reach the database

    def renew(self) -> bool:
        """Renew the claim once (its own session: the job's transaction is not touched);
        False when the row is no longer this attempt's."""
        try:
            with self.app.app_context():
                kept = intake.renew_lease(
                    db.session(), self.inbox_id, self.attempt, self.clock.now()
                )
                db.session.commit()
        except Exception as exc:  # the database is away: the job's own steps will say so
            if not self.failing:
                log.warning(
                    "lease not renewed",
                    extra={"inbox_id": self.inbox_id, "error": repr(exc)[:300]},
                )
            self.failing = True
            return True
        self.failing = False
        return kept


class _Renewer:
    """One daemon thread per process renews every lease held in it, each every third of its
    length (a thread per job cost a start and a join on every message)."""

    def __init__(self) -> None:
        self._start()
        # A forked child has no renewer thread, and may hold a copy of a taken lock.
        os.register_at_fork(after_in_child=self._start)

    def _start(self) -> None:
        self._lock = threading.Lock()
        self._due: dict[Lease, float] = {}  # lease -> when to renew it (time.monotonic)
        self._wake = threading.Event()
        self._awake_at = 0.0  # when the thread looks at the leases next (time.monotonic)
        self._thread: threading.Thread | None = None

    def add(self, lease: Lease) -> None:
        with self._lock:
            due = self._due[lease] = time.monotonic() + lease.every
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, daemon=True, name="lease-renewer")
                self._thread.start()
            # Woken only when this lease is due before the thread looks again: usually it
            # looks sooner (the lease of the job before this one was due earlier), and a
            # wake-up per job would cost a thread switch per message.
            wake = due < self._awake_at
        if wake:
            self._wake.set()

    def remove(self, lease: Lease) -> None:
        with self._lock:
            self._due.pop(lease, None)

    def _next(self) -> tuple[list[Lease], float]:
        """The leases due now, and how long until the next one is (60 s with none)."""
        with self._lock:
            now = time.monotonic()
            due = [lease for lease, at in self._due.items() if at <= now]
            for lease in due:
                self._due[lease] = now + lease.every
            later = min(self._due.values(), default=now + 60)
            self._awake_at = now if due else later
        return due, max(later - now, 0.0)

    def _run(self) -> None:
        while True:
            self._wake.clear()  # before looking: a lease added from now on wakes the wait
            due, wait = self._next()
            for lease in due:
                if lease.renew():
                    continue
                with self._lock:  # lost while its job still holds it (not just ended)
                    still_held = self._due.pop(lease, None) is not None
                if still_held:
                    lease.lost = True
                    log.warning(
                        "lease lost; another attempt may run this message",
                        extra={"inbox_id": lease.inbox_id, "attempt": lease.attempt},
                    )
            if not due:
                self._wake.wait(wait)


_RENEWER = _Renewer()


@contextmanager
def held(app: Flask, inbox_id: int, attempt: int, seconds: float, clock: Clock) -> Iterator[Lease]:
    """Renew the claim of *attempt* on row *inbox_id* at *clock*'s time every
    ``seconds / 3`` while the block runs (by the process's renewer thread, with its own
    session, so the job's transaction is not touched)."""
    lease = Lease(app, inbox_id, attempt, seconds, clock)
    _RENEWER.add(lease)
    try:
        yield lease
    finally:
        _RENEWER.remove(lease)
