"""The WhatsApp 24-hour window on replies: when a free-form reply can no longer go, and the
approved template a coordinator sends instead.

Must not import flask or any adapter.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.domain import audit, media
from service.domain.access import require_all_carteras
from service.domain.actor import Actor
from service.domain.errors import Conflict, Invalid, NotFound
from service.domain.intake import insert_or_skip
from service.models import InboxMessage, OutboundMessage

WINDOW_CLOSED = "window_closed"


def is_whatsapp(outbound: OutboundMessage) -> bool:
    return outbound.provider == "meta" or (
        outbound.provider == "twilio" and outbound.channel == "whatsapp"
    )


def last_customer_message_at(session: Session, outbound: OutboundMessage) -> datetime | None:
    """When this service received the customer's newest message of the conversation (on its
    own channel, not Rocket.Chat events). Received, not sent: the window counts from
    WhatsApp's delivery, and a redelivery days later still gets WhatsApp's own refusal."""
    if outbound.conversation_id is None:
        return None
    return session.scalar(
        select(InboxMessage.received_at)
        .where(
            InboxMessage.conversation_id == outbound.conversation_id,
            InboxMessage.provider == outbound.provider,
        )
        .order_by(InboxMessage.received_at.desc())
        .limit(1)
    )


def window_closed(session: Session, outbound: OutboundMessage, now: datetime) -> bool:
    """True when WhatsApp would refuse this reply as free-form (a template always goes)."""
    if not is_whatsapp(outbound) or outbound.template_name:
        return False
    return not media.window_open(last_customer_message_at(session, outbound), now)


def send_template(
    session: Session,
    actor: Actor,
    outbound_id: int,
    *,
    name: str,
    language: str,
    parameters: Sequence[str],
    approved: Sequence[tuple[str, str]],
    now: datetime,
) -> OutboundMessage:
    """Queue an approved template instead of a reply WhatsApp refused for the closed window.
    The same template for the same reply is one row (a repeated request returns it).

    :raise Forbidden: not a manager with every cartera (the outbox is the service's own).
    :raise NotFound: no such reply.
    :raise Conflict: the reply was not refused for the closed window, or is not WhatsApp
        Cloud API (Twilio sends templates as Content SIDs).
    :raise Invalid: *name*/*language* is not among the approved templates.
    """
    require_all_carteras(actor)
    refused = session.get(OutboundMessage, outbound_id)
    if refused is None:
        raise NotFound("No such reply in the outbox.", {"id": outbound_id})
    if refused.provider != "meta":
        raise Conflict(
            "Templates are sent through the WhatsApp Cloud API only.",
            {"provider": refused.provider},
        )
    if refused.error_code != WINDOW_CLOSED:
        raise Conflict(
            "Only a reply refused for the closed 24-hour window is replaced by a template.",
            {"status": refused.status, "error_code": refused.error_code},
        )
    if (name, language) not in set(approved):
        raise Invalid(
            "Not an approved template (CARTERAS_WHATSAPP_TEMPLATES).",
            {"approved": [f"{n}:{lang}" for n, lang in approved]},
        )
    params = [str(p) for p in parameters]
    digest = hashlib.sha256(json.dumps([name, language, params]).encode()).hexdigest()[:16]
    key = f"template:{refused.id}:{digest}"
    stmt = (
        insert_or_skip(session, OutboundMessage)
        .values(
            conversation_id=refused.conversation_id,
            rc_message_id=key,
            channel=refused.channel,
            provider=refused.provider,
            recipient=refused.recipient,
            text=f"[plantilla {name} ({language})]",
            agent_name=actor.name,
            status="pending",
            attempts=0,
            created_at=now,
            updated_at=now,
            template_name=name,
            template_language=language,
            template_params=params,
            replaces_id=refused.id,
        )
        .on_conflict_do_nothing(index_elements=["rc_message_id"])
        .returning(OutboundMessage.id)
    )
    created = session.execute(stmt).scalar()
    row = session.scalars(select(OutboundMessage).where(OutboundMessage.rc_message_id == key)).one()
    if created is not None:
        audit.record(
            session,
            actor,
            "created",
            "outbox",
            row.id,
            f"plantilla {name}",
            after={"template": name, "language": language, "replaces": refused.id},
            now=now,
        )
    return row
