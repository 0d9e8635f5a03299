"""Replies back to the channel: one outbound row per agent message (idempotent), what to
send and where, and the claim that makes each row go out once."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from service.domain.access import require_manager
from service.domain.actor import Actor
from service.domain.intake import insert_or_skip
from service.domain.pagination import Page, paginate
from service.domain.ports import Reply
from service.models import Conversation, InboxMessage, OutboundMessage

EMAIL_PROVIDERS: Final = frozenset({"mailgun", "postmark", "sendgrid"})
RELAYED: Final = frozenset({"meta", "twilio"}) | EMAIL_PROVIDERS


def sender_key(provider: str) -> str:
    """Which sender answers a conversation from *provider* (one SMTP for every inbox)."""
    return "email" if provider in EMAIL_PROVIDERS else provider


def _channel_message(
    session: Session, conversation_id: int | None, provider: str, *, newest: bool
) -> InboxMessage | None:
    """The conversation's first or newest message from the customer's channel (not the
    Rocket.Chat events that joined the conversation too)."""
    order = InboxMessage.id.desc() if newest else InboxMessage.id
    return session.scalar(
        select(InboxMessage)
        .where(InboxMessage.conversation_id == conversation_id, InboxMessage.provider == provider)
        .order_by(order)
        .limit(1)
    )


def record_reply(
    session: Session, row: InboxMessage, conversation: Conversation, now: datetime
) -> int | None:
    """Store the agent's message from Rocket.Chat as a reply to send; None when there is
    nothing to relay (a Rocket.Chat-born chat, an empty message) or it was stored before."""
    if conversation.provider not in RELAYED or not row.text:
        return None
    message = (row.payload.get("messages") or [{}])[-1]
    first = _channel_message(session, conversation.id, conversation.provider, newest=False)
    if first is None or not first.sender_raw:
        return None
    stmt = (
        insert_or_skip(session, OutboundMessage)
        .values(
            conversation_id=conversation.id,
            rc_message_id=str(message.get("_id"))[:64],
            channel=conversation.channel,
            provider=conversation.provider,
            recipient=first.sender_value or first.sender_raw,
            text=row.text,
            agent_name=(message.get("u") or {}).get("name"),
            status="pending",
            attempts=0,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["rc_message_id"])
        .returning(OutboundMessage.id)
    )
    return session.execute(stmt).scalar()


def _email_threading(session: Session, conversation_id: int, provider: str) -> dict[str, Any]:
    last = _channel_message(session, conversation_id, provider, newest=True)
    if last is None:
        return {}
    payload = last.payload or {}
    headers = {
        str(h.get("Name", "")).lower(): h.get("Value")
        for h in payload.get("Headers") or []
        if isinstance(h, dict)
    }
    message_id = headers.get("message-id") or last.external_id
    subject = payload.get("subject") or payload.get("Subject") or ""
    references = tuple(dict.fromkeys(x for x in (last.thread_key, message_id) if x))
    return {
        "subject": subject if subject.lower().startswith("re:") else f"Re: {subject}",
        "in_reply_to": message_id,
        "references": references,
    }


def reply_of(session: Session, outbound: OutboundMessage) -> Reply:
    """What to send, where from and with which threading headers."""
    first = _channel_message(session, outbound.conversation_id, outbound.provider, newest=False)
    threading: dict[str, Any] = {}
    if outbound.provider in EMAIL_PROVIDERS and outbound.conversation_id is not None:
        threading = _email_threading(session, outbound.conversation_id, outbound.provider)
    to = outbound.recipient
    if outbound.provider in ("meta", "twilio") and first is not None and first.sender_raw:
        # the address exactly as the platform knows this person (WhatsApp's wa_id keeps
        # Mexico's "1"; Twilio's From without its "whatsapp:" prefix)
        to = first.sender_raw.removeprefix("whatsapp:")
    return Reply(
        reply_id=outbound.rc_message_id,
        channel=outbound.channel,
        provider=outbound.provider,
        to=to,
        text=outbound.text,
        sender=first.recipient if first is not None else None,
        **threading,
    )


def claim(session: Session, outbound_id: int) -> OutboundMessage | None:
    """pending|failed -> sending (compare-and-set): a reply goes out once."""
    result = session.execute(
        update(OutboundMessage)
        .where(OutboundMessage.id == outbound_id, OutboundMessage.status.in_(("pending", "failed")))
        .values(status="sending", attempts=OutboundMessage.attempts + 1)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return session.get(OutboundMessage, outbound_id, populate_existing=True)


def failed_ids(session: Session) -> list[int]:
    return list(
        session.scalars(
            select(OutboundMessage.id)
            .where(OutboundMessage.status == "failed")
            .order_by(OutboundMessage.id)
        )
    )


def list_outbox(
    session: Session, actor: Actor, status: str | None, page: int, per_page: int
) -> Page[OutboundMessage]:
    require_manager(actor)
    stmt = select(OutboundMessage).order_by(OutboundMessage.id.desc())
    if status:
        stmt = stmt.where(OutboundMessage.status == status)
    return paginate(session, stmt, page, per_page)
