"""Re-enqueue what the queue never got (Redis was down) or lost (a worker died mid-job),
and replay failed messages on request."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from service.domain import intake
from service.extensions import db
from service.jobs.enqueue import enqueue_inbox
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


def replay(inbox_ids: Sequence[int] | None = None) -> tuple[int, int]:
    """Put failed rows (these, or all of them) back in the queue: (reset, enqueued)."""
    session = db.session()
    wanted = list(inbox_ids) if inbox_ids is not None else intake.failed_ids(session)
    ids = intake.reset_for_replay(session, wanted, utcnow())
    db.session.commit()
    return len(ids), enqueue_inbox(ids)
