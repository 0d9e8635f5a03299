"""Meta WhatsApp Cloud API: verification handshake, X-Hub-Signature-256, notifications.

Pure code: must not import Flask, werkzeug or the database.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from service.domain import attachments
from service.domain.messages import Attachment, Delivery, Identity, InboundMessage, StatusUpdate
from webhooks.inbound import (
    InboundRequest,
    PayloadError,
    SignatureError,
    as_dict,
    as_list,
    load_json,
    shape_checked,
)
from webhooks.signatures import hmac_hex, same

PROVIDER = "meta"
MEDIA_TYPES = ("image", "audio", "video", "document", "sticker")


def handshake(query: dict[str, str], verify_token: str) -> str:
    """The challenge to echo when Meta checks the webhook URL.

    :raise SignatureError: wrong mode or token (answer 403).
    """
    if query.get("hub.mode") != "subscribe" or not same(
        query.get("hub.verify_token"), verify_token
    ):
        raise SignatureError("the verify token does not match")
    challenge = query.get("hub.challenge", "")
    if not challenge:
        raise PayloadError("hub.challenge is missing")
    return challenge


def verify(req: InboundRequest, app_secret: str) -> None:
    """``X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, raw body)>``.

    :raise SignatureError: missing or wrong signature.
    """
    header = req.header("X-Hub-Signature-256") or ""
    algorithm, _, given = header.partition("=")
    if algorithm != "sha256" or not same(given.strip().lower(), hmac_hex(app_secret, req.raw)):
        raise SignatureError("X-Hub-Signature-256 is missing or wrong")


def _timestamp(value: Any) -> datetime:
    try:
        return datetime.fromtimestamp(int(value), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        raise PayloadError(f"bad timestamp {value!r}") from None


def _text(message: dict[str, Any]) -> str | None:
    kind = message.get("type")
    body = as_dict(message.get(str(kind)))
    if kind == "text":
        return str(body.get("body", "")) or None
    if kind in MEDIA_TYPES:
        return body.get("caption") or None
    if kind == "interactive":
        reply = body.get("button_reply") or body.get("list_reply") or {}
        return reply.get("title") or None
    if kind == "button":
        return body.get("text") or None
    if kind == "reaction":
        return body.get("emoji") or None
    if kind == "location":
        return attachments.location(body)
    if kind == "contacts":
        cards = message.get("contacts")
        return attachments.contact_cards(cards if isinstance(cards, list) else []) or None
    if kind == "system":
        return body.get("body") or None
    return None


def _attachments(message: dict[str, Any]) -> tuple[Attachment, ...]:
    kind = message.get("type")
    body = message.get(str(kind))
    if kind not in MEDIA_TYPES or not isinstance(body, dict):
        return ()
    return (
        Attachment(
            name=body.get("filename"),
            content_type=body.get("mime_type"),
            ref=f"whatsapp-media:{body.get('id')}" if body.get("id") else None,
            sha256=body.get("sha256"),
            caption=body.get("caption"),
        ),
    )


def _message(message: dict[str, Any], value: dict[str, Any]) -> InboundMessage:
    sender = str(message.get("from") or "")
    message_id = message.get("id")
    if not sender or not message_id:
        raise PayloadError("a message lacks 'from' or 'id'")
    names = {
        str(c.get("wa_id")): (c.get("profile") or {}).get("name")
        for c in as_list(value.get("contacts"))
        if isinstance(c, dict)
    }
    metadata = value.get("metadata") or {}
    # wa_id is the international number without "+" (Mexico's carries the old mobile "1");
    # domain.identity turns it into E.164. Anything but digits is kept as sent, never
    # stripped into a number (it could be someone else's), so it identifies no contact.
    number = "+" + sender if sender.isascii() and sender.isdigit() else sender
    return InboundMessage(
        channel="whatsapp",
        provider=PROVIDER,
        external_id=str(message_id),
        sender=Identity(kind="phone", value=number, raw=sender),
        sender_name=names.get(sender),
        sent_at=_timestamp(message.get("timestamp")),
        kind=str(message.get("type") or "unknown"),
        text=_text(message),
        attachments=_attachments(message),
        thread_key=number,
        recipient=metadata.get("phone_number_id"),
        payload={"message": message, "metadata": metadata, "contacts": value.get("contacts")},
    )


def _status(status: dict[str, Any]) -> StatusUpdate:
    if not status.get("id") or not status.get("status"):
        raise PayloadError("a status lacks 'id' or 'status'")
    return StatusUpdate(
        provider=PROVIDER,
        message_id=str(status["id"]),
        status=str(status["status"]),
        occurred_at=_timestamp(status.get("timestamp")),
        recipient=status.get("recipient_id"),
        errors=tuple(e for e in as_list(status.get("errors")) if isinstance(e, dict)),
    )


@shape_checked
def parse(req: InboundRequest) -> Delivery:
    """Every message and receipt of a notification (several entries and changes may come).

    :raise PayloadError: not a WhatsApp Business Account notification.
    """
    body = load_json(req.raw)
    if not isinstance(body, dict) or body.get("object") != "whatsapp_business_account":
        raise PayloadError("not a whatsapp_business_account notification")
    messages: list[InboundMessage] = []
    statuses: list[StatusUpdate] = []
    if not isinstance(body.get("entry"), list):
        raise PayloadError("'entry' is not a list")
    try:
        for entry in body["entry"]:
            for change in as_list(as_dict(entry).get("changes")):
                if change.get("field") != "messages":
                    continue  # other subscriptions (templates, quality) carry no messages
                value = change.get("value") or {}
                messages.extend(_message(m, value) for m in as_list(value.get("messages")))
                statuses.extend(_status(s) for s in as_list(value.get("statuses")))
    except (AttributeError, TypeError):
        raise PayloadError("the notification does not have the documented shape") from None
    return Delivery(messages=tuple(messages), statuses=tuple(statuses))
