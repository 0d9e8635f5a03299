"""Re-enqueue what the queue never got (Redis was down) or lost (a worker died mid-job),
and replay failed messages on request."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from datetime import timedelta

from flask import Flask

from service.domain import conversations, intake, ordering, outbound
from service.domain.actor import Actor
from service.extensions import db
from service.jobs import presence
from service.jobs.enqueue import enqueue_fallbacks, enqueue_inbox, enqueue_replies
from service.jobs.runtime import ports, settings

log = logging.getLogger("carteras.sweeper")


def requeue_stale(
    grace: timedelta | None = None, lease: timedelta | None = None
) -> tuple[int, int]:
    """Enqueue every row left pending past *grace*, or processing with a lease not renewed
    for *lease* (defaults: ``CARTERAS_PENDING_GRACE``, ``CARTERAS_PROCESSING_LEASE``).

    Returns (found, enqueued); the difference stays pending when the queue is down.
    """
    ids = due_ids(grace, lease)
    # Nobody holds these rows, so a job still marked as started under their id is dead.
    return len(ids), enqueue_inbox(ids, replace_started=True)


def due_ids(grace: timedelta | None = None, lease: timedelta | None = None) -> list[int]:
    """The rows nobody works on that should be (what :func:`requeue_stale` enqueues), in
    order; processing rows whose lease lapsed are put back to pending on the way."""
    config = settings()
    now, session = ports().clock.now(), db.session()
    grace = timedelta(seconds=config.pending_grace) if grace is None else grace
    ids = intake.stale_ids(
        session,
        now,
        grace=grace,
        lease=timedelta(seconds=config.processing_lease) if lease is None else lease,
    )
    # deferred behind an earlier message that went through without handing them on
    ids = sorted({*ids, *ordering.stalled_ids(session, now, grace)})
    db.session.commit()
    return ids


def fallback_overdue() -> int:
    """Enqueue the owner fallback of every conversation whose owner wait is over (the
    scheduled job's safety net, and the only trigger on the embedded default)."""
    now = ports().clock.now()
    ids = conversations.overdue(db.session(), now)
    db.session.commit()
    return enqueue_fallbacks(ids)


def sweep() -> tuple[int, int, int]:
    """One round of the periodic sweep: (pending found, enqueued, fallbacks enqueued)."""
    found, enqueued = requeue_stale()
    return found, enqueued, fallback_overdue()


def replay(inbox_ids: Sequence[int] | None = None) -> tuple[int, int]:
    """Put failed rows (these, or all of them) back in the queue: (reset, enqueued)."""
    session = db.session()
    wanted = list(inbox_ids) if inbox_ids is not None else intake.failed_ids(session)
    ids = intake.reset_for_replay(session, wanted, ports().clock.now())
    db.session.commit()
    return len(ids), enqueue_inbox(ids)


def skip(inbox_id: int, actor: Actor) -> int | None:
    """Give up on a failed message (audited) and hand on the next message of its thread;
    returns that message's id, if any."""
    session = db.session()
    row = ordering.skip(session, actor, inbox_id, ports().clock.now())
    successor = ordering.next_deferred(session, row)
    session.commit()
    if successor is not None:
        enqueue_inbox([successor], replace_started=True)
    return successor


def run_every(app: Flask, seconds: float, stop: threading.Event) -> None:
    """Sweep every *seconds* until *stop* is set (the worker's thread, or the web process's
    on the embedded default, where no worker runs). A database or Redis outage never ends
    the loop: it is logged once when it starts and once when it is over."""
    failing = False
    next_presence = 0.0
    while not stop.wait(seconds):
        try:
            with app.app_context():
                found, enqueued, fallbacks = sweep()
                if time.monotonic() >= next_presence:
                    # which agents Rocket.Chat shows available (External Service routing)
                    next_presence = time.monotonic() + settings().presence_interval
                    presence.refresh_presence()
        except Exception as exc:
            if not failing:
                log.warning(
                    "sweep failed; retrying every %s s",
                    seconds,
                    exc_info=True,
                    extra={"error": repr(exc)[:300]},
                )
            failing = True
            continue
        if failing:
            log.info("sweep working again")
            failing = False
        if found or fallbacks:
            log.info("sweep", extra={"found": found, "enqueued": enqueued, "fallbacks": fallbacks})


def start_in_background(app: Flask, seconds: float) -> threading.Event:
    """Sweep every *seconds* in a daemon thread; set the returned event to stop it."""
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
