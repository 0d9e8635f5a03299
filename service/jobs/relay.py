"""Send an agent's reply to the customer on the conversation's channel, once."""

from __future__ import annotations

import logging

from service.domain import outbound
from service.domain.ports import ChannelRejected
from service.extensions import db
from service.jobs.runtime import current_job_id, job_context, last_attempt, ports
from service.models import OutboundMessage

log = logging.getLogger(__name__)


def send_reply(outbound_id: int) -> str:
    with job_context():
        session = db.session()
        row = outbound.claim(session, outbound_id)
        session.commit()
        if row is None:
            return "skipped"
        wired = ports()
        sender = wired.senders.get(outbound.sender_key(row.provider))
        try:
            if sender is None:
                raise ChannelRejected(f"no sender is configured for {row.provider}")
            provider_id = sender.send(outbound.reply_of(session, row))
        except Exception as exc:
            session.rollback()
            failed = session.get(OutboundMessage, outbound_id)
            if failed is not None:
                # a refusal will not change on retry: fail it now, keep it replayable
                final = isinstance(exc, ChannelRejected) or last_attempt()
                failed.status = "failed" if final else "pending"
                failed.last_error = repr(exc)[:2000]
                session.commit()
            log.warning(
                "reply not sent",
                extra={
                    "outbound_id": outbound_id,
                    "job_id": current_job_id(),
                    "error": type(exc).__name__,
                },
            )
            if isinstance(exc, ChannelRejected):
                return "rejected"
            raise
        row.status, row.provider_message_id = "sent", provider_id
        row.sent_at, row.last_error = wired.clock.now(), None
        session.commit()
        log.info(
            "reply sent",
            extra={
                "outbound_id": outbound_id,
                "provider": row.provider,
                "job_id": current_job_id(),
            },
        )
        return "sent"
