"""The job run for each stored inbound message: resolve (or create) its contact, then
route it (jobs.routing). The row ends ``processed`` or, after the last retry, ``failed``
with the error kept for a replay."""

from __future__ import annotations

import logging
import time

from service.domain import intake
from service.extensions import db
from service.jobs import lease, routing
from service.jobs.runtime import current_job_id, job_context, last_attempt, ports, settings
from service.models import InboxMessage
from service.models.types import utcnow

log = logging.getLogger(__name__)


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
        # renewed while this job runs; the sweeper takes the row back if the worker dies
        with lease.held(app, inbox_id, row.attempts, settings().processing_lease):
            try:
                contact, created = intake.resolve_contact(session, row)
                row.contact_id = contact.id if contact is not None else None
                if created:  # a new contact is kept even if routing fails below
                    session.commit()
                routed = routing.route(session, row, contact, wired, wired.clock.now())
                intake.finish(session, row, "processed", utcnow())
                session.commit()
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
