"""The job run for each stored inbound message: resolve (or create) its contact, then
route it (jobs.routing). The row ends ``processed`` or, after the last retry, ``failed``
with the error kept for a replay."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from sqlalchemy.orm import Session

from service.domain import intake, ordering
from service.domain.ports import ChatPlatformWait
from service.extensions import db
from service.jobs import lease, routing
from service.jobs.enqueue import enqueue_inbox, schedule_inbox
from service.jobs.runtime import current_job_id, job_context, last_attempt, ports, settings
from service.models import InboxMessage
from service.models.types import utcnow

log = logging.getLogger(__name__)


def _wait(session: Session, inbox_id: int, wait: ChatPlatformWait) -> str:
    """Rocket.Chat asked us to wait: the row waits with its reason, and is tried again at the
    time the server gave (the sweeper too, should the scheduled job be lost). A wait never
    uses up the retries that real errors have."""
    now = utcnow()
    until = max(wait.retry_at, now) if wait.retry_at else now + timedelta(seconds=30)
    row = session.get(InboxMessage, inbox_id)
    if row is None:
        return "skipped"
    intake.wait(session, row, until, f"waiting for Rocket.Chat: {wait.code or wait}", now)
    session.commit()
    schedule_inbox(inbox_id, until)
    log.info(
        "inbox job waits",
        extra={"inbox_id": inbox_id, "until": until.isoformat(), "code": wait.code},
    )
    return "waiting"


def process_inbox(inbox_id: int) -> str:
    """Claim the row (once), resolve its contact, mark it processed. Returns the outcome."""
    started = time.perf_counter()
    with job_context() as app:
        session = db.session()
        row = intake.claim(session, inbox_id, utcnow())
        session.commit()
        if row is None:
            log.info("inbox job skipped", extra={"inbox_id": inbox_id, "job_id": current_job_id()})
            return "skipped"
        wired = ports()
        # Order (domain rule 8): an earlier message of the thread still on its way holds this
        # one back; its own job hands this one on when it goes through.
        ordering.lock_thread(session, row)
        held_by = ordering.blocker(session, row)
        if held_by is not None:
            ordering.defer(row, held_by, utcnow())
            session.commit()
            log.info("inbox job deferred", extra={"inbox_id": inbox_id, "after": held_by})
            return "deferred"
        session.commit()
        # renewed while this job runs; the sweeper takes the row back if the worker dies
        with lease.held(app, inbox_id, row.attempts, settings().processing_lease):
            try:
                contact, created = intake.resolve_contact(session, row)
                row.contact_id = contact.id if contact is not None else None
                if created:  # a new contact is kept even if routing fails below
                    session.commit()
                routed = routing.route(session, row, contact, wired, wired.clock.now())
                ordering.lock_thread(session, row)
                intake.finish(session, row, "processed", utcnow())
                successor = ordering.next_deferred(session, row)
                session.commit()
            except ChatPlatformWait as exc:
                session.rollback()
                return _wait(session, inbox_id, exc)
            except Exception as exc:
                session.rollback()
                failed = session.get(InboxMessage, inbox_id)
                if failed is not None:
                    status = "failed" if last_attempt() else "queued"
                    intake.finish(session, failed, status, utcnow(), error=repr(exc)[:2000])
                    session.commit()
                log.exception(
                    "inbox job failed", extra={"inbox_id": inbox_id, "job_id": current_job_id()}
                )
                raise
        if successor is not None:
            enqueue_inbox([successor], replace_started=True)
        if routed is not None and routed.created:
            routing.emit_badge(session, routed.conversation, wired)
        log.info(
            "inbox job done",
            extra={
                "inbox_id": inbox_id,
                "job_id": current_job_id(),
                "kind": row.kind,
                "contact_created": created,
                "conversation_id": routed.conversation.id if routed else None,
                "reason": routed.conversation.reason if routed and routed.created else None,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            },
        )
        return "processed"
