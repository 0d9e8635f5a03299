"""Mailgun inbound routes (forward()): HMAC-SHA256 of timestamp+token, with a replay window.

Pure code: must not import Flask, werkzeug or the database.
"""

from __future__ import annotations

from datetime import UTC, datetime

from service.domain.messages import Attachment, Delivery, Identity, InboundMessage
from webhooks.email.threading import parse_date, split_address, thread_key
from webhooks.inbound import (
    InboundRequest,
    PayloadError,
    SignatureError,
    form_fields,
    load_json,
    shape_checked,
)
from webhooks.signatures import hmac_hex, same, sha256_hex

PROVIDER = "mailgun"
REPLAY_WINDOW_SECONDS = 300


def verify(
    req: InboundRequest, signing_key: str, now: datetime, window: int = REPLAY_WINDOW_SECONDS
) -> str:
    """Check the signature and the timestamp; return the token, which must be used once.

    :raise SignatureError: wrong signature, or a timestamp outside the replay window.
    """
    fields, _ = form_fields(req)
    timestamp, token = fields.get("timestamp", ""), fields.get("token", "")
    if not timestamp or not token:
        raise SignatureError("timestamp and token are required")
    if not same(fields.get("signature"), hmac_hex(signing_key, (timestamp + token).encode())):
        raise SignatureError("the signature does not match")
    try:
        age = abs(now.timestamp() - int(timestamp))
    except ValueError:
        raise SignatureError("the timestamp is not a number") from None
    if age > window:
        raise SignatureError("the timestamp is outside the replay window")
    return token


@shape_checked
def parse(req: InboundRequest) -> Delivery:
    """:raise PayloadError: no sender."""
    fields, files = form_fields(req)
    sender = (fields.get("sender") or "").strip().lower()
    name, from_address = split_address(fields.get("from"))
    address = sender or (from_address or "").lower()
    if not address:
        raise PayloadError("sender is missing")
    headers: dict[str, str] = {}
    try:
        for pair in load_json(fields.get("message-headers") or "[]"):
            headers.setdefault(str(pair[0]).lower(), str(pair[1]))
    except (PayloadError, TypeError, IndexError, KeyError):
        headers = {}
    message_id = fields.get("Message-Id") or headers.get("message-id")
    in_reply_to = fields.get("In-Reply-To") or headers.get("in-reply-to")
    references = fields.get("References") or headers.get("references")
    try:
        sent_at = datetime.fromtimestamp(int(fields.get("timestamp", "")), tz=UTC)
    except (ValueError, OverflowError, OSError):
        sent_at = parse_date(headers.get("date")) or datetime.now(UTC)
    text = fields.get("stripped-text") or fields.get("body-plain") or None
    kept = {k: v for k, v in fields.items() if k not in ("body-html", "stripped-html")}
    message = InboundMessage(
        channel="email",
        provider=PROVIDER,
        external_id=message_id or "sha256:" + sha256_hex(req.raw),
        sender=Identity(kind="email", value=address, raw=fields.get("sender") or address),
        sender_name=name,
        sent_at=sent_at,
        kind="email",
        text=text,
        attachments=tuple(
            Attachment(
                name=f.filename,
                content_type=f.content_type,
                size=len(f.data),
                sha256=sha256_hex(f.data),
                data=f.data,
            )
            for f in files
        ),
        thread_key=thread_key(message_id, in_reply_to, references),
        recipient=fields.get("recipient"),
        payload={"fields": kept, "subject": fields.get("subject")},
    )
    return Delivery(messages=(message,))
