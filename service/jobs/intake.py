"""The job run for each stored inbound message: resolve (or create) its contact, then
route it (jobs.routing). The row ends ``processed`` or, after the last retry, ``failed``
with the error kept for a replay."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from service.domain import intake, ordering
from service.domain.ports import ChatPlatformWait
from service.jobs import lease, routing, runtime
from service.jobs.enqueue import enqueue_inbox, schedule_fallback, schedule_inbox
from service.models import InboxMessage

WAIT_WITHOUT_TIME = timedelta(seconds=30)  # Rocket.Chat asked to wait without saying until when


def _wait(job: runtime.JobRun, inbox_id: int, wait: ChatPlatformWait) -> str:
    """Rocket.Chat asked us to wait: the row waits with its reason, and is tried again at the
    time the server gave (the sweeper too, should the scheduled job be lost). A wait never
    uses up the retries that real errors have."""
    session, now = job.session, job.now()
    until = max(wait.retry_at, now) if wait.retry_at else now + WAIT_WITHOUT_TIME
    row = session.get(InboxMessage, inbox_id)
    if row is None:
        return job.done("skipped")
    intake.wait(session, row, until, f"waiting for Rocket.Chat: {wait.code or wait}", now)
    session.commit()
    schedule_inbox(inbox_id, until)
    return job.done("waiting", until=until.isoformat(), code=wait.code)


def process_inbox(inbox_id: int) -> str:
    """Claim the row (once), resolve its contact, route it, mark it processed. Returns the
    outcome: processed, deferred (an earlier message of its thread goes first), waiting
    (Rocket.Chat asked to), or skipped (another job has it, or it is done)."""
    with runtime.run("inbox", inbox_id=inbox_id) as job:
        session = job.session
        # Order (domain rule 8): an earlier message of the thread still on its way holds this
        # one back; its own job hands this one on when it goes through. The thread's lock,
        # the claim and that check share one transaction (one commit).
        ordering.lock_thread_of(session, inbox_id)
        claimed = job.claim(lambda s, now: ordering.claim(s, inbox_id, now), commit=False)
        if claimed is None:
            return job.outcome
        row, held_by = claimed  # held back by an earlier message of its thread, if any

        def failed(session: Session, exc: Exception, final: bool) -> None:
            # retried by the queue (``queued``: the sweep re-enqueues it should Redis forget
            # the retry), or ``failed`` after the last try, kept for a replay
            kept = session.get(InboxMessage, inbox_id)
            if kept is not None:
                status = "failed" if final else "queued"
                intake.finish(session, kept, status, job.now(), error=repr(exc)[:2000])

        with job.recording_failures(failed):
            if held_by is not None:
                ordering.defer(row, held_by, job.now())
                session.commit()
                return job.done("deferred", after=held_by)
            runtime.commit_step(session)  # the job's last commit makes the claim durable
            # renewed while this job runs; the sweeper takes the row back if the worker dies
            lease_seconds = runtime.settings().processing_lease
            with lease.held(job.app, inbox_id, row.attempts, lease_seconds, job.ports.clock):
                try:
                    contact, created = intake.resolve_contact(session, row)
                    contact_id = contact.id if contact is not None else None
                    if created:  # a new contact is kept even if routing fails below
                        row.contact_id = contact_id
                        runtime.commit_step(session)
                    routed = routing.route(session, row, contact, job.ports, job.now())
                    with session.no_autoflush:  # the row is written once, under the lock
                        ordering.lock_thread(session, row)
                    row.contact_id = contact_id
                    # the conversation's changes are written with the row's end (one round trip)
                    successor = ordering.finish(
                        session, row, job.now(), routed.conversation if routed else None
                    )
                    session.commit()
                except ChatPlatformWait as exc:
                    session.rollback()
                    return _wait(job, inbox_id, exc)
        if routed is not None and routed.fallback_at is not None:
            # the forward to the owner is committed: its fallback may run
            schedule_fallback(routed.conversation.id, routed.fallback_at)
        if successor is not None:
            enqueue_inbox([successor], replace_started=True)
        if routed is not None and routed.created:
            routing.emit_badge(session, routed.conversation, job.ports)
        return job.done(
            "processed",
            kind=row.kind,
            contact_created=created,
            conversation_id=routed.conversation.id if routed else None,
            reason=routed.conversation.reason if routed and routed.created else None,
        )
