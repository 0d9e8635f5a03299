"""Twilio WhatsApp and SMS webhooks, signed with X-Twilio-Signature.

Pure code: must not import Flask, werkzeug or the database.
"""

from __future__ import annotations

from datetime import UTC, datetime

from twilio.request_validator import RequestValidator

from service.domain.messages import (
    Attachment,
    Channel,
    Delivery,
    Identity,
    InboundMessage,
    StatusUpdate,
)
from webhooks.inbound import InboundRequest, PayloadError, SignatureError, shape_checked

PROVIDER = "twilio"


def signed_url(req: InboundRequest, public_base_url: str | None) -> str:
    """The URL Twilio signed. Behind a proxy the app sees another scheme/host, so the public
    base URL (``PUBLIC_BASE_URL``) replaces them, keeping path and query."""
    if not public_base_url:
        return req.url
    scheme_end = req.url.find("://")
    path_start = req.url.find("/", scheme_end + 3) if scheme_end >= 0 else 0
    tail = req.url[path_start:] if path_start >= 0 else "/"
    return public_base_url.rstrip("/") + tail


def verify(req: InboundRequest, auth_token: str, public_base_url: str | None = None) -> None:
    """:raise SignatureError: missing or wrong X-Twilio-Signature.
    :raise PayloadError: an unreadable form, or a field name repeated.
    """
    signature = req.header("X-Twilio-Signature")
    if not signature:
        raise SignatureError("X-Twilio-Signature is missing")
    # The same mapping parse() reads (req.form() refuses a repeated name), so the fields
    # checked here are the fields stored.
    if not RequestValidator(auth_token).validate(
        signed_url(req, public_base_url), req.form(), signature
    ):
        raise SignatureError("X-Twilio-Signature does not match")


@shape_checked
def parse(req: InboundRequest, now: datetime | None = None) -> Delivery:
    """One message, or one status callback.

    :raise PayloadError: no MessageSid or From, or a field name repeated.
    """
    fields = req.form()
    sid = fields.get("MessageSid") or fields.get("SmsSid")
    arrived = now or datetime.now(UTC)
    status = fields.get("MessageStatus") or fields.get("SmsStatus")
    if sid and status and status != "received" and not fields.get("Body"):
        return Delivery(
            statuses=(StatusUpdate(PROVIDER, sid, status, arrived, recipient=fields.get("To")),)
        )
    sender = fields.get("From", "")
    if not sid or not sender:
        raise PayloadError("MessageSid and From are required")
    channel: Channel = "whatsapp" if sender.startswith("whatsapp:") else "sms"
    number = sender.removeprefix("whatsapp:")
    try:
        media_count = int(fields.get("NumMedia") or 0)
    except ValueError:
        raise PayloadError("NumMedia is not a number") from None
    attachments = tuple(
        Attachment(ref=fields.get(f"MediaUrl{i}"), content_type=fields.get(f"MediaContentType{i}"))
        for i in range(min(media_count, 10))
        if fields.get(f"MediaUrl{i}")
    )
    message = InboundMessage(
        channel=channel,
        provider=PROVIDER,
        external_id=sid,
        sender=Identity(kind="phone", value=number, raw=sender),
        sender_name=fields.get("ProfileName") or None,
        sent_at=arrived,
        kind=(fields.get("MessageType") or ("media" if attachments else "text")).lower(),
        text=fields.get("Body") or None,
        attachments=attachments,
        thread_key=number,
        recipient=fields.get("To"),
        payload=fields,
    )
    return Delivery(messages=(message,))
