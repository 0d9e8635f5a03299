"""Replies back to the channel: one outbound row per agent message (idempotent), what to
send and where, and the claim that makes each row go out once."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from typing import Any, Final

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from service.domain import media
from service.domain.access import require_all_carteras
from service.domain.actor import Actor
from service.domain.identity import BadAddress, normalize_email
from service.domain.intake import insert_or_skip
from service.domain.pagination import Page, paginate
from service.domain.ports import ChannelRejected, Reply, Template
from service.models import Conversation, InboxMessage, OutboundMessage

EMAIL_PROVIDERS: Final = frozenset({"mailgun", "postmark", "sendgrid"})
RELAYED: Final = frozenset({"meta", "twilio"}) | EMAIL_PROVIDERS
# "Display Name <addr>" with exactly one angle address, or a bare address.
_ANGLE_ADDRESS: Final = re.compile(r"[^<>]*<([^<>]+)>")
_MESSAGE_ID: Final = re.compile(r"[\x21-\x7e]{1,250}")
_BREAKS: Final = re.compile(r"[\s\x00-\x1f\x7f-\x9f\u2028\u2029]+")
MAX_REFERENCES: Final = 20
MAX_SUBJECT: Final = 250


def reply_address(raw: str) -> str:
    """The one email address a reply goes to, from the sender as the customer's mail gave it.

    Anything else than one address (a list, a second angle address, a line break that would
    start another header) is refused, never split into several recipients.

    :raise ChannelRejected: *raw* is not exactly one valid email address.
    """
    text = raw.strip()
    if any(unicodedata.category(char)[0] == "C" for char in text):
        raise ChannelRejected("the customer's address has control characters")
    angle = _ANGLE_ADDRESS.fullmatch(text)
    try:
        return normalize_email(angle.group(1) if angle else text)
    except BadAddress:
        raise ChannelRejected("the customer's address is not one valid email address") from None


def _header_text(value: object, limit: int) -> str:
    """Header text on one line: control characters and line breaks become one space, a
    lone surrogate "?"."""
    text = str(value or "").encode("utf-8", "replace").decode("utf-8")
    return " ".join(_BREAKS.sub(" ", text).split())[:limit]


def message_id(value: object) -> str | None:
    """A Message-ID fit for In-Reply-To/References: its first token, printable ASCII only."""
    token = _BREAKS.split(str(value or "").strip(), maxsplit=1)[0]
    return token if _MESSAGE_ID.fullmatch(token) else None


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


def reply_text(row: InboxMessage, files_base: str | None = None) -> str | None:
    """What the customer reads of an agent's message: its text (an edit marked as a
    correction, since channels cannot edit what was sent). Files go as files (``agent_file``);
    *files_base* is no longer used."""
    if not row.text:
        return None
    edited = row.kind.endswith("_edit")
    return f"Corrección: {row.text}" if edited else row.text


def agent_file(row: InboxMessage) -> dict[str, str] | None:
    """The agent's file (its server path, name and type), or None. An Omnichannel message
    carries one file at most (Rocket.Chat's sendMessage.ts refuses more, error-too-many-files);
    an edit resends its text only, never its file."""
    if row.kind.endswith("_edit"):
        return None
    for item in row.attachments or []:
        ref = str(item.get("ref") or "")
        if ref:
            name = str(item.get("name") or "archivo")[:255]
            mime = media.content_type(item.get("content_type"), name)
            return {"ref": ref[:1000], "name": name, "type": mime[:127]}
    return None


def record_reply(
    session: Session,
    row: InboxMessage,
    conversation: Conversation,
    now: datetime,
    files_base: str | None = None,
) -> int | None:
    """Store the agent's message (or its edit) with its file as a reply to send; None when
    there is nothing to relay (a Rocket.Chat-born chat, an empty message) or it was stored
    before."""
    text = reply_text(row)
    file = agent_file(row)
    if conversation.provider not in RELAYED or not (text or file):
        return None
    message = (row.payload.get("messages") or [{}])[-1]
    # one reply per Rocket.Chat message, and one per edit of it
    key = row.external_id.removeprefix("Message:") if row.kind.endswith("_edit") else None
    first = _channel_message(session, conversation.id, conversation.provider, newest=False)
    if first is None or not first.sender_raw:
        return None
    stmt = (
        insert_or_skip(session, OutboundMessage)
        .values(
            conversation_id=conversation.id,
            rc_message_id=(key or str(message.get("_id")))[:64],
            channel=conversation.channel,
            provider=conversation.provider,
            recipient=first.sender_value or first.sender_raw,
            text=text or "",
            agent_name=(message.get("u") or {}).get("name"),
            status="pending",
            attempts=0,
            created_at=now,
            updated_at=now,
            media_ref=file["ref"] if file else None,
            media_name=file["name"] if file else None,
            media_type=file["type"] if file else None,
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
    # Every value below came from the customer's mail: one line each, or left out.
    replied = message_id(headers.get("message-id") or last.external_id)
    subject = _header_text(payload.get("subject") or payload.get("Subject"), MAX_SUBJECT)
    ids = (message_id(x) for x in (last.thread_key, replied))
    references = tuple(dict.fromkeys(x for x in ids if x))[-MAX_REFERENCES:]
    return {
        "subject": subject if subject.lower().startswith("re:") else f"Re: {subject}",
        "in_reply_to": replied,
        "references": references,
    }


def reply_of(session: Session, outbound: OutboundMessage) -> Reply:
    """What to send, where from and with which threading headers.

    :raise ChannelRejected: an email conversation whose sender is not one valid address.
    """
    first = _channel_message(session, outbound.conversation_id, outbound.provider, newest=False)
    threading: dict[str, Any] = {}
    if outbound.provider in EMAIL_PROVIDERS and outbound.conversation_id is not None:
        threading = _email_threading(session, outbound.conversation_id, outbound.provider)
    to = outbound.recipient
    if outbound.provider in EMAIL_PROVIDERS:
        to = reply_address(to)
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
        template=Template(
            outbound.template_name,
            outbound.template_language or "es",
            tuple(str(p) for p in outbound.template_params or ()),
        )
        if outbound.template_name
        else None,
        **threading,
    )


def claim(session: Session, outbound_id: int, now: datetime) -> OutboundMessage | None:
    """pending|failed -> sending (compare-and-set): a reply goes out once."""
    result = session.execute(
        update(OutboundMessage)
        .where(OutboundMessage.id == outbound_id, OutboundMessage.status.in_(("pending", "failed")))
        .values(
            status="sending",
            attempts=OutboundMessage.attempts + 1,
            media_served_at=None,  # a new attempt signs a new link, served once
            updated_at=now,
        )
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
    require_all_carteras(actor)
    stmt = select(OutboundMessage).order_by(OutboundMessage.id.desc())
    if status:
        stmt = stmt.where(OutboundMessage.status == status)
    return paginate(session, stmt, page, per_page)


def media_of_link(session: Session, outbound_id: int, attempt: int) -> OutboundMessage | None:
    """The reply whose file a signed link names, while that link's send attempt is the
    reply's latest (a new attempt signs a new link) and it was not served yet."""
    row = session.get(OutboundMessage, outbound_id)
    if row is None or not row.media_ref or row.attempts != attempt or row.media_served_at:
        return None
    return row


def take_media_link(session: Session, outbound_id: int, attempt: int, now: datetime) -> bool:
    """Mark the link of this attempt as served (compare-and-set): True for the one caller
    that may serve the file, False for any other."""
    result = session.execute(
        update(OutboundMessage)
        .where(
            OutboundMessage.id == outbound_id,
            OutboundMessage.attempts == attempt,
            OutboundMessage.media_served_at.is_(None),
        )
        .values(media_served_at=now)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]
