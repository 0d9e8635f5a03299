"""Re-enqueue what the queue never got (Redis was down) or lost (a worker died mid-job),
and replay failed messages on request."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from datetime import timedelta

from flask import Flask

from service.domain import conversations, intake, outbound
from service.domain.ports import QueueUnavailable
from service.extensions import db
from service.jobs.enqueue import enqueue_inbox, enqueue_replies
from service.jobs.runtime import ports
from service.models.types import utcnow

GRACE = timedelta(seconds=30)
LEASE = timedelta(minutes=10)


def requeue_stale(grace: timedelta = GRACE, lease: timedelta = LEASE) -> tuple[int, int]:
    """Enqueue every row left pending past *grace*, or processing past *lease*.

    Returns (found, enqueued); the difference stays pending when the queue is down.
    """
    ids = intake.stale_ids(db.session(), utcnow(), grace=grace, lease=lease)
    db.session.commit()
    return len(ids), enqueue_inbox(ids)


def fallback_overdue() -> int:
    """Enqueue the owner fallback of every conversation whose owner wait is over (the
    scheduled job's safety net, and the only trigger on the embedded default)."""
    now = ports().clock.now()
    ids = conversations.overdue(db.session(), now)
    db.session.commit()
    done = 0
    for conversation_id in ids:
        try:
            ports().jobs.enqueue(
                "routing",
                "service.jobs.routing.owner_fallback",
                conversation_id,
                job_id=f"fallback-{conversation_id}",
            )
        except QueueUnavailable:
            break
        done += 1
    return done


def sweep() -> tuple[int, int, int]:
    """One round of the periodic sweep: (pending found, enqueued, fallbacks enqueued)."""
    found, enqueued = requeue_stale()
    return found, enqueued, fallback_overdue()


def replay(inbox_ids: Sequence[int] | None = None) -> tuple[int, int]:
    """Put failed rows (these, or all of them) back in the queue: (reset, enqueued)."""
    session = db.session()
    wanted = list(inbox_ids) if inbox_ids is not None else intake.failed_ids(session)
    ids = intake.reset_for_replay(session, wanted, utcnow())
    db.session.commit()
    return len(ids), enqueue_inbox(ids)


def run_every(app: Flask, seconds: float, stop: threading.Event) -> None:
    """Sweep every *seconds* until *stop* is set (the worker's thread, or the web process's
    on the embedded default, where no worker runs)."""
    log = logging.getLogger("carteras.sweeper")
    while not stop.wait(seconds):
        try:
            with app.app_context():
                found, enqueued, fallbacks = sweep()
            if found or fallbacks:
                log.info(
                    "sweep", extra={"found": found, "enqueued": enqueued, "fallbacks": fallbacks}
                )
        except Exception:
            log.exception("sweep failed")


def start_in_background(app: Flask, seconds: float) -> threading.Event:
    stop = threading.Event()
    threading.Thread(
        target=run_every, args=(app, seconds, stop), daemon=True, name="carteras-sweeper"
    ).start()
    return stop


def replay_replies(outbound_ids: Sequence[int] | None = None) -> tuple[int, int]:
    """Send failed replies again (these, or all of them): (found, enqueued)."""
    ids = list(outbound_ids) if outbound_ids is not None else outbound.failed_ids(db.session())
    db.session.commit()
    return len(ids), enqueue_replies(ids)
