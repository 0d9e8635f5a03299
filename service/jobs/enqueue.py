"""The only jobs API the edges use: hand stored rows to the queue after the commit."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from service.domain.ports import QueueUnavailable
from service.jobs.runtime import ports

log = logging.getLogger(__name__)

# The one place that knows where each job's function lives and how its jobs are named: a
# job id makes a job unique in the queue (a second enqueue of a live one adds nothing).
PROCESS_INBOX = "service.jobs.intake.process_inbox"
OWNER_FALLBACK = "service.jobs.routing.owner_fallback"
REFORWARD = "service.jobs.routing.reforward"
SEND_REPLY = "service.jobs.relay.send_reply"


def inbox_job_id(inbox_id: int) -> str:
    return f"inbox-{inbox_id}"


def fallback_job_id(conversation_id: int) -> str:
    return f"fallback-{conversation_id}"


def schedule_inbox(inbox_id: int, when: datetime) -> bool:
    """Try the message again at *when* (a wait Rocket.Chat asked for); False when the queue
    is away (the sweep finds the row when its time has come)."""
    try:
        ports().jobs.enqueue_at(
            when,
            "routing",
            PROCESS_INBOX,
            inbox_id,
            # not the running job's id: the job that schedules this still runs under it
            job_id=f"{inbox_job_id(inbox_id)}-at-{int(when.timestamp())}",
        )
    except QueueUnavailable:
        log.warning("wait not scheduled; the sweep will find it", extra={"inbox_id": inbox_id})
        return False
    return True


def schedule_fallback(conversation_id: int, when: datetime) -> bool:
    """Hand the conversation to the team at *when* unless its owner takes it; False when the
    queue is away (the sweep finds overdue conversations)."""
    try:
        ports().jobs.enqueue_at(
            when,
            "routing",
            OWNER_FALLBACK,
            conversation_id,
            job_id=fallback_job_id(conversation_id),
        )
    except QueueUnavailable:
        log.warning(
            "fallback not scheduled; the sweep will find it",
            extra={"conversation_id": conversation_id},
        )
        return False
    return True


def enqueue_fallbacks(conversation_ids: Sequence[int]) -> int:
    """Queue the owner fallback of overdue conversations now; how many were queued."""
    done = 0
    for conversation_id in conversation_ids:
        try:
            ports().jobs.enqueue(
                "routing", OWNER_FALLBACK, conversation_id, job_id=fallback_job_id(conversation_id)
            )
        except QueueUnavailable:
            break
        done += 1
    return done


def enqueue_inbox(inbox_ids: Sequence[int], *, replace_started: bool = False) -> int:
    """Queue one routing job per inbox row; returns how many new jobs were queued.

    *replace_started* (the sweeper): nobody holds these rows, so a job still marked as
    started under their id died with its worker and is replaced.

    When the queue is down the rows stay ``pending`` and the sweeper enqueues them later,
    so the caller (a webhook that already committed) still answers 200.
    """
    handed: list[int] = []
    for inbox_id in inbox_ids:
        try:
            fresh = ports().jobs.enqueue(
                "routing",
                PROCESS_INBOX,
                inbox_id,
                job_id=inbox_job_id(inbox_id),
                replace_started=replace_started,
            )
        except QueueUnavailable as exc:
            log.warning(
                "queue unavailable; rows stay pending for the sweeper",
                extra={"pending": len(inbox_ids) - len(handed), "error": str(exc)[:200]},
            )
            break
        except Exception:
            # The rows are committed: never turn this into an error for the platform.
            log.exception("enqueue failed; rows stay pending for the sweeper")
            break
        if fresh:  # False: its job is already waiting in the queue
            handed.append(inbox_id)
    # No second write to mark the rows "queued": the job id is unique, and the sweeper only
    # touches rows still pending after its grace period, so the webhook stays one commit.
    return len(handed)


def enqueue_reforwards(conversation_ids: Sequence[int]) -> int:
    """Queue the re-forward of open conversations after a handover."""
    done = 0
    for conversation_id in conversation_ids:
        try:
            ports().jobs.enqueue(
                "routing",
                REFORWARD,
                conversation_id,
                job_id=f"reforward-{conversation_id}",
            )
        except QueueUnavailable:
            log.warning("reforward not queued", extra={"conversation_id": conversation_id})
            break
        done += 1
    return done


def enqueue_replies(outbound_ids: Sequence[int]) -> int:
    """Queue the sending of agents' replies (queue ``relay``)."""
    done = 0
    for outbound_id in outbound_ids:
        try:
            ports().jobs.enqueue("relay", SEND_REPLY, outbound_id, job_id=f"reply-{outbound_id}")
        except QueueUnavailable:
            log.warning("reply not queued; replay it later", extra={"outbound_id": outbound_id})
            break
        done += 1
    return done
