"""SendGrid Inbound Parse (multipart/form-data), protected by HTTP basic auth in the URL.

Each field is decoded with the charset that ``charsets`` declares (never assumed UTF-8).
Pure code: must not import Flask, werkzeug or the database.
"""

from __future__ import annotations

import email.errors
import email.parser
import email.policy
from datetime import UTC, datetime

from service.domain.messages import Attachment, Delivery, Identity, InboundMessage
from webhooks.email.threading import parse_date, split_address, thread_key
from webhooks.inbound import (
    InboundRequest,
    PayloadError,
    decode_text,
    load_json,
    multipart_fields,
    shape_checked,
)
from webhooks.signatures import check_basic_auth, sha256_hex

PROVIDER = "sendgrid"


def verify(req: InboundRequest, user: str, password: str) -> None:
    """:raise SignatureError: missing or wrong basic auth."""
    check_basic_auth(req, user, password)


@shape_checked
def parse(req: InboundRequest) -> Delivery:
    """:raise PayloadError: not multipart, or no sender."""
    raw, uploads = multipart_fields(req)
    files = [
        Attachment(
            name=f.filename,
            content_type=f.content_type,
            size=len(f.data),
            sha256=sha256_hex(f.data),
            data=f.data,
        )
        for f in uploads
    ]
    try:
        charsets = load_json(decode_text(raw.get("charsets", b"{}"), "utf-8"))
    except PayloadError:
        charsets = {}
    charsets = charsets if isinstance(charsets, dict) else {}

    def field(name: str) -> str:
        return decode_text(raw.get(name, b""), str(charsets.get(name) or "utf-8"))

    if "email" in raw and "from" not in raw:
        return _parse_raw_mime(raw["email"], files)
    headers = email.parser.HeaderParser(policy=email.policy.compat32).parsestr(field("headers"))
    name, address = split_address(field("from") or headers.get("From"))
    try:
        envelope = load_json(field("envelope") or "{}")
    except PayloadError:
        envelope = {}
    if not address and isinstance(envelope, dict):
        address = envelope.get("from")
    if not address:
        raise PayloadError("no sender address in 'from' or 'envelope'")
    message_id = headers.get("Message-ID")
    return Delivery(
        messages=(
            InboundMessage(
                channel="email",
                provider=PROVIDER,
                external_id=message_id or "sha256:" + sha256_hex(req.raw),
                sender=Identity(kind="email", value=str(address).lower(), raw=str(address)),
                sender_name=name,
                sent_at=parse_date(headers.get("Date")) or datetime.now(UTC),
                kind="email",
                text=field("text") or None,
                attachments=tuple(files),
                thread_key=thread_key(
                    message_id, headers.get("In-Reply-To"), headers.get("References")
                ),
                recipient=field("to") or None,
                payload={
                    "subject": field("subject"),
                    "headers": field("headers"),
                    "envelope": envelope,
                    "charsets": charsets,
                    "SPF": field("SPF"),
                },
            ),
        )
    )


def _parse_raw_mime(data: bytes, files: list[Attachment]) -> Delivery:
    """The 'POST the raw, full MIME message' option: one ``email`` field."""
    message = email.parser.BytesParser(policy=email.policy.default).parsebytes(data)
    name, address = split_address(str(message.get("From", "")))
    if not address:
        raise PayloadError("the raw message has no From address")
    body = message.get_body(preferencelist=("plain",))
    try:
        text = body.get_content() if body is not None else None
    except (LookupError, email.errors.MessageError):
        # a charset Python does not know: the bytes as UTF-8, wrong characters replaced
        raw = body.get_payload(decode=True) if body is not None else None
        text = decode_text(raw, None) if isinstance(raw, bytes) else None
    message_id = str(message.get("Message-ID", "")) or None
    return Delivery(
        messages=(
            InboundMessage(
                channel="email",
                provider=PROVIDER,
                external_id=message_id or "sha256:" + sha256_hex(data),
                sender=Identity(kind="email", value=address.lower(), raw=address),
                sender_name=name,
                sent_at=parse_date(str(message.get("Date", ""))) or datetime.now(UTC),
                kind="email",
                text=text if isinstance(text, str) else None,
                attachments=tuple(files),
                thread_key=thread_key(
                    message_id,
                    str(message.get("In-Reply-To", "")),
                    str(message.get("References", "")),
                ),
                recipient=str(message.get("To", "")) or None,
                payload={"subject": str(message.get("Subject", ""))},
            ),
        )
    )
